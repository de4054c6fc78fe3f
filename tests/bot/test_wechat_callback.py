"""The /wechat callback as WeChat's servers use it: verification, safe mode, bad input, duplicate deliveries."""

from __future__ import annotations

import http.client
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import func, select
from werkzeug.serving import make_server

from bot.wechat import sign
from simulator.officialaccount import parse_reply, signature
from storage.models import InboundMessage, Outbox, Person, Ticket


def counts(session) -> tuple[int, int, int, int]:
    session.expire_all()
    models = (Ticket, InboundMessage, Outbox, Person)
    return tuple(session.exec(select(func.count()).select_from(m)).one() for m in models)  # type: ignore[return-value]


def test_signature_matches_the_documented_vector():
    assert sign("AAAAA", "1714036504", "1514711492") == "f464b24fc39322e44b38aa78f5edd27bd1441696"


def test_url_verification_echoes_echostr_only_for_our_signature(make_app):
    client = make_app(wechat_token="AAAAA").test_client()
    query = "timestamp=1714036504&nonce=1514711492&echostr=hello123"
    good = client.get(f"/wechat?signature=f464b24fc39322e44b38aa78f5edd27bd1441696&{query}")
    forged = client.get(f"/wechat?signature=0000b24fc39322e44b38aa78f5edd27bd1441696&{query}")
    assert (good.status_code, good.get_data(as_text=True)) == (200, "hello123")
    assert forged.status_code == 403 and "hello123" not in forged.get_data(as_text=True)


def test_forged_signature_is_refused_and_writes_nothing(client, oa, session, demo):
    query, body = oa.signed(oa.text("o-demo-resident-1", "3号楼楼道灯坏了"))
    before = counts(session)
    forged = query.replace("signature=", "signature=0")
    assert client.post(f"/wechat?{forged}", data=body).status_code == 403
    assert counts(session) == before


def test_replayed_old_timestamp_is_refused(client, oa, session, demo):
    query, body = oa.signed(oa.text("o-demo-resident-1", "3号楼楼道灯坏了"), timestamp=int(time.time()) - 3600)
    before = counts(session)
    assert client.post(f"/wechat?{query}", data=body).status_code == 403
    assert counts(session) == before


HOSTILE_BODIES = {
    "malformed": b"<xml><ToUserName>gh</ToUserName><MsgType>text",
    "not xml": b"\x00\xff\xfe garbage",
    "wrong root": b"<html><body>hi</body></html>",
    "doctype": b'<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">]><xml><Content>&a;</Content></xml>',
    "billion laughs": b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
    b"<xml><FromUserName>o1</FromUserName><MsgType>text</MsgType><Content>&lol2;</Content></xml>",
    "external entity": b'<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Content>&xxe;</Content></xml>',
    "no sender": b"<xml><MsgType>text</MsgType><Content>hi</Content></xml>",
    "location without numbers": b"<xml><FromUserName>o1</FromUserName><MsgType>location</MsgType>"
    b"<Location_X>north</Location_X></xml>",
}


@pytest.mark.parametrize("name", HOSTILE_BODIES)
def test_hostile_or_malformed_xml_gets_4xx_and_writes_nothing(client, oa, session, demo, name):
    body = HOSTILE_BODIES[name]
    query, _ = oa.signed({"FromUserName": "o1"})
    before = counts(session)
    response = client.post(f"/wechat?{query}", data=body, content_type="text/xml")
    assert 400 <= response.status_code < 500
    assert counts(session) == before


def test_one_megabyte_body_is_refused(client, oa, session, demo):
    fields = oa.text("o-demo-resident-1", "灯" * 400_000)
    query, body = oa.signed(fields)
    assert len(body) > 1_000_000
    before = counts(session)
    assert client.post(f"/wechat?{query}", data=body).status_code == 413
    assert counts(session) == before


