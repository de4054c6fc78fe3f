"""The /wecom callback as WeCom's servers use it for a self-built app: URL verification, grid workers' commands
in single chat, bad input, duplicate deliveries. WeCom's side is simulator.wecomapp (cryptography only)."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import event
from sqlmodel import func, select

from config import DEV_WECOM_AGENT_ID, DEV_WECOM_APP_AES_KEY, DEV_WECOM_APP_TOKEN, DEV_WECOM_CORP_ID
from handlers.conversation import process
from handlers.types import Message
from simulator.officialaccount import encrypt, signature
from simulator.wecomapp import WeComApp
from storage.models import InboundMessage, Outbox, Person, Status, Ticket, TicketEvent

# WeCom's published callback example (企业微信 回调配置 / 加解密方案说明).
DOC_TOKEN = "QDG6eK"
DOC_CORP_ID = "wx5823bf96d3bd56c7"
DOC_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
DOC_VERIFY = {
    "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
    "timestamp": "1409659589",
    "nonce": "263014780",
    "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
}
DOC_ECHO = "1616140317555161061"


def counts(session) -> tuple[int, ...]:
    session.expire_all()
    models = (Ticket, TicketEvent, InboundMessage, Outbox, Person)
    return tuple(session.exec(select(func.count()).select_from(m)).one() for m in models)


def as_query(params: dict[str, str]) -> str:
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())


@pytest.fixture
def wecom() -> WeComApp:
    return WeComApp(
        token=DEV_WECOM_APP_TOKEN,
        aes_key=DEV_WECOM_APP_AES_KEY,
        corp_id=DEV_WECOM_CORP_ID,
        agent_id=int(DEV_WECOM_AGENT_ID),
    )


class Member:
    """Someone in the corp writing to the app in single chat, through the real encrypted callback."""

    def __init__(self, client: FlaskClient, wecom: WeComApp, userid: str) -> None:
        self.client, self.wecom, self.userid = client, wecom, userid

    def post(self, fields: dict, **signing) -> tuple[int, str]:
        query, body = self.wecom.signed(fields, **signing)
        response = self.client.post(f"/wecom?{query}", data=body, content_type="text/xml")
        return response.status_code, response.get_data(as_text=True)

    def send(self, fields: dict) -> dict[str, str]:
        """Deliver and return the opened reply (empty when the server answered an empty 200)."""
        status, body = self.post(fields)
        assert status == 200, body
        return self.wecom.open_reply(body)

    def say(self, text: str, msg_id: int | None = None) -> str:
        return self.send(self.wecom.text(self.userid, text, msg_id)).get("Content", "")


@pytest.fixture
def member(client, wecom, demo):  # type: ignore[no-untyped-def]
    def make(userid: str) -> Member:
        return Member(client, wecom, userid)

    return make


@pytest.fixture
def ticket_id(resident, session) -> int:
    """王秀兰's complaint, routed to G01 (张伟's grid)."""
    resident.say("3号楼楼道灯坏了 我叫王秀兰")
    return session.exec(select(Ticket)).one().id


def status_of(session, ticket_id: int) -> str:
    session.expire_all()
    return session.get(Ticket, ticket_id).status


def accept_events(session) -> int:
    return session.exec(select(func.count()).select_from(TicketEvent).where(TicketEvent.action == "accept")).one()


# --- URL verification ---------------------------------------------------------------------------------------


@pytest.fixture
def doc_client(make_app) -> FlaskClient:
    """The app of WeCom's published verification example."""
    return make_app(wecom_corp_id=DOC_CORP_ID, wecom_app_token=DOC_TOKEN, wecom_app_aes_key=DOC_AES_KEY).test_client()


def test_simulator_opens_the_documented_echostr_independently():
    doc = WeComApp(token=DOC_TOKEN, aes_key=DOC_AES_KEY, corp_id=DOC_CORP_ID)
    parts = (DOC_TOKEN, DOC_VERIFY["timestamp"], DOC_VERIFY["nonce"], DOC_VERIFY["echostr"])
    assert signature(*parts) == DOC_VERIFY["msg_signature"]
    assert doc.open_echo(DOC_VERIFY["echostr"]) == DOC_ECHO


def test_url_verification_answers_the_documented_echostr_decrypted(doc_client):
    good = doc_client.get(f"/wecom?{as_query(DOC_VERIFY)}")
    forged = doc_client.get(f"/wecom?{as_query(DOC_VERIFY | {'msg_signature': '0' * 40})}")
    assert (good.status_code, good.get_data(as_text=True)) == (200, DOC_ECHO)
    assert forged.status_code == 403 and DOC_ECHO not in forged.get_data(as_text=True)


