"""The WeChat API stand-in's mini-program and web-login side keeps Tencent's rules: each app its own credentials
and tokens, codes good once for five minutes, content safety's verdict in `result`, the authorize page's checks,
and faults on demand."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask.testing import FlaskClient

from config import Settings
from simulator import server
from simulator.wechat_api import DEMO_OPENID, WeChatApi, create_wechat_api
from simulator.wecom_api import WeComApi, install
from tests.simulator.conftest import Clock

OA_APPID, OA_SECRET = "wx-test-oa", "oa-secret"
MP_APPID, MP_SECRET = "wx-test-mp", "mp-secret"
CALLBACK = "https://grid.example.gov.cn/m/login?from=menu"


@pytest.fixture
def wechat(clock: Clock) -> FlaskClient:
    app = create_wechat_api(OA_APPID, OA_SECRET, mp_appid=MP_APPID, mp_secret=MP_SECRET, clock=clock)
    return app.test_client()


def state(client: FlaskClient) -> WeChatApi:
    return client.application.extensions["wechat_api"]


def session(client: FlaskClient, code: str, appid: str = MP_APPID, secret: str = MP_SECRET) -> dict[str, Any]:
    query = {"appid": appid, "secret": secret, "js_code": code, "grant_type": "authorization_code"}
    response = client.get("/sns/jscode2session", query_string=query)
    assert response.status_code == 200  # Tencent answers errors with HTTP 200 and an errcode
    return response.get_json()


def mp_token(client: FlaskClient) -> str:
    body = {"grant_type": "client_credential", "appid": MP_APPID, "secret": MP_SECRET}
    return client.post("/cgi-bin/stable_token", json=body).get_json()["access_token"]


def oa_token(client: FlaskClient) -> str:
    body = {"grant_type": "client_credential", "appid": OA_APPID, "secret": OA_SECRET}
    return client.post("/cgi-bin/stable_token", json=body).get_json()["access_token"]


def phone(client: FlaskClient, access_token: str, code: Any) -> dict[str, Any]:
    path = f"/wxa/business/getuserphonenumber?access_token={access_token}"
    return client.post(path, json={"code": code}).get_json()


def check(client: FlaskClient, access_token: str, **changes: Any) -> dict[str, Any]:
    body = {"version": 2, "openid": "o-mp-1", "scene": 2, "content": "楼道灯坏了", **changes}
    return client.post(f"/wxa/msg_sec_check?access_token={access_token}", json=body).get_json()


def web_token(client: FlaskClient, code: str, appid: str = OA_APPID, secret: str = OA_SECRET) -> dict[str, Any]:
    query = {"appid": appid, "secret": secret, "code": code, "grant_type": "authorization_code"}
    return client.get("/sns/oauth2/access_token", query_string=query).get_json()


def authorize_query(**changes: str) -> dict[str, str]:
    return {
        "appid": OA_APPID,
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "snsapi_base",
        "state": "s123",
        **changes,
    }


def test_a_wx_login_code_names_its_user_once_within_five_minutes(wechat, clock):
    api = state(wechat)
    first = session(wechat, api.wx_login("o-mp-1", unionid="u-wang"))
    assert first["openid"] == "o-mp-1" and first["unionid"] == "u-wang"
    assert first["session_key"] == api.session_key("o-mp-1")
    assert "errcode" not in first  # a success carries no errcode, as Tencent's

    plain = api.wx_login("o-mp-2")
    assert "unionid" not in session(wechat, plain)
    assert session(wechat, plain)["errcode"] == 40163  # used
    assert session(wechat, "made-up")["errcode"] == 40029

    late = api.wx_login("o-mp-1")
    clock.now += 300
    assert session(wechat, late)["errcode"] == 40029  # expired
    # The unionid given once is the user's from then on.
    assert session(wechat, api.wx_login("o-mp-1"))["unionid"] == "u-wang"


def test_jscode2session_wants_the_mini_programs_own_appid_and_secret(wechat):
    api = state(wechat)
    code = api.wx_login("o-mp-1")
    assert session(wechat, code, secret="wrong")["errcode"] == 40125
    assert session(wechat, code, appid=OA_APPID, secret=OA_SECRET)["errcode"] == 40013
    assert session(wechat, "")["errcode"] == 41008
    query = {"appid": MP_APPID, "secret": MP_SECRET, "js_code": code, "grant_type": "client_credential"}
    assert wechat.get("/sns/jscode2session", query_string=query).get_json()["errcode"] == 40002
    assert session(wechat, code)["openid"] == "o-mp-1"  # none of the refusals used the code up
    # The secret never lands in the transcript.
    assert all(r["body"]["secret"] == "***" for r in api.received if r["path"] == "/sns/jscode2session")


def test_each_app_has_tokens_of_its_own(wechat):
    api = state(wechat)
    mini, account = mp_token(wechat), oa_token(wechat)
    assert mini != account
    assert mp_token(wechat) == mini  # stable, as the Official Account's
    assert api.mp is not None and api.mp.stable_token_calls == 2 and api.stable_token_calls == 1

    api.user_messaged("o-1")
    custom = {"touser": "o-1", "msgtype": "text", "text": {"content": "你好"}}
    assert wechat.post(f"/cgi-bin/message/custom/send?access_token={mini}", json=custom).get_json()["errcode"] == 40001
    assert phone(wechat, account, api.phone_code("13800001111"))["errcode"] == 40001
    assert check(wechat, account)["errcode"] == 40001

    api.expire_tokens()
    assert check(wechat, mini)["errcode"] == 42001
    assert check(wechat, "")["errcode"] == 41001


def test_a_phone_code_gives_the_number_once_within_five_minutes(wechat, clock):
    api = state(wechat)
    access = mp_token(wechat)
    code = api.phone_code("13800001111")

    answer = phone(wechat, access, code)

    assert answer["errcode"] == 0 and answer["errmsg"] == "ok"
    info = answer["phone_info"]
    assert info["purePhoneNumber"] == info["phoneNumber"] == "13800001111" and info["countryCode"] == "86"
    assert info["watermark"] == {"timestamp": int(clock.now), "appid": MP_APPID}
    assert phone(wechat, access, code)["errcode"] == 40029  # used
    assert phone(wechat, access, None)["errcode"] == 40029
    late = api.phone_code("13800002222")
    clock.now += 301
    access = mp_token(wechat)
    assert phone(wechat, access, late)["errcode"] == 40029
    with pytest.raises(ValueError):
        api.phone_code("12345")


def test_content_safety_v2_says_pass_review_or_risky_in_result(wechat):
    access = mp_token(wechat)

    clean = check(wechat, access)
    risky = check(wechat, access, content="这里有违禁词，也有待审词")
    review = check(wechat, access, content="一段待审词", scene=4)

    assert clean["errcode"] == 0 and clean["result"] == {"suggest": "pass", "label": 100}
    assert risky["errcode"] == 0 and risky["result"] == {"suggest": "risky", "label": 20001}
    assert review["result"] == {"suggest": "review", "label": 21000}
    assert {"strategy": "keyword", "keyword": "违禁词"}.items() <= risky["detail"][-1].items()
    assert all(a["trace_id"] for a in (clean, risky, review))
    assert clean["detail"][0]["suggest"] == "pass"


def test_content_safety_refuses_what_tencent_refuses(wechat):
    access = mp_token(wechat)
    path = f"/wxa/msg_sec_check?access_token={access}"

    assert wechat.post(path, json={"content": "v1 的请求"}).get_json()["errcode"] == 47001
    assert wechat.post(path, data="not json").get_json()["errcode"] == 47001
    assert check(wechat, access, version=1)["errcode"] == 47001
    assert check(wechat, access, scene="2")["errcode"] == 47001
    assert check(wechat, access, openid="")["errcode"] == 40003
    assert check(wechat, access, scene=5)["errcode"] == 40129
    assert check(wechat, access, content="")["errcode"] == 44002
    assert check(wechat, access, content="字" * 2501)["errcode"] == 47001
    assert check(wechat, access, content="字" * 2500)["errcode"] == 0


def test_the_word_list_is_the_stand_ins_option(clock):
    client = create_wechat_api(
        OA_APPID, OA_SECRET, mp_appid=MP_APPID, mp_secret=MP_SECRET, flagged_words={"广告": ("risky", 10001)}
    ).test_client()
    access = mp_token(client)
    assert check(client, access, content="加微信看广告")["result"] == {"suggest": "risky", "label": 10001}
    assert check(client, access, content="违禁词")["result"]["suggest"] == "pass"


def test_the_authorize_page_picks_a_user_and_its_code_names_them_once(wechat, clock):
    api = state(wechat)
    api.user_messaged("o-demo-resident-1")
    api.wx_login("o-mp-1", unionid="u-1")

    page = wechat.get("/connect/oauth2/authorize", query_string=authorize_query())
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "微信授权" in text
    assert f'value="{DEMO_OPENID}"' in text
    assert 'name="pick" value="o-demo-resident-1"' in text and 'name="pick" value="o-mp-1"' in text

    typed = wechat.post("/connect/oauth2/authorize", data={**authorize_query(), "openid": "o-typed"})
    picked = wechat.post("/connect/oauth2/authorize", data={**authorize_query(), "openid": "x", "pick": "o-mp-1"})

    assert typed.status_code == picked.status_code == 302
    location = urlsplit(typed.headers["Location"])
    back = parse_qs(location.query)
    assert (location.netloc, location.path) == ("grid.example.gov.cn", "/m/login")
    assert back["from"] == ["menu"] and back["state"] == ["s123"]
    answer = web_token(wechat, back["code"][0])
    assert answer["openid"] == "o-typed" and answer["scope"] == "snsapi_base" and answer["expires_in"] == 7200
    assert answer["access_token"] and answer["refresh_token"] and "unionid" not in answer
    assert web_token(wechat, back["code"][0])["errcode"] == 40163

    picked_code = parse_qs(urlsplit(picked.headers["Location"]).query)["code"][0]
    assert web_token(wechat, picked_code)["unionid"] == "u-1"  # the user has one
    assert api.openids_seen()[-1] == "o-typed"


def test_web_login_codes_expire_and_want_the_official_accounts_credentials(wechat, clock):
    api = state(wechat)
    code = api.oa_authorize("o-1")
    assert web_token(wechat, code, secret="wrong")["errcode"] == 40125
    assert web_token(wechat, code, appid=MP_APPID, secret=MP_SECRET)["errcode"] == 40013
    assert web_token(wechat, "made-up")["errcode"] == 40029
    # A wx.login code is the mini-program's, not the web login's.
    assert web_token(wechat, api.wx_login("o-1"))["errcode"] == 40029
    clock.now += 300
    assert web_token(wechat, code)["errcode"] == 40029
    assert web_token(wechat, api.oa_authorize("o-1", unionid="u-9"))["unionid"] == "u-9"


@pytest.mark.parametrize(
    "changes",
    [
        {"redirect_uri": ""},
        {"redirect_uri": "/m/login"},
        {"redirect_uri": "javascript:alert(1)"},
        {"response_type": "token"},
        {"scope": "snsapi_login"},
        {"appid": "wx-someone-else"},
    ],
)
def test_the_authorize_page_refuses_what_tencent_refuses(wechat, changes):
    assert wechat.get("/connect/oauth2/authorize", query_string=authorize_query(**changes)).status_code == 400
    assert wechat.post("/connect/oauth2/authorize", data=authorize_query(**changes)).status_code == 400


def test_an_odd_openid_on_the_page_is_refused_and_no_code_is_issued(wechat):
    answer = wechat.post("/connect/oauth2/authorize", data={**authorize_query(), "openid": "<script>"})
    assert answer.status_code == 400 and "<script>" not in answer.get_data(as_text=True)
    assert state(wechat).openids_seen() == []


def test_the_page_answers_for_the_official_account_and_leaves_wecoms_corp_to_its_stand_in(clock):
    app = create_wechat_api(OA_APPID, OA_SECRET, mp_appid=MP_APPID, mp_secret=MP_SECRET, clock=clock)
    install(app, WeComApi("ww-corp", "corp-secret", members=[]))
    client = app.test_client()

    ours = client.get("/connect/oauth2/authorize", query_string=authorize_query())
    wecoms = client.get("/connect/oauth2/authorize", query_string=authorize_query(appid="ww-corp", agentid="1000002"))

    assert ours.status_code == 200 and "微信授权" in ours.get_data(as_text=True)
    assert wecoms.status_code == 200 and "用企业微信身份登录" in wecoms.get_data(as_text=True)


def test_faults_are_injected_on_the_new_endpoints_too_and_leave_codes_unused(wechat):
    api = state(wechat)
    access = mp_token(wechat)
    code, number = api.wx_login("o-mp-1"), api.phone_code("13800001111")
    api.inject(45011, path_suffix="jscode2session")
    api.inject(-1, path_suffix="getuserphonenumber")
    api.inject(-1, path_suffix="msg_sec_check")
    api.inject(-1, path_suffix="oauth2/access_token")

    assert session(wechat, code)["errcode"] == 45011
    assert phone(wechat, access, number)["errcode"] == -1
    assert check(wechat, access)["errcode"] == -1
    assert web_token(wechat, "whatever")["errcode"] == -1

    assert session(wechat, code)["openid"] == "o-mp-1"
    assert phone(wechat, access, number)["phone_info"]["purePhoneNumber"] == "13800001111"
    errcodes = [r["errcode"] for r in api.received if r["path"] == "/sns/jscode2session"]
    assert errcodes == [45011, 0]


def test_a_mini_program_needs_an_appid_of_its_own():
    with pytest.raises(ValueError):
        WeChatApi(OA_APPID, OA_SECRET, mp_appid=OA_APPID, mp_secret="x")
    alone = create_wechat_api(OA_APPID, OA_SECRET).test_client()  # no mini-program at all
    assert session(alone, state(alone).wx_login("o-1"))["errcode"] == 40013


# -- the simulator process: the control endpoints, and Tencent's paths beside the page ---------------------------------


def test_the_simulator_hands_out_codes_and_answers_the_mini_programs_calls(simulator):
    url = simulator.url
    login = requests.post(f"{url}/sim/wx-login", json={"openid": DEMO_OPENID, "unionid": "u-wang"}, timeout=5)
    number = requests.post(f"{url}/sim/phone-code", json={"phone": "13800001111"}, timeout=5)
    assert login.status_code == number.status_code == 200

    query = {
        "appid": "wx0000000000devmp0",
        "secret": server.SIM_MP_SECRET,
        "js_code": login.json()["code"],
        "grant_type": "authorization_code",
    }
    answer = requests.get(f"{url}/sns/jscode2session", params=query, timeout=5).json()
    assert answer["openid"] == DEMO_OPENID and answer["unionid"] == "u-wang"
    token = requests.post(
        f"{url}/cgi-bin/stable_token",
        json={"grant_type": "client_credential", "appid": "wx0000000000devmp0", "secret": server.SIM_MP_SECRET},
        timeout=5,
    ).json()["access_token"]
    got = requests.post(
        f"{url}/wxa/business/getuserphonenumber",
        params={"access_token": token},
        json={"code": number.json()["code"]},
        timeout=5,
    ).json()
    assert got["phone_info"]["purePhoneNumber"] == "13800001111"

    settings = Settings()
    page = requests.get(
        f"{url}/connect/oauth2/authorize", params=authorize_query(appid=settings.wechat_appid), timeout=5
    )
    assert page.status_code == 200 and f'name="pick" value="{DEMO_OPENID}"' in page.text

    assert requests.post(f"{url}/sim/wx-login", json={"openid": ""}, timeout=5).status_code == 400
    assert requests.post(f"{url}/sim/wx-login", json={"openid": "a b"}, timeout=5).status_code == 400
    assert requests.post(f"{url}/sim/phone-code", json={"phone": "110"}, timeout=5).status_code == 400
