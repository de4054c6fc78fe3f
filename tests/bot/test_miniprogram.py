"""The mini-program's calls and the Official Account's web login, over real HTTP to the WeChat API stand-in: who a
code names, phone numbers, content safety's verdict, a token shared and fetched again once when refused, Tencent's
refusals as WeChatRefused and everything else as WeChatUnreachable; never a session key, secret or code in logs."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, replace
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
import requests
from flask import Flask, jsonify
from redis import Redis

from bot.miniprogram import (
    TRANSIENT_FAILURES,
    MiniProgramClient,
    MiniSession,
    TextVerdict,
    WeChatRefused,
    WeChatUnreachable,
    oa_authorize_url,
    oa_web_openid,
)
from config import Settings
from simulator.server import serve_in_thread
from simulator.wechat_api import WeChatApi, create_wechat_api

OA_SECRET, MP_SECRET = "test-oa-secret-0001", "test-mp-secret-0001"


@dataclass
class Tencent:
    url: str
    api: WeChatApi

    def errcodes(self, path: str) -> list[int]:
        return [r["errcode"] for r in self.api.received if r["path"] == path]


@pytest.fixture
def tencent() -> Iterator[Tencent]:
    """The stand-in on a free loopback port; fresh appids per test keep their Redis keys apart from others'."""
    suffix = uuid.uuid4().hex[:10]
    app = create_wechat_api(f"wx-oa-{suffix}", OA_SECRET, mp_appid=f"wx-mp-{suffix}", mp_secret=MP_SECRET)
    url, stop = serve(app)
    api = app.extensions["wechat_api"]
    yield Tencent(url, api)
    api.close()
    stop()


def serve(app: Flask) -> tuple[str, Callable[[], None]]:
    """A WSGI app on a free loopback port, quick to stop (it looks for the stop every 50 ms)."""
    return serve_in_thread(app, name=f"stand-in-{app.name}", poll_interval=0.05)


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def mp_settings(tencent: Tencent) -> Settings:
    return Settings(
        wechat_appid=tencent.api.appid,
        wechat_secret=OA_SECRET,
        wechat_mp_appid=tencent.api.mp_appid,
        wechat_mp_secret=MP_SECRET,
        wechat_api_base=f"{tencent.url}/cgi-bin/",
        wechat_oauth_url=f"{tencent.url}/connect/oauth2/authorize",
        http_timeout=(1.0, 0.5),
    )


@pytest.fixture
def client(mp_settings: Settings, redis: Redis) -> MiniProgramClient:
    return MiniProgramClient(mp_settings, redis)


def test_a_login_code_names_the_user_and_the_session_key_goes_nowhere(client, tencent, caplog):
    caplog.set_level(logging.DEBUG)
    code = tencent.api.wx_login("o-mp-wang", unionid="u-wang")

    found = client.code2session(code)

    assert found == MiniSession("o-mp-wang", "u-wang")
    assert [f.name for f in fields(MiniSession)] == ["openid", "unionid"]
    key = tencent.api.session_key("o-mp-wang")
    assert key and key not in repr(found) and key not in caplog.text
    assert client.code2session(tencent.api.wx_login("o-mp-li")) == MiniSession("o-mp-li", None)
    # Ours never log the secret or the code (urllib3's DEBUG lines name the URL, which carries both).
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("bot")]
    assert not [m for m in ours if MP_SECRET in m or code in m]


def used(api: WeChatApi, code: str) -> str:
    """The code went to jscode2session once already (a replayed request)."""
    assert api.jscode2session(api.mp_appid, MP_SECRET, code, "authorization_code")["openid"]
    return code


def made_up(api: WeChatApi, code: str) -> str:
    return "made-up-code"


def too_frequent(api: WeChatApi, code: str) -> str:
    api.inject(45011, path_suffix="jscode2session")
    return code


@pytest.mark.parametrize(("spoil", "errcode"), [(used, 40163), (made_up, 40029), (too_frequent, 45011)])
def test_a_refused_login_is_wechat_refused_with_tencents_errcode(client, tencent, spoil, errcode):
    code = spoil(tencent.api, tencent.api.wx_login("o-mp-wang"))

    with pytest.raises(WeChatRefused) as refused:
        client.code2session(code)

    assert refused.value.errcode == errcode and refused.value.errmsg
    assert refused.value.retryable is (errcode == 45011)