def test_verification_is_answered_fast_without_touching_the_database(client, rt, wecom):
    statements: list[str] = []
    event.listen(rt.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    started = time.monotonic()
    response = client.get(f"/wecom?{wecom.verification('echo-42')}")
    elapsed = time.monotonic() - started
    assert (response.status_code, response.get_data(as_text=True)) == (200, "echo-42")
    assert statements == [] and elapsed < 1.0


def test_verification_of_an_echostr_for_another_corp_is_refused(client):
    other = WeComApp(token=DEV_WECOM_APP_TOKEN, aes_key=DEV_WECOM_APP_AES_KEY, corp_id="ww-someone-else")
    response = client.get(f"/wecom?{other.verification('echo-42')}")
    assert response.status_code == 400 and "echo-42" not in response.get_data(as_text=True)


# --- grid workers in single chat ----------------------------------------------------------------------------


def test_worker_accepts_his_grids_ticket_and_the_encrypted_reply_opens(client, wecom, member, ticket_id, session):
    query, body = wecom.signed(wecom.text("zhangwei", f"接单 {ticket_id}"))
    raw = client.post(f"/wecom?{query}", data=body, content_type="text/xml").get_data(as_text=True)
    assert "<Encrypt>" in raw and "已接单" not in raw
    reply = wecom.open_reply(raw)  # checks MsgSignature and decrypts without wechatpy
    assert "已接单" in reply["Content"] and f"工单 {ticket_id}" in reply["Content"]
    assert (reply["ToUserName"], reply["FromUserName"], reply["MsgType"]) == ("zhangwei", DEV_WECOM_CORP_ID, "text")
    assert status_of(session, ticket_id) == Status.ACCEPTED
    assert session.exec(select(Outbox).where(Outbox.kind == "resident_notice", Outbox.event == "accepted")).one()


def test_full_width_command_is_understood(member, ticket_id, session):
    # full-width solidus, ideographic space and full-width digits, as a phone keyboard may send them
    full_width = "\uff0f接单\u3000" + str(ticket_id).translate({d: d + 0xFEE0 for d in range(0x30, 0x3A)})
    assert "已接单" in member("zhangwei").say(full_width)
    assert status_of(session, ticket_id) == Status.ACCEPTED


def test_worker_of_another_grid_is_refused_and_nothing_changes(member, ticket_id, session):
    before = counts(session)
    reply = member("liuyang").say(f"接单 {ticket_id}")
    assert "不能接单" in reply and "幸福小区第1网格" in reply
    assert status_of(session, ticket_id) == Status.ASSIGNED
    after = counts(session)
    # Only the delivery's own dedupe record (InboundMessage) is new.
    assert after[:2] + after[3:] == before[:2] + before[3:] and after[2] == before[2] + 1


def test_someone_not_on_the_roster_is_told_to_register(member, ticket_id, session):
    reply = member("nobody-here").say(f"接单 {ticket_id}")
    assert "名册" in reply and "指挥中心" in reply
    assert status_of(session, ticket_id) == Status.ASSIGNED


def test_supervisor_in_wecom_gets_the_numbers(member, ticket_id):
    reply = member("zhihui").say("统计")
    assert reply and "不对" not in reply and "名册" not in reply


def test_same_msgid_delivered_three_times_accepts_once(member, ticket_id, session):
    zhang = member("zhangwei")
    replies = [zhang.say(f"接单 {ticket_id}", msg_id=7_100_000_000_000_000_001) for _ in range(3)]
    assert len(set(replies)) == 1 and "已接单" in replies[0]
    assert accept_events(session) == 1
    assert session.exec(select(func.count()).select_from(Outbox).where(Outbox.event == "accepted")).one() == 1


def test_an_ai_bot_msgid_with_the_same_digits_does_not_swallow_the_apps_message(rt, member, ticket_id, session):
    msg_id = 7_100_000_000_000_000_002
    bot_message = Message(channel="wecom", dedupe_key=str(msg_id), sender="zhangwei", kind="text", text="待办")
    process(rt.engine, bot_message)
    assert "已接单" in member("zhangwei").say(f"接单 {ticket_id}", msg_id=msg_id)
    assert status_of(session, ticket_id) == Status.ACCEPTED


def test_photo_after_resolving_is_kept_as_the_after_photo(member, ticket_id, wecom, session):
    zhang = member("zhangwei")
    zhang.say(f"接单 {ticket_id}")
    zhang.say(f"办结 {ticket_id} 已更换灯泡")
    reply = zhang.send(wecom.image("zhangwei", "after-1"))["Content"]
    assert f"工单 {ticket_id}" in reply
    session.expire_all()
    assert "after-1" in session.get(Ticket, ticket_id).images


def test_entering_the_app_gets_an_empty_answer_and_no_record(member, wecom, session):
    before = counts(session)
    status, body = member("zhangwei").post(wecom.event("zhangwei", "enter_agent"))
    assert (status, body) == (200, "")
    assert counts(session) == before


# --- what WeCom would never send ----------------------------------------------------------------------------


def test_forged_signature_is_refused_and_writes_nothing(client, wecom, demo, session):
    query, body = wecom.signed(wecom.text("zhangwei", "待办"))
    before = counts(session)
    forged = query.replace("msg_signature=", "msg_signature=0")
    assert client.post(f"/wecom?{forged}", data=body).status_code == 403
    assert counts(session) == before


def test_replayed_old_timestamp_is_refused(member, wecom, session):
    before = counts(session)
    status, _ = member("zhangwei").post(wecom.text("zhangwei", "待办"), timestamp=int(time.time()) - 3600)
    assert status == 403
    assert counts(session) == before


def test_another_apps_callback_is_refused(client, demo, session):
    other_agent = WeComApp(
        token=DEV_WECOM_APP_TOKEN, aes_key=DEV_WECOM_APP_AES_KEY, corp_id=DEV_WECOM_CORP_ID, agent_id=1000099
    )
    query, body = other_agent.signed(other_agent.text("zhangwei", "待办"))
    before = counts(session)
    assert client.post(f"/wecom?{query}", data=body).status_code == 403
    assert counts(session) == before


def signed_raw(wecom: WeComApp, encrypted: str) -> str:
    ts, nonce = str(int(time.time())), "123"
    return f"msg_signature={signature(wecom.token, ts, nonce, encrypted)}&timestamp={ts}&nonce={nonce}"


HOSTILE_BODIES = {
    "malformed": b"<xml><ToUserName>ww</ToUserName><Encrypt>abc",
    "not xml": b"\x00\xff\xfe garbage",
    "wrong root": b"<html><body>hi</body></html>",
    "doctype": b'<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">]><xml><Encrypt>&a;</Encrypt></xml>',
    "external entity": b'<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Encrypt>&xxe;</Encrypt></xml>',
    "no Encrypt": b"<xml><ToUserName>ww</ToUserName></xml>",
}


@pytest.mark.parametrize("name", HOSTILE_BODIES)
def test_hostile_or_malformed_envelope_gets_4xx_and_writes_nothing(client, wecom, demo, session, name):
    query = signed_raw(wecom, "")
    before = counts(session)
    response = client.post(f"/wecom?{query}", data=HOSTILE_BODIES[name], content_type="text/xml")
    assert 400 <= response.status_code < 500
    assert counts(session) == before


def test_garbage_ciphertext_is_refused(client, wecom, demo, session):
    garbage = "bm90IHJlYWxseSBlbmNyeXB0ZWQ="
    before = counts(session)
    body = f"<xml><ToUserName>{DEV_WECOM_CORP_ID}</ToUserName><Encrypt><![CDATA[{garbage}]]></Encrypt></xml>"
    assert client.post(f"/wecom?{signed_raw(wecom, garbage)}", data=body).status_code == 400
    assert counts(session) == before


def test_a_doctype_inside_the_encrypted_message_is_refused(client, wecom, demo, session):
    inner = '<!DOCTYPE xml [<!ENTITY a "x">]><xml><FromUserName>zhangwei</FromUserName><MsgType>text</MsgType></xml>'
    encrypted = encrypt(wecom.key, wecom.corp_id, inner)
    before = counts(session)
    body = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    assert client.post(f"/wecom?{signed_raw(wecom, encrypted)}", data=body).status_code == 400
    assert counts(session) == before


def test_one_megabyte_body_is_refused(member, wecom, session):
    before = counts(session)
    query, body = wecom.signed(wecom.text("zhangwei", "灯" * 400_000))
    assert len(body) > 1_000_000
    assert member("zhangwei").client.post(f"/wecom?{query}", data=body).status_code == 413
    assert counts(session) == before


def test_production_with_the_public_development_keys_keeps_the_endpoint_off(make_app, wecom, demo, session):
    client = make_app(production=True).test_client()
    query, body = wecom.signed(wecom.text("zhangwei", "待办"))
    before = counts(session)
    assert client.post(f"/wecom?{query}", data=body).status_code == 404
    assert client.get(f"/wecom?{wecom.verification('echo')}").status_code == 404
    assert counts(session) == before


FUZZ = hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FIELDS = ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "AgentID", "Event", "EventKey"]
VALUES = st.one_of(
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=60),
    st.integers(-(2**63), 2**63).map(str),
    st.sampled_from(["text", "image", "event", "voice", "location", "enter_agent", "click", "zhangwei", "HELP"]),
)


@FUZZ
@given(body=st.binary(max_size=2000))
def test_any_bytes_with_a_valid_signature_get_a_4xx(client, wecom, demo, body):
    assert 400 <= client.post(f"/wecom?{signed_raw(wecom, '')}", data=body).status_code < 500


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=9))
def test_any_encrypted_message_gets_a_4xx_or_a_reply_wecom_can_open(client, wecom, demo, fields):
    query, body = wecom.signed(fields)
    response = client.post(f"/wecom?{query}", data=body)
    assert response.status_code < 500
    if response.status_code == 200:
        wecom.open_reply(response.get_data(as_text=True))
