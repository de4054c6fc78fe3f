"""The WeCom web-login stand-in keeps Tencent's rules: credentials, a token's life, a code's five minutes and
single use, and the authorize page's checks."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

from simulator.wecom_api import OUTSIDER, WeComApi, create_wecom_api

CORP, SECRET, AGENT = "ww-corp", "app-secret", "1000002"
CALLBACK = "https://grid.example.gov.cn/centre/login/wecom/callback?from=x"


@pytest.fixture
def now() -> list[float]:
    return [1_800_000_000.0]


@pytest.fixture
def tencent(now: list[float]) -> FlaskClient:
    app = create_wecom_api(
        CORP, SECRET, AGENT, members=[("zhangsan", "张三", "朝阳街道指挥中心")], clock=lambda: now[0]
    )
    return app.test_client()


def api(client: FlaskClient) -> WeComApi:
    return client.application.extensions["wecom_api"]


def token(client: FlaskClient, corpid: str = CORP, secret: str = SECRET) -> dict:
    return client.get("/cgi-bin/gettoken", query_string={"corpid": corpid, "corpsecret": secret}).get_json()


def code_for(client: FlaskClient, userid: str, state: str = "abc123") -> str:
    query = {"appid": CORP, "redirect_uri": CALLBACK, "response_type": "code", "scope": "snsapi_base"}
    page = client.get("/connect/oauth2/authorize", query_string={**query, "state": state, "agentid": AGENT})
    assert page.status_code == 200 and "用企业微信身份登录" in page.get_data(as_text=True)
    assert "张三" in page.get_data(as_text=True)
    back = client.post("/connect/oauth2/authorize", data={**query, "state": state, "agentid": AGENT, "userid": userid})
    assert back.status_code == 302
    location = urlsplit(back.headers["Location"])
    assert location.path == "/centre/login/wecom/callback"
    sent = parse_qs(location.query)
    assert sent["from"] == ["x"] and sent["state"] == [state]
    return sent["code"][0]


def who(client: FlaskClient, access_token: str, code: str) -> dict:
    return client.get("/cgi-bin/auth/getuserinfo", query_string={"access_token": access_token, "code": code}).get_json()


def test_gettoken_checks_the_corp_and_its_secret_and_hands_back_one_token_while_it_lives(tencent, now):
    assert token(tencent, corpid="ww-other")["errcode"] == 40013
    assert token(tencent, secret="wrong")["errcode"] == 40001
    first = token(tencent)
    assert first["errcode"] == 0 and first["expires_in"] == 7200
    now[0] += 1000
    again = token(tencent)
    assert again["access_token"] == first["access_token"] and again["expires_in"] == 6200
    now[0] += 6200
    assert token(tencent)["access_token"] != first["access_token"]
    assert SECRET not in str(api(tencent).received)  # the transcript never shows the secret


def test_a_code_names_its_member_once_within_five_minutes(tencent, now):
    access = token(tencent)["access_token"]
    code = code_for(tencent, "zhangsan")
    assert who(tencent, access, code) | {"user_ticket": ""} == {
        "errcode": 0,
        "errmsg": "ok",
        "userid": "zhangsan",
        "user_ticket": "",
        "expires_in": 1800,
    }
    assert who(tencent, access, code)["errcode"] == 40029  # used
    late = code_for(tencent, "zhangsan")
    now[0] += 300
    assert who(tencent, token(tencent)["access_token"], late)["errcode"] == 40029  # expired
    outsider = who(tencent, token(tencent)["access_token"], code_for(tencent, OUTSIDER))
    assert outsider["errcode"] == 0 and "userid" not in outsider and outsider["openid"].startswith("oSim")


def test_tokens_that_are_not_tencents_or_have_run_out_are_refused(tencent):
    code = code_for(tencent, "zhangsan")
    assert who(tencent, "", code)["errcode"] == 41001
    assert who(tencent, "forged", code)["errcode"] == 40014
    access = token(tencent)["access_token"]
    api(tencent).expire_tokens()
    assert who(tencent, access, code)["errcode"] == 42001
    assert who(tencent, token(tencent)["access_token"], code)["userid"] == "zhangsan"  # a token error spends no code


def test_the_authorize_page_refuses_what_tencents_refuses(tencent):
    good = {"appid": CORP, "redirect_uri": CALLBACK, "response_type": "code", "scope": "snsapi_base", "agentid": AGENT}
    for wrong in ({"appid": "ww-other"}, {"scope": "snsapi_userinfo"}, {"agentid": "9"}, {"redirect_uri": "js:x"}):
        page = tencent.get("/connect/oauth2/authorize", query_string=good | wrong)
        assert page.status_code == 400 and "参数错误" in page.get_data(as_text=True)
    refused = tencent.post("/connect/oauth2/authorize", data=good | {"userid": "nobody"})
    assert refused.status_code == 400


def test_faults_are_injected_on_demand(tencent):
    api(tencent).fail_token(-1)
    assert token(tencent)["errcode"] == -1
    assert token(tencent)["errcode"] == 0