def test_a_wrong_secret_is_refused_and_says_so_without_the_secret(mp_settings, redis, tencent):
    wrong = MiniProgramClient(replace(mp_settings, wechat_mp_secret="not-the-secret"), redis)

    with pytest.raises(WeChatRefused) as refused:
        wrong.code2session(tencent.api.wx_login("o-mp-wang"))
    with pytest.raises(WeChatRefused) as token_refused:
        wrong.phone_number(tencent.api.phone_code("13800001111"))

    assert refused.value.errcode == token_refused.value.errcode == 40125
    assert refused.value.retryable  # ours to fix, not the resident's code
    assert "not-the-secret" not in str(refused.value) + str(token_refused.value)


def test_phone_number_and_the_token_fetched_once_for_every_client(client, mp_settings, redis, tencent):
    assert client.phone_number(tencent.api.phone_code("13800001111")) == "13800001111"
    another = MiniProgramClient(mp_settings, redis)  # another worker
    assert another.phone_number(tencent.api.phone_code("13900002222")) == "13900002222"

    assert tencent.api.mp is not None and tencent.api.mp.stable_token_calls == 1
    assert tencent.api.stable_token_calls == 0  # the Official Account's token is another app's
    assert redis.get(f"wgt:mp:{tencent.api.mp_appid}:access_token")


def test_a_refused_token_is_fetched_again_once(client, tencent):
    client.phone_number(tencent.api.phone_code("13800001111"))
    tencent.api.inject(40001, path_suffix="getuserphonenumber")

    assert client.phone_number(tencent.api.phone_code("13800002222")) == "13800002222"

    assert tencent.errcodes("/wxa/business/getuserphonenumber") == [0, 40001, 0]
    # Tencent still handed out the token it had refused, so the second fetch forced a new one.
    assert tencent.api.mp is not None and tencent.api.mp.force_refreshes == 1

    tencent.api.inject(40001, path_suffix="msg_sec_check", count=2)
    with pytest.raises(WeChatRefused) as refused:
        client.check_text("o-mp-wang", "楼道灯坏了")
    assert refused.value.errcode == 40001
    assert tencent.errcodes("/wxa/msg_sec_check") == [40001, 40001]  # once more, never again


def test_a_token_expired_at_tencent_is_replaced_without_forcing(client, tencent):
    client.check_text("o-mp-wang", "你好")
    tencent.api.expire_tokens()

    assert client.check_text("o-mp-wang", "你好").suggest == "pass"

    assert tencent.errcodes("/wxa/msg_sec_check") == [0, 42001, 0]
    assert tencent.api.mp is not None and tencent.api.mp.force_refreshes == 0


def test_content_safety_reads_the_verdict_from_result(client, tencent):
    assert client.check_text("o-mp-wang", "3号楼楼道灯坏了好几天了") == TextVerdict("pass", 100)
    assert client.check_text("o-mp-wang", "这里写了违禁词", scene=2) == TextVerdict("risky", 20001)
    assert client.check_text("o-mp-wang", "这里写了待审词") == TextVerdict("review", 21000)

    sent = [r["body"] for r in tencent.api.received if r["path"] == "/wxa/msg_sec_check"]
    assert sent[1] == {"version": 2, "openid": "o-mp-wang", "scene": 2, "content": "这里写了违禁词"}
    assert [b["scene"] for b in sent] == [1, 2, 1]


def test_the_official_accounts_web_login_end_to_end(mp_settings, tencent):
    tencent.api.oa_authorize("o-seen-before")
    url = oa_authorize_url(mp_settings, "https://grid.example.gov.cn/m/?from=menu", "st-1")
    assert url.endswith("#wechat_redirect") and "scope=snsapi_base" in url

    page_url = url.split("#", 1)[0]  # a browser never sends the fragment
    page = requests.get(page_url, timeout=5)
    assert page.status_code == 200 and 'value="o-seen-before"' in page.text
    form = {**dict(parse_qsl(urlsplit(page_url).query)), "pick": "o-seen-before"}
    picked = requests.post(page_url.split("?", 1)[0], data=form, allow_redirects=False, timeout=5)
    assert picked.status_code == 302
    back = parse_qs(urlsplit(picked.headers["Location"]).query)
    assert back["state"] == ["st-1"] and back["from"] == ["menu"]

    assert oa_web_openid(mp_settings, back["code"][0]) == ("o-seen-before", None)
    with pytest.raises(WeChatRefused) as refused:
        oa_web_openid(mp_settings, back["code"][0])
    assert refused.value.errcode == 40163
    assert oa_web_openid(mp_settings, tencent.api.oa_authorize("o-2", unionid="u-2")) == ("o-2", "u-2")


