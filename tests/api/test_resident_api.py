"""The resident app (随手拍) through /api/v1: sign-in with WeChat, reporting with a pin and photos, following and
rating, with the chat's rules, and bad input refused with nothing written."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

from sqlmodel import Session, select

from handlers import conversation
from handlers.types import Message
from storage.models import InboundMessage, Outbox, Person, Photo, Status, Ticket, utcnow
from tests.api.conftest import Phone, conforms, jpeg, sign_in

# Inside G01's outline (幸福小区1-4栋), and in no grid at all.
IN_G01 = {"lat": 30.2738, "lng": 120.1550}
NOWHERE = {"lat": 31.5, "lng": 121.9}


def tickets_of(rt) -> list[Ticket]:
    with Session(rt.engine) as s:
        return list(s.exec(select(Ticket).order_by(Ticket.id)).all())


def worker_does(rt, text: str, worker: str = "wecom:zhangwei") -> str:
    with Session(rt.engine) as s:
        person = s.exec(select(Person).where(Person.wecom_userid == worker.removeprefix("wecom:"))).one()
    return conversation.act_for(rt.engine, person.id, text, uuid.uuid4().hex).reply.text


def test_a_resident_reports_with_a_pin_and_the_grid_gets_the_card(client, rt, demo, tencent):
    phone = sign_in(client, tencent, "mp-wang")
    answer = phone.report("路灯不亮了，晚上很黑", **IN_G01)
    assert answer.status_code == 201
    body = answer.get_json()
    assert "已派给 幸福小区第1网格" in body["message"] and "回复" not in body["message"]  # the app has buttons
    ticket = body["ticket"]
    assert ticket["status"] == "assigned" and ticket["category_name"] == "市政设施"
    assert ticket["handler"].startswith("幸福小区第1网格")
    assert ticket["lat"] == IN_G01["lat"] and ticket["timeline"][0]["what"] == "已受理"
    assert ticket["address"] == "地图选点 30.27380,120.15500"  # what the card's 地点 says, not 未知
    with Session(rt.engine) as s:
        stored = s.get(Ticket, ticket["id"])
        cards = s.exec(select(Outbox).where(Outbox.ticket_id == ticket["id"], Outbox.recipient == "wrk-chat-g01"))
        assert stored.channel == "miniprogram" and cards.first() is not None


def test_the_same_report_sent_twice_with_one_key_makes_one_ticket(client, rt, demo, tencent):
    phone = sign_in(client, tencent, "mp-wang")
    first = phone.report("幸福小区3栋楼道灯坏了", key="k-1")
    again = phone.report("幸福小区3栋楼道灯坏了", key="k-1")
    assert first.status_code == again.status_code == 201
    assert first.get_json()["ticket"]["id"] == again.get_json()["ticket"]["id"]
    assert len(tickets_of(rt)) == 1


def test_an_address_routes_like_a_chat_message_and_without_any_place_the_centre_dispatches(client, rt, demo, tencent):
    phone = sign_in(client, tencent, "mp-wang")
    by_address = phone.report("垃圾桶满了没人清", address="阳光花园2栋").get_json()["ticket"]
    assert by_address["handler"].startswith("阳光花园")
    unplaced = phone.report("马路上有个大坑很危险", **NOWHERE)
    assert unplaced.status_code == 201
    assert "指挥中心将尽快派给所属网格" in unplaced.get_json()["message"]
    assert unplaced.get_json()["ticket"]["status"] == "new"


def test_the_official_account_page_is_the_chat_resident_and_sees_the_chat_tickets(client, rt, demo, tencent, resident):
    resident.say("幸福小区3栋楼道灯坏了好几天了")
    phone = sign_in(client, tencent, resident.openid, web=True)
    mine = phone.call("GET", "/tickets").get_json()
    assert [t["label"] for t in mine["items"]] == ["物业房屋·楼道灯"] and mine["next"] is None


def test_one_unionid_makes_the_mini_program_and_the_official_account_one_resident(client, rt, demo, tencent, resident):
    resident.say("幸福小区3栋楼道灯坏了好几天了")
    sign_in(client, tencent, resident.openid, web=True, unionid="union-wang")
    phone = sign_in(client, tencent, "mp-wang", unionid="union-wang")
    assert len(phone.call("GET", "/tickets").get_json()["items"]) == 1


def test_a_phone_number_wechat_vouches_for_joins_the_chat_residents_tickets(client, rt, demo, tencent, wechat_user):
    # 王秀兰 is on the roster with 13912345678 and writes to the Official Account.
    wechat_user("o-demo-resident-1").say("幸福小区3栋楼道灯坏了好几天了")
    phone = sign_in(client, tencent, "mp-wang")
    assert phone.call("GET", "/tickets").get_json()["items"] == []
    answer = phone.call("POST", "/me/phone", json={"code": tencent.api.phone_code("13912345678")})
    assert answer.status_code == 200 and answer.get_json()["me"]["phone"] == "139****5678"
    joined = Phone(client, answer.get_json()["token"])
    assert len(joined.call("GET", "/tickets").get_json()["items"]) == 1
    # The old token stood for the person merged away.
    assert phone.call("GET", "/tickets").status_code == 401


def test_codes_are_single_use_and_a_forged_or_missing_token_is_401(client, demo, tencent):
    code = tencent.api.wx_login("mp-wang")
    assert client.post("/api/v1/session", json={"code": code}).status_code == 200
    reused = client.post("/api/v1/session", json={"code": code})
    conforms(reused, "/session", "post")
    assert reused.status_code == 401 and "重新进入" in reused.get_json()["message"]
    assert client.get("/api/v1/tickets").status_code == 401
    forged = client.get("/api/v1/tickets", headers={"Authorization": "Bearer eyJwIjoxfQ.forged.sig"})
    assert forged.status_code == 401 and forged.get_json()["error"] == "signed_out"


def test_wechat_out_of_reach_at_sign_in_is_503_in_words(make_app, demo):
    app = make_app(wechat_api_base="http://127.0.0.1:9/cgi-bin/", wechat_mp_secret="x", http_timeout=(0.5, 0.5))
    answer = app.test_client().post("/api/v1/session", json={"code": "any"})
    assert answer.status_code == 503 and "稍后再试" in answer.get_json()["message"]


def test_another_residents_ticket_is_not_found_for_reading_or_acting(client, rt, demo, tencent):
    mine = sign_in(client, tencent, "mp-wang").report("幸福小区3栋楼道灯坏了").get_json()["ticket"]["id"]
    stranger = sign_in(client, tencent, "mp-stranger")
    assert stranger.ticket(mine).status_code == 404
    assert stranger.act(mine, "cancel").status_code == 404
    assert stranger.act(mine, "rating", score=1).status_code == 404
    assert tickets_of(rt)[0].status == Status.ASSIGNED


def test_a_number_no_ticket_can_have_is_refused_not_a_server_error(client, rt, demo, tencent):
    # The fuzzer found these: a number past a database integer could not even be bound (SQLite) or compared
    # (PostgreSQL), and the answer was 500.
    phone = sign_in(client, tencent, "mp-wang")
    phone.report("幸福小区3栋楼道灯坏了")
    huge = 5559761728174232174592
    assert phone.call("GET", f"/tickets?before={huge}&limit=1", "/tickets").status_code == 400
    assert phone.ticket(huge).status_code == 404
    assert phone.ticket(2_147_483_648).status_code == 404
    assert phone.act(huge, "urge").status_code == 404
    assert phone.call("GET", f"/photos/{huge}", "/photos/{photo_id}").status_code == 404
    assert phone.call("GET", "/tickets?before=2147483647&limit=1", "/tickets").status_code == 200
    assert len(tickets_of(rt)) == 1


def test_follow_to_resolved_and_rate_it_then_a_second_rating_is_refused(client, rt, demo, tencent):
    phone = sign_in(client, tencent, "mp-wang")
    number = phone.report("幸福小区3栋楼道灯坏了").get_json()["ticket"]["id"]
    assert phone.act(number, "rating", score=5).status_code == 409  # not resolved yet: nothing changes
    worker_does(rt, f"接单 {number}")
    worker_does(rt, f"办结 {number} 已更换灯泡")
    # and the photo of the new bulb, sent in the group right after
    after = "https://wework.example/after.jpg"
    photo = Message(channel="wecom", dedupe_key="img-1", sender="zhangwei", kind="image", pic_url=after, media_id="m1")
    conversation.process(rt.engine, photo)
    seen = phone.ticket(number).get_json()
    assert seen["status"] == "resolved" and seen["can"]["rate"] and seen["to_rate"]
    assert seen["photos"] == [{"id": None, "url": after, "after": True}]
    assert {"what": "已办结", "note": "已更换灯泡"}.items() <= seen["timeline"][-1].items()
    rated = phone.act(number, "rating", score=5, note="很快")
    assert rated.status_code == 200 and rated.get_json()["ticket"]["status"] == "closed"
    again = phone.act(number, "rating", score=1)
    assert again.status_code == 409 and "已结案" in again.get_json()["message"]
    assert "回复" not in phone.ticket(number).get_json()["progress"]


def test_an_unhappy_rating_reopens_and_urge_is_once_in_two_hours(client, rt, demo, tencent):
    phone = sign_in(client, tencent, "mp-wang")
    number = phone.report("幸福小区3栋楼道灯坏了").get_json()["ticket"]["id"]
    assert phone.act(number, "urge").status_code == 200
    again = phone.act(number, "urge")
    assert again.status_code == 409 and "刚催办过" in again.get_json()["message"]
    worker_does(rt, f"接单 {number}")
    worker_does(rt, f"办结 {number} 已处理")
    assert phone.act(number, "rating", score=1).get_json()["ticket"]["status"] == "reopened"


def test_cancel_is_the_first_reporters_and_a_linked_one_is_told_why_not(client, rt, demo, tencent):
    first = sign_in(client, tencent, "mp-wang")
    number = first.report("幸福小区3栋楼道灯坏了好几天了").get_json()["ticket"]["id"]
    second = sign_in(client, tencent, "mp-li")
    linked = second.report("幸福小区3栋楼道灯坏了好几天了，一直没人修")
    assert linked.status_code == 200 and linked.get_json()["linked"]
    assert linked.get_json()["ticket"]["id"] == number and not linked.get_json()["ticket"]["can"]["cancel"]
    refused = second.act(number, "cancel")
    assert refused.status_code == 409 and "其他居民先反映" in refused.get_json()["message"]
    assert first.act(number, "cancel").get_json()["ticket"]["status"] == "cancelled"


def test_a_greeting_is_not_a_ticket(client, rt, demo, tencent):
    answer = sign_in(client, tencent, "mp-wang").report("你好")
    assert answer.status_code == 422 and "描述遇到的问题" in answer.get_json()["message"]
    assert tickets_of(rt) == []


def test_over_the_hourly_limit_a_report_is_refused_at_once_and_nothing_is_written(make_app, tencent, demo):
    from tests.api.conftest import MP_SECRET

    app = make_app(wechat_api_base=f"{tencent.url}/cgi-bin/", wechat_mp_secret=MP_SECRET, sender_limit_hour=2)
    phone = sign_in(app.test_client(), tencent, "mp-flood")
    places = ["幸福小区1栋", "阳光花园2栋", "幸福小区6栋"]
    answers = [phone.report(f"{place}门口垃圾堆了很多天") for place in places]
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert "拨打110" in answers[2].get_json()["message"]
    with Session(app.extensions["wanggetong"].engine) as s:
        assert len(s.exec(select(Ticket)).all()) == 2
        assert len(s.exec(select(InboundMessage).where(InboundMessage.channel == "api")).all()) == 2


def test_bad_bodies_get_a_json_answer_in_chinese_and_change_nothing(client, rt, demo, tencent):
    phone = sign_in(client, tencent, "mp-wang")
    cases = [
        ({"data": "{not json", "content_type": "application/json"}, 400),
        ({"data": "text=路灯坏了", "content_type": "application/x-www-form-urlencoded"}, 415),
        ({"json": {"text": "路灯坏了", "admin": True}}, 422),
        ({"json": {"text": ""}}, 422),
        ({"json": {"text": "路灯坏了", "lat": 30.2}}, 422),
        ({"json": {"text": "路灯坏了", "photos": list(range(1, 11))}}, 422),
        ({"json": {"text": "灯" * 70000}}, 413),
    ]
    for kwargs, status in cases:
        answer = phone.call("POST", "/tickets", **kwargs)
        assert answer.status_code == status, (kwargs, answer.get_json())
        assert answer.get_json()["message"]
    assert tickets_of(rt) == []
    unknown = client.get("/api/v1/nothing-here")
    assert unknown.status_code == 404 and unknown.get_json()["error"] == "not_found"


def test_a_photo_goes_with_the_report_and_its_link_is_signed(client, rt, demo, tencent):
    phone = sign_in(client, tencent, "mp-wang")
    uploaded = phone.upload(jpeg())
    assert uploaded.status_code == 201
    photo = uploaded.get_json()["id"]
    answer = phone.report("幸福小区3栋楼道灯坏了", photos=[photo]).get_json()
    [shown] = answer["ticket"]["photos"]
    image = client.get(shown["url"])
    assert image.status_code == 200 and image.mimetype == "image/jpeg" and image.data[:2] == b"\xff\xd8"
    assert client.get(shown["url"].replace("sig=", "sig=0")).status_code == 403
    # A photo already with a ticket cannot be named again, and nothing is written then.
    again = phone.report("阳光花园2栋门口垃圾很多", photos=[photo])
    assert again.status_code == 422 and len(tickets_of(rt)) == 1


def test_the_photo_knows_where_it_was_taken_and_places_the_report(client, rt, demo, tencent):
    exif = jpeg_exif_at(IN_G01["lat"], IN_G01["lng"])
    phone = sign_in(client, tencent, "mp-wang")
    uploaded = phone.upload(jpeg(exif=exif)).get_json()
    assert uploaded["located"]
    ticket = phone.report("路灯不亮了", photos=[uploaded["id"]]).get_json()["ticket"]
    assert ticket["handler"].startswith("幸福小区第1网格")


def jpeg_exif_at(lat: float, lng: float):  # type: ignore[no-untyped-def]
    from PIL import Image

    def dms(value: float) -> tuple[float, float, float]:
        degrees = int(value)
        minutes = int((value - degrees) * 60)
        return (degrees, minutes, round(((value - degrees) * 60 - minutes) * 60, 4))

    exif = Image.Exif()
    gps = {1: "N", 2: dms(lat), 3: "E", 4: dms(lng)}
    exif[0x8825] = gps
    return exif


def test_what_is_not_a_photo_and_what_is_too_big_are_refused_and_not_kept(client, rt, demo, tencent, tmp_path):
    phone = sign_in(client, tencent, "mp-wang")
    assert phone.upload(b"PK\x03\x04" + b"\0" * 100, "x.jpg").status_code == 415
    big = phone.upload(b"\xff\xd8\xff" + b"\0" * (11 * 1024 * 1024))
    assert big.status_code == 413 and "10 MB" in big.get_json()["message"]
    with Session(rt.engine) as s:
        assert s.exec(select(Photo)).all() == []
    assert not any((tmp_path / "photos").rglob("*.jpg"))


def test_the_document_is_served_and_names_every_route(client, app):
    served = client.get("/api/v1/openapi.json").get_json()
    assert served["openapi"].startswith("3.1")
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi"
    }
    assert routes == set(served["paths"])


def test_suggest_tells_the_category_and_the_grid_while_typing(client, demo, tencent):
    phone = sign_in(client, tencent, "mp-wang")
    guess = phone.call("GET", "/suggest", query_string={"text": "幸福小区3栋楼道灯坏了"}).get_json()
    assert guess["category_name"] == "物业房屋" and guess["grid"]["code"] == "G01"
    unknown = phone.call("GET", "/suggest", query_string={"text": "灯坏了", **NOWHERE}).get_json()
    assert unknown["grid"] is None and "地图上选位置" in unknown["hint"]


def test_the_map_shows_the_grids_around_the_pin_with_their_outlines(client, demo, tencent):
    phone = sign_in(client, tencent, "mp-wang")
    around = phone.call("GET", "/map", query_string=IN_G01).get_json()
    codes = [g["code"] for g in around["grids"]]
    assert "G01" in codes and "G02" in codes and len(around["grids"][0]["outline"]) >= 3
    far = phone.call("GET", "/map", query_string=NOWHERE).get_json()
    assert far["grids"] == []


def test_a_photo_no_report_named_is_deleted_after_an_hour_file_and_row(client, rt, demo, tencent, tmp_path):
    from datetime import timedelta

    import time_machine

    from bot import jobs, runtime

    phone = sign_in(client, tencent, "mp-wang")
    kept = phone.upload(jpeg()).get_json()["id"]
    phone.report("幸福小区3栋楼道灯坏了", photos=[kept])
    phone.upload(jpeg(320, 240))
    assert len(list((tmp_path / "photos").rglob("*.jpg"))) == 2
    runtime.install(rt)
    assert jobs.sweep_photos() == 0  # not an hour yet
    with time_machine.travel(timedelta(minutes=61), tick=False):
        assert jobs.sweep_photos() == 1
    with Session(rt.engine) as s:
        assert [p.id for p in s.exec(select(Photo)).all()] == [kept]
    assert len(list((tmp_path / "photos").rglob("*.jpg"))) == 1


def test_the_group_card_links_to_the_residents_photos_which_open_without_a_sign_in(make_app, tencent, demo):
    from urllib.parse import urlsplit

    from bot import photolinks
    from bot.cards import template_card
    from handlers.cards import card_for
    from tests.api.conftest import MP_SECRET

    public = "https://grid.example.gov.cn"
    app = make_app(wechat_api_base=f"{tencent.url}/cgi-bin/", wechat_mp_secret=MP_SECRET, public_url=public)
    client, rt = app.test_client(), app.extensions["wanggetong"]
    phone = sign_in(client, tencent, "mp-wang")
    photo = phone.upload(jpeg()).get_json()["id"]
    number = phone.report("幸福小区3栋楼道灯坏了", photos=[photo]).get_json()["ticket"]["id"]
    with Session(rt.engine) as s:
        card = card_for(s, s.get(Ticket, number))
    rows = template_card(card, "t-1", photos_url=photolinks.ticket_page(rt.settings, number))["horizontal_content_list"]
    [row] = [r for r in rows if r["keyname"] == "照片"]
    assert row["value"] == "1张，点击查看" and row["type"] == 1 and row["url"].startswith(public)
    page = client.get(urlsplit(row["url"]).path)
    assert page.status_code == 200 and f"工单 {number} 的照片（1张）" in page.text
    src = re.search(r'src="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    assert client.get(src).mimetype == "image/jpeg"
    assert client.get(urlsplit(row["url"]).path + "x").status_code == 404


def test_wechat_content_safety_refuses_risky_text_and_flags_review_text_for_the_centre(client, rt, demo, tencent):
    phone = sign_in(client, tencent, "mp-wang")
    photo = phone.upload(jpeg()).get_json()["id"]
    risky = phone.report("幸福小区3栋楼道灯坏了 违禁词", photos=[photo])
    assert risky.status_code == 422 and "请修改后再提交" in risky.get_json()["message"]
    assert tickets_of(rt) == []
    with Session(rt.engine) as s:  # nor its photo, row or file
        assert s.exec(select(Photo)).all() == []
    assert not any((rt.settings.var_dir / "photos").rglob("*.jpg"))
    kept = phone.report("幸福小区3栋楼道灯坏了 待审词")
    assert kept.status_code == 201
    with Session(rt.engine) as s:
        flags = s.exec(select(Outbox).where(Outbox.event == "flagged")).all()
        assert [f.ticket_id for f in flags] == [kept.get_json()["ticket"]["id"]]


def test_with_the_content_check_out_of_reach_the_report_is_kept(client, rt, demo, tencent):
    phone = sign_in(client, tencent, "mp-wang")
    tencent.api.inject(path_suffix="msg_sec_check", errcode=-1, count=5)
    assert phone.report("幸福小区3栋楼道灯坏了").status_code == 201


def test_the_published_document_in_docs_is_the_one_served(client):
    published = (Path(__file__).parents[2] / "docs" / "openapi.json").read_text(encoding="utf-8")
    assert json.loads(published) == client.get("/api/v1/openapi.json").get_json(), "run `flask --app app api-doc`"


def test_a_photo_link_with_any_forged_signature_is_403(client, demo, tencent):
    phone = sign_in(client, tencent, "mp-wang")
    photo = phone.upload(jpeg()).get_json()["id"]
    for sig in ("0" * 32, "签名", "%00", ""):
        assert client.get(f"/api/v1/photos/{photo}?exp=9999999999&sig={sig}").status_code == 403


def test_a_resident_hammering_the_api_is_told_to_wait_a_minute(client, demo, tencent):
    from datetime import timedelta

    import time_machine

    import api

    phone = sign_in(client, tencent, "mp-wang")
    with time_machine.travel(utcnow().replace(second=5) + timedelta(minutes=1), tick=False):  # one minute window
        answers = [phone.call("GET", "/tickets").status_code for _ in range(api.CALLS_PER_MINUTE + 1)]
    assert answers[:-1] == [200] * api.CALLS_PER_MINUTE and answers[-1] == 429
    other = sign_in(client, tencent, "mp-li")  # one resident's calls never slow another
    assert other.call("GET", "/tickets").status_code == 200