def test_safe_mode_reply_is_encrypted_and_verifies_independently(wechat_user, demo, session):
    resident = wechat_user("o-demo-resident-1", safe=True)
    reply = resident.say("3号楼楼道灯坏了好几天了")  # open_reply checks MsgSignature and decrypts without wechatpy
    ticket = session.exec(select(Ticket)).one()
    assert f"工单号 {ticket.id}" in reply


def test_safe_mode_reply_body_is_not_plaintext(client, oa, demo):
    query, body = oa.signed(oa.text("o-demo-resident-1", "3号楼楼道灯坏了"), safe=True)
    raw = client.post(f"/wechat?{query}", data=body).get_data(as_text=True)
    assert "<Encrypt>" in raw and "工单号" not in raw


def test_safe_mode_with_wrong_msg_signature_is_refused(client, oa, session, demo):
    query, body = oa.signed(oa.text("o-demo-resident-1", "3号楼楼道灯坏了"), safe=True)
    before = counts(session)
    assert client.post(f"/wechat?{query.replace('msg_signature=', 'msg_signature=f')}", data=body).status_code == 403
    assert counts(session) == before


def test_safe_mode_ciphertext_we_cannot_open_is_refused(client, oa, session, demo):
    ts, nonce, garbage = str(int(time.time())), "123", "bm90IHJlYWxseSBlbmNyeXB0ZWQ="
    query = (
        f"signature={signature(oa.token, ts, nonce)}&timestamp={ts}&nonce={nonce}&encrypt_type=aes"
        f"&msg_signature={signature(oa.token, ts, nonce, garbage)}"
    )
    before = counts(session)
    body = f"<xml><Encrypt><![CDATA[{garbage}]]></Encrypt></xml>"
    assert client.post(f"/wechat?{query}", data=body).status_code == 400
    assert counts(session) == before


def test_user_text_with_cdata_terminator_still_yields_valid_reply_xml(resident):
    reply = resident.say("绑定 幸福小区]]><x>99栋")
    assert "幸福小区]]><x>99栋" in reply


def test_periodic_location_event_is_answered_success_without_a_record(client, oa, session, demo):
    fields = oa.event("o-demo-resident-1", "LOCATION") | {"Latitude": 30.27, "Longitude": 120.15, "Precision": 50}
    query, body = oa.signed(fields)
    before = counts(session)
    response = client.post(f"/wechat?{query}", data=body)
    assert response.get_data(as_text=True) == "success"
    assert counts(session) == before


def test_retried_event_delivery_is_handled_once(stranger, oa, session):
    subscribe = oa.event(stranger.openid, "subscribe", create_time=int(time.time()))
    first, second = stranger.send(subscribe), stranger.send(subscribe)
    assert first == second and "欢迎" in first
    rows = session.exec(select(InboundMessage).where(InboundMessage.sender == stranger.openid)).all()
    assert len(rows) == 1


@pytest.fixture
def live_server(app):
    """The app behind a real threaded HTTP server, so deliveries can arrive at the same moment."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()


def test_same_msgid_three_times_concurrently_makes_one_ticket_and_three_identical_replies(
    live_server, oa, session, demo
):
    fields = oa.text("o-demo-resident-1", "3号楼楼道灯坏了好几天了")

    def deliver(_: int) -> tuple[int, str]:
        query, body = oa.signed(fields)
        conn = http.client.HTTPConnection("127.0.0.1", live_server, timeout=10)
        conn.request("POST", f"/wechat?{query}", body=body, headers={"Content-Type": "text/xml"})
        response = conn.getresponse()
        return response.status, response.read().decode()

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(deliver, range(3)))

    assert [status for status, _ in results] == [200, 200, 200]
    contents = {parse_reply(body)["Content"] for _, body in results}
    assert len(contents) == 1 and "工单号" in contents.pop()
    assert session.exec(select(func.count()).select_from(Ticket)).one() == 1
    assert session.exec(select(func.count()).select_from(Outbox)).one() == 1
