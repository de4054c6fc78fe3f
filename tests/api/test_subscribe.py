"""Subscribe messages (订阅消息) end to end: the mini-program reports what the resident accepted in
wx.requestSubscribeMessage, each acceptance lets one notice go out as a subscribe message through the real channel
and the WeChat stand-in on a real port, and after that the Official Account carries the notices, or, for a resident
the Official Account does not know, the notice fails saying why."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from sqlmodel import Session, col, select

from bot import jobs
from storage import subscriptions
from storage.models import Outbox, OutboxKind, OutboxStatus, Person
from tests.api.conftest import MP_SECRET, Phone, Tencent, sign_in
from tests.api.test_resident_api import worker_does

TEMPLATE = "tmpl-mp-progress"
OA_TEMPLATE = "tpl-oa-progress"


@pytest.fixture
def app(make_app, tencent: Tencent) -> Flask:
    """The app sending for real (delivery "live") to the stand-in, with both notice templates configured."""
    return make_app(
        wechat_api_base=f"{tencent.url}/cgi-bin/",
        wechat_mp_secret=MP_SECRET,
        wechat_mp_notice_template_id=TEMPLATE,
        wechat_notice_template_id=OA_TEMPLATE,
        delivery="live",
        http_timeout=(1.0, 2.0),
    )


def accept(phone: Phone, tencent: Tencent, openid: str, *templates: str, key: str | None = None) -> dict:
    """What the mini-program does when wx.requestSubscribeMessage answers "accept": WeChat counts it, and the
    client tells us."""
    tencent.api.accept_subscribe(openid, list(templates))
    return subscribe(phone, *templates, key=key)


def subscribe(phone: Phone, *templates: str, key: str | None = None) -> dict:
    answer = phone.call(
        "POST",
        "/subscriptions",
        json={"accepted": list(templates)},
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def deliver_notices(rt) -> list[Outbox]:
    """Run the rq job for every pending resident notice, in order, as a worker would; the rows afterwards."""
    with Session(rt.engine) as s:
        pending = s.exec(
            select(Outbox.id)
            .where(Outbox.kind == OutboxKind.RESIDENT_NOTICE, Outbox.status == OutboxStatus.PENDING)
            .order_by(col(Outbox.id))
        ).all()
    for outbox_id in pending:
        jobs.deliver(outbox_id)
    with Session(rt.engine) as s:
        return list(s.exec(select(Outbox).where(col(Outbox.id).in_(pending)).order_by(col(Outbox.id))).all())


def subscribe_messages(tencent: Tencent, openid: str) -> list[dict]:
    return [m["body"] for m in tencent.api.sent(openid) if m["kind"] == "subscribe"]


def test_two_acceptances_are_two_subscribe_messages_and_the_third_notice_fails_saying_why(client, rt, demo, tencent):
    phone = sign_in(client, tencent, "mp-zhao")
    assert accept(phone, tencent, "mp-zhao", TEMPLATE) == {"credits": {TEMPLATE: 1}, "ignored": []}
    assert accept(phone, tencent, "mp-zhao", TEMPLATE, key="tap-2")["credits"] == {TEMPLATE: 2}
    assert subscribe(phone, TEMPLATE, key="tap-2")["credits"] == {TEMPLATE: 2}  # a retried request adds nothing
    number = phone.report("幸福小区3栋楼道灯坏了").get_json()["ticket"]["id"]

    worker_does(rt, f"接单 {number}")
    worker_does(rt, f"进展 {number} 已联系物业")
    worker_does(rt, f"办结 {number} 已更换灯泡")
    rows = deliver_notices(rt)

    assert [r.recipient for r in rows] == ["mp:mp-zhao"] * 3
    assert [(r.status, r.via) for r in rows] == [("sent", "subscribe"), ("sent", "subscribe"), ("failed", "")]
    assert "no subscribe credit left" in rows[2].last_error and "no Official Account" in rows[2].last_error
    sent = subscribe_messages(tencent, "mp-zhao")
    assert len(sent) == 2 and {m["template_id"] for m in sent} == {TEMPLATE}
    first = sent[0]["data"]
    assert first["character_string1"]["value"] == str(number) and first["phrase2"]["value"] == "已接单"
    assert "回复" not in first["thing3"]["value"]  # the chat's "reply 进度" line means nothing in the mini-program
    assert sent[0]["page"] == f"pages/ticket/ticket?id={number}"
    assert subscribe(phone)["credits"] == {TEMPLATE: 0}
    assert tencent.api.subscribe_credits("mp-zhao", TEMPLATE) == 0


def test_a_resident_with_both_apps_uses_a_credit_first_then_the_official_account(client, rt, demo, tencent, resident):
    resident.say("你好")
    tencent.api.user_messaged(resident.openid)  # WeChat saw it too: the customer-service window is open
    sign_in(client, tencent, resident.openid, web=True, unionid="union-wang")
    phone = sign_in(client, tencent, "mp-wang", unionid="union-wang")
    accept(phone, tencent, "mp-wang", TEMPLATE)
    number = phone.report("幸福小区3栋楼道灯坏了").get_json()["ticket"]["id"]

    # Both written while a credit was left: the first spends it, the second finds none and goes by the chat.
    worker_does(rt, f"接单 {number}")
    worker_does(rt, f"进展 {number} 已联系物业")
    rows = deliver_notices(rt)
    assert [r.recipient for r in rows] == ["mp:mp-wang", "mp:mp-wang"]
    assert [(r.status, r.via) for r in rows] == [("sent", "subscribe"), ("sent", "custom")]
    # With no credit left the notice is written to the Official Account at once.
    worker_does(rt, f"办结 {number} 已更换灯泡")
    (resolved,) = deliver_notices(rt)
    assert (resolved.recipient, resolved.status, resolved.via) == (resident.openid, "sent", "custom")

    assert len(subscribe_messages(tencent, "mp-wang")) == 1
    assert [m["kind"] for m in tencent.api.sent(resident.openid)] == ["custom", "custom"]


def test_when_wechat_says_there_is_no_subscription_our_credits_go_to_zero_and_the_chat_carries_it(
    client, rt, demo, tencent, resident
):
    sign_in(client, tencent, resident.openid, web=True, unionid="union-wang")
    phone = sign_in(client, tencent, "mp-wang", unionid="union-wang")
    accept(phone, tencent, "mp-wang", TEMPLATE)
    subscribe(phone, TEMPLATE)  # a client that reports an acceptance WeChat never counted
    number = phone.report("幸福小区3栋楼道灯坏了").get_json()["ticket"]["id"]

    worker_does(rt, f"接单 {number}")
    (accepted,) = deliver_notices(rt)
    worker_does(rt, f"进展 {number} 已联系物业")
    (progress,) = deliver_notices(rt)

    assert (accepted.via, progress.recipient, progress.status) == ("subscribe", "mp:mp-wang", "sent")
    assert progress.via == "template"  # the resident never wrote to the account: no customer-service window
    assert [m["kind"] for m in tencent.api.sent(resident.openid)] == ["template"]
    assert tencent.api.sent(resident.openid)[0]["body"]["template_id"] == OA_TEMPLATE
    assert subscribe(phone)["credits"] == {TEMPLATE: 0}


def test_a_43101_for_a_mini_program_only_resident_fails_the_notice_and_zeroes_the_credits(client, rt, demo, tencent):
    phone = sign_in(client, tencent, "mp-zhao")
    accept(phone, tencent, "mp-zhao", TEMPLATE)
    accept(phone, tencent, "mp-zhao", TEMPLATE)
    number = phone.report("幸福小区3栋楼道灯坏了").get_json()["ticket"]["id"]
    tencent.api.inject(43101, "subscribe/send")  # the resident turned notices off in WeChat's settings

    worker_does(rt, f"接单 {number}")
    (row,) = deliver_notices(rt)

    assert row.status == "failed" and "43101" in row.last_error and "no Official Account" in row.last_error
    assert subscribe_messages(tencent, "mp-zhao") == []
    assert subscribe(phone)["credits"] == {TEMPLATE: 0}


def test_a_busy_wechat_gives_the_credit_back_and_the_retry_sends_it_once(client, rt, demo, tencent):
    phone = sign_in(client, tencent, "mp-zhao")
    accept(phone, tencent, "mp-zhao", TEMPLATE)
    number = phone.report("幸福小区3栋楼道灯坏了").get_json()["ticket"]["id"]
    tencent.api.inject(-1, "subscribe/send")
    worker_does(rt, f"接单 {number}")

    (row,) = deliver_notices(rt)
    assert row.status == "pending" and "wechat -1" in row.last_error
    assert subscribe(phone)["credits"] == {TEMPLATE: 1}
    with Session(rt.engine) as s:  # the backoff is over
        s.get(Outbox, row.id).locked_until = None
        s.commit()
    assert jobs.deliver(row.id) == "sent"
    assert jobs.deliver(row.id) != "sent"
    assert len(subscribe_messages(tencent, "mp-zhao")) == 1
    assert subscribe(phone)["credits"] == {TEMPLATE: 0}


def test_unfollowing_the_official_account_stops_its_notices_not_the_accepted_ones(client, rt, demo, tencent, resident):
    sign_in(client, tencent, resident.openid, web=True, unionid="union-wang")
    phone = sign_in(client, tencent, "mp-wang", unionid="union-wang")
    accept(phone, tencent, "mp-wang", TEMPLATE)
    with Session(rt.engine) as s:  # the resident unfollowed the Official Account
        person = s.exec(select(Person).where(Person.openid == resident.openid)).one()
        person.subscribed = False
        s.add(person)
        s.commit()
    number = phone.report("幸福小区3栋楼道灯坏了").get_json()["ticket"]["id"]

    worker_does(rt, f"接单 {number}")
    worker_does(rt, f"进展 {number} 已联系物业")
    rows = deliver_notices(rt)

    assert [(r.status, r.via) for r in rows] == [("sent", "subscribe"), ("failed", "")]
    assert tencent.api.sent(resident.openid) == [] and len(subscribe_messages(tencent, "mp-wang")) == 1


def test_a_resident_who_never_accepted_gets_no_notice_rows(client, rt, demo, tencent):
    phone = sign_in(client, tencent, "mp-zhao")
    number = phone.report("幸福小区3栋楼道灯坏了").get_json()["ticket"]["id"]
    worker_does(rt, f"接单 {number}")
    assert deliver_notices(rt) == []


def test_only_our_template_counts_and_no_more_than_fifty_are_kept(client, rt, demo, tencent):
    phone = sign_in(client, tencent, "mp-zhao")
    answer = subscribe(phone, "someone-elses", TEMPLATE, TEMPLATE)
    assert answer == {"credits": {TEMPLATE: 1}, "ignored": ["someone-elses"]}  # once per request, as in WeChat
    for _ in range(subscriptions.MAX_CREDITS + 5):
        last = subscribe(phone, TEMPLATE)
    assert last["credits"] == {TEMPLATE: subscriptions.MAX_CREDITS}


def test_the_page_m_alone_cannot_subscribe_and_bad_bodies_are_refused(client, demo, tencent, resident):
    web = sign_in(client, tencent, resident.openid, web=True)
    refused = web.call("POST", "/subscriptions", json={"accepted": [TEMPLATE]})
    assert refused.status_code == 409 and "小程序" in refused.get_json()["message"]
    phone = sign_in(client, tencent, "mp-zhao")
    assert phone.call("POST", "/subscriptions", json={"accepted": TEMPLATE}).status_code == 422
    assert phone.call("POST", "/subscriptions", json={"accepted": [""]}).status_code == 422
    assert phone.call("POST", "/subscriptions", json={}).status_code == 422
    assert client.post("/api/v1/subscriptions", json={"accepted": [TEMPLATE]}).status_code == 401
    assert subscribe(phone)["credits"] == {}


def test_with_subscribe_messages_off_nothing_is_counted(make_app, tencent, demo):
    off = make_app(wechat_api_base=f"{tencent.url}/cgi-bin/", wechat_mp_secret=MP_SECRET)
    phone = sign_in(off.test_client(), tencent, "mp-zhao")
    assert subscribe(phone, TEMPLATE) == {"credits": {}, "ignored": [TEMPLATE]}