def test_the_web_login_is_refused_with_the_mini_programs_credentials(mp_settings, tencent):
    code = tencent.api.oa_authorize("o-1")
    wrong = replace(mp_settings, wechat_appid=mp_settings.wechat_mp_appid, wechat_secret=MP_SECRET)

    with pytest.raises(WeChatRefused) as refused:
        oa_web_openid(wrong, code)

    assert refused.value.errcode == 40013
    assert oa_web_openid(mp_settings, code)[0] == "o-1"  # the refusal did not use the code


def test_tencent_out_of_reach_is_transient_and_names_no_secret(client, mp_settings, redis, tencent):
    client.check_text("o-mp-wang", "你好")  # the token first, so only the call is slow
    tencent.api.slow(3, path_suffix="jscode2session")
    code = tencent.api.wx_login("o-mp-wang")

    with pytest.raises(TRANSIENT_FAILURES) as slow:
        client.code2session(code)
    tencent.api.slow(0)

    gone_url, stop = serve(Flask("gone"))
    stop()
    gone = replace(mp_settings, wechat_api_base=f"{gone_url}/cgi-bin/")
    with pytest.raises(WeChatUnreachable) as refused_connection:
        oa_web_openid(gone, "some-code")
    with pytest.raises(WeChatUnreachable):
        MiniProgramClient(gone, redis).code2session("some-code")

    for failure in (slow.value, refused_connection.value):
        assert isinstance(failure, WeChatUnreachable)
        assert failure.__cause__ is None and failure.__suppress_context__  # requests' message names the URL
        assert MP_SECRET not in str(failure) and OA_SECRET not in str(failure) and code not in str(failure)


@pytest.fixture
def proxy() -> Iterator[tuple[str, dict[str, object]]]:
    """Something between us and Tencent answering what it likes: a token, then `answer["body"]` (status, JSON or
    text) for everything else."""
    answer: dict[str, object] = {"status": 200, "body": "<html>502 Bad Gateway</html>"}
    app = Flask("proxy")

    @app.post("/cgi-bin/stable_token")
    def token() -> object:
        return jsonify({"access_token": f"PROXY_{uuid.uuid4().hex}", "expires_in": 7200})

    @app.route("/<path:rest>", methods=["GET", "POST"])
    def anything(rest: str) -> object:
        body = answer["body"]
        return (jsonify(body) if isinstance(body, dict | list) else str(body)), answer["status"]

    url, stop = serve(app)
    yield url, answer
    stop()


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, "<html>not json</html>"),
        (502, {"errcode": 0}),
        (200, ["a", "list"]),
        (200, {"errcode": 0, "errmsg": "ok"}),  # errcode 0 without a verdict is not a pass
        (200, {"errcode": 0, "result": {"suggest": "maybe", "label": 100}}),
        (200, {"errcode": "x"}),
    ],
)
def test_an_answer_that_cannot_be_read_is_transient_never_a_pass(mp_settings, redis, proxy, status, body):
    url, answer = proxy
    answer.update(status=status, body=body)
    settings = replace(mp_settings, wechat_api_base=f"{url}/cgi-bin/", wechat_mp_appid=f"wx-proxy-{uuid.uuid4().hex}")

    with pytest.raises(WeChatUnreachable):
        MiniProgramClient(settings, redis).check_text("o-1", "你好")
    with pytest.raises(WeChatUnreachable):
        MiniProgramClient(settings, redis).code2session("code")


def test_redis_away_is_transient(mp_settings, tencent):
    away = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)

    with pytest.raises(TRANSIENT_FAILURES):
        MiniProgramClient(mp_settings, away).phone_number(tencent.api.phone_code("13800001111"))
    away.close()


def test_logs_at_info_and_up_carry_no_secret_code_or_session_key(client, tencent, caplog):
    """What production logs: ours, and the libraries' at INFO and up (urllib3 names URLs at DEBUG only)."""
    caplog.set_level(logging.INFO)
    code = tencent.api.wx_login("o-mp-wang")
    tencent.api.inject(40001, path_suffix="msg_sec_check")

    client.code2session(code)
    client.check_text("o-mp-wang", "你好")  # a refused token: logged at INFO with its errcode

    # werkzeug's access log is the stand-in's, Tencent's side of the wire, serving in this process.
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug")
    assert "40001" in logged
    key = tencent.api.session_key("o-mp-wang") or "?"
    assert not [s for s in (MP_SECRET, code, key) if s in logged]
