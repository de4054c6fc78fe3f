"""Hostile requests at /wechat (plaintext and safe mode) and /wecom: replays, oversized, truncated, wrongly encoded,
entity-laden and badly encrypted bodies. Each is refused with a 4xx, writes nothing to any table, and its answer
carries nothing of any resident. Genuine retries (the same delivery again, inside the window) get the first answer.

Tencent's side is built from the published algorithm with `cryptography` alone (tests/tencent.py), so every
ciphertext defect (cut short, another AppID, bad padding, a lying length field) can be made on purpose.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from sqlmodel import select
from werkzeug.serving import make_server
from werkzeug.test import EnvironBuilder, TestResponse

from config import (
    DEV_WECHAT_AES_KEY,
    DEV_WECHAT_APPID,
    DEV_WECHAT_TOKEN,
    DEV_WECOM_AGENT_ID,
    DEV_WECOM_APP_AES_KEY,
    DEV_WECOM_APP_TOKEN,
    DEV_WECOM_CORP_ID,
)
from simulator.officialaccount import OfficialAccount, cdata, message_xml, signature
from simulator.wecomapp import WeComApp
from storage.models import Status, Ticket
from tests.tables import snapshot, writes
from tests.tencent import seal

# 王秀兰's complaint: what no hostile request may ever get back.
COMPLAINT = "3号楼楼道灯坏了好几天了，我叫王秀兰，电话13912345678"
PRIVATE = ("王秀兰", "13912345678", "139****5678", "楼道灯坏了好几天")
NEIGHBOUR = "o-demo-resident-2"  # 李建国, who writes the genuine message the hostile ones are made of


def now() -> int:
    return int(time.time())


@dataclass(frozen=True)
class Endpoint:
    """One callback URL as Tencent signs and (in safe mode and for WeCom) encrypts what it posts there."""

    name: str
    path: str
    token: str
    aes_key: str
    receive_id: str  # sealed into every ciphertext: the Official Account's AppID, or the WeCom corp id
    encrypted: bool

    @property
    def key(self) -> bytes:
        return base64.b64decode(self.aes_key + "=")

    def request(
        self, message: bytes, timestamp: str | None = None, nonce: str | None = None, ciphertext: str | None = None
    ) -> tuple[str, bytes]:
        """The query string and body for this message; `ciphertext` replaces the honest one (and is signed)."""
        ts = str(now()) if timestamp is None else timestamp
        nonce = nonce or str(secrets.randbelow(10**10))
        if not self.encrypted:
            return urlencode({"signature": signature(self.token, ts, nonce), "timestamp": ts, "nonce": nonce}), message
        encrypted = ciphertext if ciphertext is not None else seal(self.key, self.receive_id.encode(), message)
        query = {"timestamp": ts, "nonce": nonce, "msg_signature": signature(self.token, ts, nonce, encrypted)}
        if self.path == "/wechat":
            query |= {"signature": signature(self.token, ts, nonce), "encrypt_type": "aes"}
        body = f"<xml><ToUserName>{cdata(self.receive_id)}</ToUserName><Encrypt>{cdata(encrypted)}</Encrypt></xml>"
        return urlencode(query), body.encode()

    def open(self, body: str) -> dict[str, str]:
        """Our reply as Tencent reads it (checking MsgSignature and decrypting where it is encrypted)."""
        if self.path == "/wecom":
            return WeComApp(self.token, self.aes_key, self.receive_id).open_reply(body)
        return OfficialAccount(self.token, self.aes_key, self.receive_id).open_reply(body, safe=self.encrypted)


WECHAT = Endpoint("wechat", "/wechat", DEV_WECHAT_TOKEN, DEV_WECHAT_AES_KEY, DEV_WECHAT_APPID, encrypted=False)
WECHAT_AES = Endpoint("wechat-aes", "/wechat", DEV_WECHAT_TOKEN, DEV_WECHAT_AES_KEY, DEV_WECHAT_APPID, encrypted=True)
WECOM = Endpoint("wecom", "/wecom", DEV_WECOM_APP_TOKEN, DEV_WECOM_APP_AES_KEY, DEV_WECOM_CORP_ID, encrypted=True)
ENDPOINTS = [WECHAT, WECHAT_AES, WECOM]


def genuine(endpoint: Endpoint, ticket_id: int, text: str | None = None) -> dict[str, Any]:
    """A message that would write if it got through: a neighbour's complaint, or 张伟 accepting 王秀兰's ticket."""
    if endpoint.path == "/wecom":
        app = WeComApp(endpoint.token, endpoint.aes_key, endpoint.receive_id, agent_id=int(DEV_WECOM_AGENT_ID))
        return app.text("zhangwei", text or f"接单 {ticket_id}")
    oa = OfficialAccount(endpoint.token, endpoint.aes_key, endpoint.receive_id)
    return oa.text(NEIGHBOUR, text or "阳光花园2栋门口的路灯不亮了")


def post(client: FlaskClient, endpoint: Endpoint, query: str, body: bytes, chunked: bool = False) -> TestResponse:
    if chunked:
        # Chunked transfer as gunicorn hands it on: no Content-Length, and the server marks the stream's end.
        builder = EnvironBuilder(f"{endpoint.path}?{query}", method="POST", input_stream=io.BytesIO(body))
        environ = builder.get_environ()
        del environ["CONTENT_LENGTH"]
        environ["wsgi.input_terminated"] = True
        return client.open(environ)
    return client.post(f"{endpoint.path}?{query}", data=body, content_type="text/xml")


def assert_nothing_private(body: bytes) -> None:
    shown = body.decode("utf-8", errors="replace")
    assert not [p for p in PRIVATE if p in shown], shown


@pytest.fixture
def ticket_x(resident, session) -> int:
    """王秀兰's ticket with her name and phone in it, assigned to 张伟's grid G01."""
    resident.say(COMPLAINT)
    ticket = session.exec(select(Ticket)).one()
    assert ticket.status == Status.ASSIGNED
    return ticket.id


# --- the table -------------------------------------------------------------------------------------------------

Request = tuple[str, bytes]


def xml(fields: dict[str, Any]) -> bytes:
    return message_xml(fields).encode()


def with_dtd(dtd: str, entity: str, fields: dict[str, Any]) -> bytes:
    return (dtd + message_xml(fields).replace("]]></Content>", f"]]>{entity}</Content>")).encode()


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY lol0 "lol">'
    + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    + "]>"
)
EXTERNAL_ENTITY = '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


def old_timestamp(e: Endpoint, f: dict) -> Request:
    return e.request(xml(f), timestamp=str(now() - 600))


def future_timestamp(e: Endpoint, f: dict) -> Request:
    return e.request(xml(f), timestamp=str(now() + 600))


def superscript_timestamp(e: Endpoint, f: dict) -> Request:
    return e.request(xml(f), timestamp="¹⁷¹⁴⁰³⁶⁵⁰⁴")  # str.isdigit() says yes, int() says no


def no_timestamp(e: Endpoint, f: dict) -> Request:
    return e.request(xml(f), timestamp="")


def oversized(e: Endpoint, f: dict) -> Request:
    return e.request(message_xml(f | {"Padding": "灯" * 30_000}).encode())  # 90 KB against a 64 KB cap


def cut_in_half(e: Endpoint, f: dict) -> Request:
    whole = xml(f)
    return e.request(whole[: len(whole) // 2])


def envelope_cut_in_half(e: Endpoint, f: dict) -> Request:
    query, body = e.request(xml(f))
    return query, body[: len(body) // 2]


def declares_latin1(e: Endpoint, f: dict) -> Request:
    return e.request(b'<?xml version="1.0" encoding="ISO-8859-1"?>' + xml(f))


def gbk_bytes(e: Endpoint, f: dict) -> Request:
    return e.request(('<?xml version="1.0" encoding="GBK"?>' + message_xml(f)).encode("gbk"))


def invalid_utf8(e: Endpoint, f: dict) -> Request:
    return e.request(xml(f).replace(b"]]></Content>", b"\xc3\x28\xff]]></Content>"))


def utf16(e: Endpoint, f: dict) -> Request:
    return e.request(message_xml(f).encode("utf-16"))


def billion_laughs(e: Endpoint, f: dict) -> Request:
    return e.request(with_dtd(BILLION_LAUGHS, "&lol9;", f))


def external_entity(e: Endpoint, f: dict) -> Request:
    return e.request(with_dtd(EXTERNAL_ENTITY, "&xxe;", f))


def json_body(e: Endpoint, f: dict) -> Request:
    return e.request(json.dumps(f, ensure_ascii=False).encode())


def ciphertext_cut_short(e: Endpoint, f: dict) -> Request:
    return e.request(b"", ciphertext=seal(e.key, e.receive_id.encode(), xml(f))[:-24])


def ciphertext_for_another_app(e: Endpoint, f: dict) -> Request:
    return e.request(b"", ciphertext=seal(e.key, b"wx-someone-else", xml(f)))


def bad_padding(e: Endpoint, f: dict) -> Request:
    return e.request(b"", ciphertext=seal(e.key, e.receive_id.encode(), xml(f), pad_byte=33))


def lying_length(e: Endpoint, f: dict) -> Request:
    return e.request(b"", ciphertext=seal(e.key, e.receive_id.encode(), xml(f), extra_length=1000))


def not_base64(e: Endpoint, f: dict) -> Request:
    return e.request(b"", ciphertext="这不是密文!!")


@dataclass(frozen=True)
class Hostile:
    status: int
    build: Callable[[Endpoint, dict], Request]  # (endpoint, the genuine message's fields) -> (query, body)
    encrypted_only: bool = False
    chunked: bool = False


HOSTILE = {
    "replayed 10 minutes late": Hostile(403, old_timestamp),
    "timestamp 10 minutes ahead": Hostile(403, future_timestamp),
    "timestamp in superscript digits": Hostile(403, superscript_timestamp),
    "no timestamp": Hostile(403, no_timestamp),
    "body over the limit": Hostile(413, oversized),
    "chunked body over the limit": Hostile(413, oversized, chunked=True),
    "XML cut in half": Hostile(400, cut_in_half),
    "envelope cut in half": Hostile(400, envelope_cut_in_half, encrypted_only=True),
    "declares ISO-8859-1 over UTF-8 bytes": Hostile(400, declares_latin1),
    "GBK bytes": Hostile(400, gbk_bytes),
    "invalid UTF-8": Hostile(400, invalid_utf8),
    "UTF-16": Hostile(400, utf16),
    "billion laughs": Hostile(400, billion_laughs),
    "external entity": Hostile(400, external_entity),
    "JSON instead of XML": Hostile(400, json_body),
    "ciphertext cut short": Hostile(400, ciphertext_cut_short, encrypted_only=True),
    "ciphertext for another AppID": Hostile(400, ciphertext_for_another_app, encrypted_only=True),
    "bad padding": Hostile(400, bad_padding, encrypted_only=True),
    "length field longer than the message": Hostile(400, lying_length, encrypted_only=True),
    "ciphertext not base64": Hostile(400, not_base64, encrypted_only=True),
}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_hostile_requests_are_refused_without_a_write_or_a_leak(client, rt, ticket_x, endpoint):
    """Every case of the table against one database: a refusal writes nothing, so none can disturb the next."""
    wrong = {}
    for name, hostile in HOSTILE.items():
        if hostile.encrypted_only and not endpoint.encrypted:
            continue
        query, body = hostile.build(endpoint, genuine(endpoint, ticket_x))
        before = snapshot(rt.engine)
        response = post(client, endpoint, query, body, chunked=hostile.chunked)
        shown = response.get_data().decode("utf-8", errors="replace")
        outcome = (response.status_code, writes(before, snapshot(rt.engine)), [p for p in PRIVATE if p in shown])
        if outcome != (hostile.status, {}, []):
            wrong[name] = outcome
    assert wrong == {}, "(status, writes, private data shown) where the table expects (status, {}, [])"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_the_genuine_message_the_hostile_ones_are_made_of_gets_through(client, rt, ticket_x, endpoint):
    """The control: each refusal above is for the defect, not for the message."""
    query, body = endpoint.request(xml(genuine(endpoint, ticket_x)))
    before = snapshot(rt.engine)
    response = post(client, endpoint, query, body)
    assert response.status_code == 200
    reply = endpoint.open(response.get_data(as_text=True))["Content"]
    assert ("已接单" if endpoint.path == "/wecom" else "工单号") in reply
    assert "ticket" in writes(before, snapshot(rt.engine))


# --- genuine retries and the replay window ---------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_a_retried_delivery_gets_the_first_answer_and_writes_nothing(client, rt, ticket_x, endpoint):
    message = xml(genuine(endpoint, ticket_x))
    query, body = endpoint.request(message)
    first = post(client, endpoint, query, body)
    assert first.status_code == 200
    answer = endpoint.open(first.get_data(as_text=True))["Content"]
    after_first = snapshot(rt.engine)
    retries = [
        (query, body),  # the very same request again
        endpoint.request(message),  # re-signed: a new timestamp and nonce, the same MsgId
        endpoint.request(message, timestamp=str(now() - 290)),  # still inside the 5-minute window
    ]
    for retry_query, retry_body in retries:
        again = post(client, endpoint, retry_query, retry_body)
        assert again.status_code == 200
        assert endpoint.open(again.get_data(as_text=True))["Content"] == answer
    assert writes(after_first, snapshot(rt.engine)) == {}


def test_a_signed_query_replayed_with_another_body_is_refused(client, rt, ticket_x, supervisor):
    """Plaintext mode signs the query, not the body. A query copied from an access log, replayed at once with the
    centre's openid and a command in the body, must not act as the centre nor answer with residents' phones."""
    query, body = WECHAT.request(xml(genuine(WECHAT, ticket_x)))
    assert post(client, WECHAT, query, body).status_code == 200
    before = snapshot(rt.engine)
    forged = OfficialAccount(WECHAT.token, WECHAT.aes_key, WECHAT.receive_id).text(supervisor.openid, f"查 {ticket_x}")
    response = post(client, WECHAT, query, xml(forged))
    assert response.status_code == 403
    assert writes(before, snapshot(rt.engine)) == {}
    assert_nothing_private(response.get_data())


def test_the_replay_window_is_a_setting(make_app, client, rt, ticket_x):
    strict = make_app(max_clock_skew_seconds=60).test_client()
    ninety_seconds_ago = str(now() - 90)
    query, body = WECHAT.request(xml(genuine(WECHAT, ticket_x, "阳光花园2栋门口的路灯不亮了")), ninety_seconds_ago)
    before = snapshot(rt.engine)
    assert post(strict, WECHAT, query, body).status_code == 403
    assert writes(before, snapshot(rt.engine)) == {}
    assert post(client, WECHAT, query, body).status_code == 200  # the default window is 5 minutes


# --- odd fields in genuinely signed messages: an answer, never a 500 --------------------------------------------

ODD_FIELDS = {
    "CreateTime in circled digits": {"CreateTime": "❶❷❸"},
    "MsgId of 150 digits": {"MsgId": "9" * 150},
    "Content of 5000 characters": {"Content": "3号楼楼道灯坏了" * 625},
    "Content of emoji and direction marks": {"Content": "\u202e3号楼\u200b楼道灯坏了🔥\u200f"},
}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_odd_fields_in_a_signed_message_get_an_answer(client, rt, ticket_x, endpoint):
    for name, changes in ODD_FIELDS.items():
        fields = genuine(endpoint, ticket_x) | changes
        if endpoint.path == "/wecom" and "Content" in changes:
            fields["Content"] = f"进展 {ticket_x} " + changes["Content"]  # a worker's note, not a complaint
        response = post(client, endpoint, *endpoint.request(xml(fields)))
        assert response.status_code == 200, name
        reply = endpoint.open(response.get_data(as_text=True))["Content"]
        assert reply, name
        if endpoint.path == "/wechat":
            assert_nothing_private(reply.encode())


# --- a new follower's first messages arriving at once ------------------------------------------------------------


@pytest.fixture
def live_server(app):  # type: ignore[no-untyped-def]
    """The app behind a real threaded HTTP server, so deliveries can arrive at the same moment."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()


def test_a_new_followers_first_messages_at_the_same_moment_are_all_answered(live_server, demo):
    oa = OfficialAccount(DEV_WECHAT_TOKEN, DEV_WECHAT_AES_KEY, DEV_WECHAT_APPID)

    def deliver(args: tuple[str, int]) -> int:
        openid, n = args
        query, body = oa.signed(oa.text(openid, f"你好{n}"))
        conn = http.client.HTTPConnection("127.0.0.1", live_server, timeout=10)
        conn.request("POST", f"/wechat?{query}", body=body, headers={"Content-Type": "text/xml"})
        return conn.getresponse().status

    followers = [(f"o-new-follower-{i}", n) for i in range(5) for n in range(4)]
    with ThreadPoolExecutor(4) as pool:
        assert set(pool.map(deliver, followers)) == {200}
