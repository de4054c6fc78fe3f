"""WECHAT_MODE mirrors the console's 消息加解密方式, and settings that would fail open refuse to start.

In 安全模式 WeChat signs the query (signature, timestamp, nonce) and, through msg_signature, the encrypted body;
a plaintext body is signed by nobody. A query copied from an access log with `encrypt_type` dropped used to carry
any plaintext body for 300 s, under any openid.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

import pytest
from sqlmodel import select

from config import DEV_WECHAT_AES_KEY, DEV_WECHAT_APPID, DEV_WECHAT_TOKEN, ConfigError, Settings
from simulator.officialaccount import OfficialAccount, cdata, encrypt, message_xml, signature
from storage.models import Status, Ticket
from tests.tables import snapshot, writes

OWNER = "o-demo-resident-1"  # 王秀兰
ATTACKER = "o-attacker"


@pytest.fixture
def oa_safe() -> OfficialAccount:
    return OfficialAccount(token=DEV_WECHAT_TOKEN, aes_key=DEV_WECHAT_AES_KEY, appid=DEV_WECHAT_APPID)


def opened_ticket(client, oa) -> int:
    """王秀兰 reports a dark corridor in safe mode; her ticket's number."""
    query, body = oa.signed(oa.text(OWNER, "3号楼楼道灯坏了"), safe=True)
    response = client.post(f"/wechat?{query}", data=body, content_type="text/xml")
    assert response.status_code == 200
    reply = oa.open_reply(response.get_data(as_text=True), safe=True)["Content"]
    found = re.search(r"工单号 (\d+)", reply)
    assert found, reply
    return int(found.group(1))


def forged_from(query: str, fields: dict) -> tuple[str, bytes]:
    """The attack: a real safe-mode query from a log, encrypt_type and msg_signature dropped, a plaintext body."""
    kept = {k: v for k, v in parse_qsl(query) if k not in ("encrypt_type", "msg_signature")}
    return urlencode(kept), message_xml(fields).encode()


@pytest.mark.parametrize("mode", ["safe", "compatible"])
def test_a_plaintext_body_under_a_logged_safe_mode_query_is_refused(make_app, demo, oa_safe, rt, mode):
    client = make_app(wechat_mode=mode).test_client()
    number = opened_ticket(client, oa_safe)
    logged, _ = oa_safe.signed(oa_safe.text(OWNER, "进度"), safe=True)
    before = snapshot(rt.engine)
    for fields in (oa_safe.text(OWNER, f"撤销 {number}"), oa_safe.text("o-demo-supervisor", f"查 {number}")):
        query, body = forged_from(logged, fields)
        response = client.post(f"/wechat?{query}", data=body, content_type="text/xml")
        assert response.status_code == 403
        assert "139" not in response.get_data(as_text=True)
    assert writes(before, snapshot(rt.engine)) == {}
    with rt.engine.connect() as conn:
        assert conn.execute(select(Ticket.status)).scalar_one() != Status.CANCELLED


def test_plain_mode_still_takes_plaintext_and_encrypted_callbacks(make_app, demo, oa_safe):
    """明文模式: the only kind WeChat sends there; an encrypted callback is signed, so it is fine too."""
    client = make_app(wechat_mode="plain").test_client()
    for safe in (False, True):
        query, body = oa_safe.signed(oa_safe.text(ATTACKER, f"阳光花园{2 + safe}栋门口路灯不亮了"), safe=safe)
        response = client.post(f"/wechat?{query}", data=body, content_type="text/xml")
        assert response.status_code == 200
        assert "工单号" in oa_safe.open_reply(response.get_data(as_text=True), safe=safe)["Content"]


def test_compatible_mode_reads_the_encrypted_part_not_the_plaintext_beside_it(make_app, demo, oa_safe, rt):
    """兼容模式 sends both; only the encrypted part is signed, so a plaintext part saying otherwise is ignored."""
    client = make_app(wechat_mode="compatible").test_client()
    number = opened_ticket(client, oa_safe)
    honest = oa_safe.text(ATTACKER, "进度")
    query, _ = oa_safe.signed(honest, safe=True)
    params = dict(parse_qsl(query))
    encrypted = encrypt(oa_safe.key, DEV_WECHAT_APPID, message_xml(honest))
    params["msg_signature"] = signature(DEV_WECHAT_TOKEN, params["timestamp"], params["nonce"], encrypted)
    planted = oa_safe.text(OWNER, f"撤销 {number}")
    body = message_xml(planted)[: -len("</xml>")] + f"<Encrypt>{cdata(encrypted)}</Encrypt></xml>"
    response = client.post(f"/wechat?{urlencode(params)}", data=body.encode(), content_type="text/xml")
    assert response.status_code == 200
    assert "撤销" not in oa_safe.open_reply(response.get_data(as_text=True), safe=True)["Content"]
    with rt.engine.connect() as conn:
        assert conn.execute(select(Ticket.status).where(Ticket.id == number)).scalar_one() != Status.CANCELLED


STRONG = {
    "WGT_ENV": "production",
    "DATABASE_URL": "postgresql://db/wgt",
    "REDIS_URL": "redis://cache:6379/0",
    "WECHAT_TOKEN": "Q7fz2LkP9xWmR4tV8bN3cJ6hY1sD5gAe",
    "WECHAT_APPID": "wx1234567890abcdef",
    "WECHAT_SECRET": "0123456789abcdef0123456789abcdef",
    "WECHAT_AES_KEY": "k" * 21 + "Z" * 22,
    "WGT_SESSION_SECRET": "9f3c2a7e51b84d06a1e2c3b4d5f60718293a4b5c6d7e8f90",
}


def test_production_defaults_to_safe_mode_and_development_to_plain():
    assert Settings.from_env(STRONG).wechat_mode == "safe"
    assert Settings.from_env({}).wechat_mode == "plain"
    assert Settings.from_env(STRONG | {"WECHAT_MODE": "compatible"}).wechat_mode == "compatible"


@pytest.mark.parametrize("value", ["Production", "prod", "PRODUCTION", " production", "staging", ""])
def test_an_unknown_environment_refuses_to_start(value):
    """ "Production" once ran as development, with the public development keys, and executed a forged command."""
    with pytest.raises(ConfigError, match="WGT_ENV"):
        Settings.from_env(STRONG | {"WGT_ENV": value})


@pytest.mark.parametrize("token", ["x", "abc", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "abcabcabcabcabcabcabcabcabcabcab"])
def test_production_refuses_a_token_one_signature_would_give_away(token):
    with pytest.raises(ConfigError, match="WECHAT_TOKEN"):
        Settings.from_env(STRONG | {"WECHAT_TOKEN": token})
    with pytest.raises(ConfigError, match="WECOM_APP_TOKEN"):
        Settings.from_env(STRONG | {"WECOM_APP_TOKEN": token})


def test_production_refuses_the_development_session_secret():
    """Whoever knows the secret that signs the centre screen's cookies can sign in as anyone."""
    without = {k: v for k, v in STRONG.items() if k != "WGT_SESSION_SECRET"}
    with pytest.raises(ConfigError, match="WGT_SESSION_SECRET"):
        Settings.from_env(without)


def test_an_unknown_wechat_mode_refuses_to_start():
    with pytest.raises(ConfigError, match="WECHAT_MODE"):
        Settings.from_env(STRONG | {"WECHAT_MODE": "aes"})
