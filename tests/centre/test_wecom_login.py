"""企业微信登录 on the command centre's screen: WeCom OAuth (snsapi_base) over real HTTP to the WeCom stand-in
(simulator.wecom_api) in a thread. A supervisor on the roster signs in to their unit's screen; everyone and
everything else gets the login page with what to do next, never a 500, and nothing changes."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select
from werkzeug.test import TestResponse

from config import ConfigError, Settings
from simulator import server
from simulator.server import Directory, serve_in_thread
from simulator.wecom_api import OUTSIDER, WeComApi, create_wecom_api
from storage.models import Person, Role
from tests.bot.test_wechat_modes import STRONG
from tests.conftest import DEMO

SECRET = "test-wecom-app-secret"
AGENT = "1000002"
LOGIN_LINK = "企业微信登录"


@dataclass
class Corp:
    """The WeCom stand-in for one corp, served on a free loopback port; `now` is its clock."""

    url: str
    corp_id: str
    api: WeComApi
    now: list[float]

    @property
    def gettoken_calls(self) -> int:
        return self.api.gettoken_calls

    def errcodes(self, path: str) -> list[int]:
        return [r["errcode"] for r in self.api.received if r["path"] == path]


@pytest.fixture
def corp() -> Iterator[Corp]:
    # A corp id of its own per test: the token is cached in the shared Redis under corp id and agent.
    corp_id = f"ww{uuid.uuid4().hex[:16]}"
    members = [(m.id, m.name, m.post) for m in Directory.load(DEMO).members]
    now = [1_800_000_000.0]
    app = create_wecom_api(corp_id, SECRET, AGENT, members=members, clock=lambda: now[0])
    url, stop = serve_in_thread(app, name="wecom-stand-in")
    api = app.extensions["wecom_api"]
    yield Corp(url, corp_id, api, now)
    api.close()
    stop()


@pytest.fixture
def wecom_app(make_app: Callable[..., Flask], corp: Corp, demo: None) -> Flask:
    return make_app(
        wecom_corp_id=corp.corp_id,
        wecom_agent_id=AGENT,
        wecom_app_secret=SECRET,
        wecom_api_base=f"{corp.url}/cgi-bin/",
        wecom_oauth_url=f"{corp.url}/connect/oauth2/authorize",
        http_timeout=(1.0, 1.0),
    )


def pick(authorize_url: str, userid: str) -> str:
    """In the browser, on Tencent's page: choose who you are; returns where Tencent sends the browser back."""
    page = authorize_url.split("#", 1)[0]  # a browser never sends the fragment
    shown = requests.get(page, timeout=5)
    assert shown.status_code == 200 and "用企业微信身份登录" in shown.text
    query = {k: v[0] for k, v in parse_qs(urlsplit(page).query).items()}
    chosen = requests.post(page, data={**query, "userid": userid}, allow_redirects=False, timeout=5)
    assert chosen.status_code == 302, chosen.text
    return chosen.headers["Location"]


def start(client: FlaskClient) -> str:
    started = client.get("/centre/login/wecom")
    assert started.status_code == 302
    return started.headers["Location"]


def come_back(client: FlaskClient, location: str) -> TestResponse:
    back = urlsplit(location)
    assert back.path == "/centre/login/wecom/callback"
    return client.get(f"{back.path}?{back.query}")


def wecom_sign_in(client: FlaskClient, userid: str) -> TestResponse:
    return come_back(client, pick(start(client), userid))


def signed_out(client: FlaskClient) -> bool:
    return client.get("/centre/").status_code == 302 and client.get("/centre/api/screen").status_code == 401


def test_a_supervisor_on_the_roster_signs_in_to_their_units_screen(wecom_app: Flask, corp: Corp, app: Flask):
    client = wecom_app.test_client()
    assert LOGIN_LINK in client.get("/centre/login").get_data(as_text=True)
    assert LOGIN_LINK not in app.test_client().get("/centre/login").get_data(as_text=True)  # not configured: no link
    assert app.test_client().get("/centre/login/wecom").status_code == 404

    location = start(client)
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{corp.url}/connect/oauth2/authorize"
    assert parts.fragment == "wechat_redirect"
    query = parse_qs(parts.query)
    assert [k for k in query] == ["appid", "redirect_uri", "response_type", "scope", "state", "agentid"]
    assert query["appid"] == [corp.corp_id] and query["agentid"] == [AGENT]
    assert query["response_type"] == ["code"] and query["scope"] == ["snsapi_base"]
    assert query["redirect_uri"] == ["http://localhost/centre/login/wecom/callback"]
    assert "redirect_uri=http%3A%2F%2Flocalhost%2Fcentre%2Flogin%2Fwecom%2Fcallback" in parts.query
    assert len(query["state"][0]) >= 32 and query["state"][0].isalnum()
    assert "朝阳街道指挥中心" in requests.get(location.split("#")[0], timeout=5).text  # the corp's members to pick

    back = pick(location, "centre-s01")
    assert parse_qs(urlsplit(back).query)["state"] == query["state"]
    signed_in = come_back(client, back)
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/centre/")
    assert "HttpOnly" in signed_in.headers["Set-Cookie"] and "Path=/centre" in signed_in.headers["Set-Cookie"]
    page = client.get("/centre/")
    assert page.status_code == 200 and "朝阳街道" in page.get_data(as_text=True)
    data = client.get("/centre/api/screen").get_json()
    assert data["unit"] == "朝阳街道" and data["who"] == "朝阳街道指挥中心"
    assert corp.errcodes("/cgi-bin/auth/getuserinfo") == [0]


def test_a_state_that_is_not_this_browsers_is_refused(wecom_app: Flask, corp: Corp):
    client = wecom_app.test_client()
    back = pick(start(client), "centre-s01")
    forged = back.replace("state=", "state=0")
    refused = come_back(client, forged)
    assert refused.status_code == 400 and "不是从本页发起" in refused.get_data(as_text=True)
    assert signed_out(client)
    # Another browser that never started a login, with a good code and state: refused too.
    stranger = wecom_app.test_client()
    assert come_back(stranger, pick(start(client), "centre-s01")).status_code == 400
    assert signed_out(stranger)
    assert corp.errcodes("/cgi-bin/auth/getuserinfo") == []  # Tencent was never asked


def test_a_code_is_good_once(wecom_app: Flask, corp: Corp):
    first = wecom_app.test_client()
    back = pick(start(first), "centre-s01")
    assert come_back(first, back).status_code == 302
    # Someone replays the same code with a login of their own (so the state is theirs).
    replayer = wecom_app.test_client()
    state = parse_qs(urlsplit(start(replayer)).query)["state"][0]
    code = parse_qs(urlsplit(back).query)["code"][0]
    refused = replayer.get(f"/centre/login/wecom/callback?code={code}&state={state}")
    assert refused.status_code == 400 and "登录码已失效" in refused.get_data(as_text=True)
    assert signed_out(replayer)
    assert corp.errcodes("/cgi-bin/auth/getuserinfo") == [0, 40029]


def test_a_code_older_than_five_minutes_is_refused(wecom_app: Flask, corp: Corp):
    client = wecom_app.test_client()
    back = pick(start(client), "centre-s01")
    corp.now[0] += 301
    refused = come_back(client, back)
    assert refused.status_code == 400 and "5 分钟内有效" in refused.get_data(as_text=True)
    assert signed_out(client)


@pytest.mark.parametrize(
    ("userid", "said"),
    [
        ("zhangwei", "不是指挥中心人员，请联系管理员在花名册中设置"),  # a grid worker
        ("cg-li", "不是指挥中心人员"),  # department staff
        ("visitor", "不在网格通花名册中，请联系管理员"),  # a member of the corp nobody put on the roster
        (OUTSIDER, "不是本单位企业微信的成员"),  # a WeChat user outside the corp: an openid, no userid
    ],
)
def test_anyone_but_a_supervisor_on_the_roster_is_told_what_to_do(wecom_app, corp, session, userid, said):
    people_before = session.exec(select(Person)).all()
    client = wecom_app.test_client()
    refused = wecom_sign_in(client, userid)
    assert refused.status_code == 403 and said in refused.get_data(as_text=True)
    assert signed_out(client)
    session.expire_all()
    assert session.exec(select(Person)).all() == people_before  # nobody was added or changed


def test_tencent_refusing_or_out_of_reach_gives_a_clear_page_not_a_500(make_app, wecom_app, corp: Corp):
    cases: list[tuple[Flask, Callable[[], None], str]] = [
        (make_app(**_settings(corp, wecom_app_secret="wrong")), lambda: None, "设置不对（错误码 40001）"),
        (make_app(**_settings(corp, wecom_api_base=f"{_closed_port()}/cgi-bin/")), lambda: None, "暂时连不上"),
        (wecom_app, lambda: corp.api.fail_token(-1), "暂时不能登录（错误码 -1）"),
        (wecom_app, lambda: corp.api.inject(-1, "getuserinfo"), "暂时不能登录（错误码 -1）"),
        (wecom_app, lambda: corp.api.slow(3), "暂时连不上"),  # longer than our 1 s read timeout
    ]
    for app, trouble, said in cases:
        corp.api.reset()
        client = app.test_client()
        location = start(client)
        back = pick(location, "centre-s01")
        trouble()
        page = come_back(client, back)
        assert page.status_code == 200, said
        assert said in page.get_data(as_text=True) and "用账号密码登录" in page.get_data(as_text=True)
        assert signed_out(client)
    # A wrong corp id on our side: Tencent's page refuses it before any code exists.
    wrong = make_app(**_settings(corp, wecom_corp_id="ww-not-ours"))
    shown = requests.get(start(wrong.test_client()).split("#")[0], timeout=5)
    assert shown.status_code == 400 and "appid" in shown.text


def test_one_token_serves_every_login_until_tencent_says_it_expired(wecom_app: Flask, make_app, corp: Corp):
    assert wecom_sign_in(wecom_app.test_client(), "centre-s01").status_code == 302
    # Another process (a second gunicorn worker) finds the token in Redis.
    other = make_app(**_settings(corp))
    assert wecom_sign_in(other.test_client(), "centre-s02").status_code == 302
    assert corp.gettoken_calls == 1

    corp.api.expire_tokens()
    client = wecom_app.test_client()
    assert wecom_sign_in(client, "centre-c01").status_code == 302
    assert client.get("/centre/api/screen").get_json()["unit"] == "幸福社区"
    assert corp.gettoken_calls == 2  # fetched once more, and the same code tried again with it
    assert corp.errcodes("/cgi-bin/auth/getuserinfo") == [0, 0, 42001, 0]


def test_a_supervisor_demoted_or_moved_off_the_roster_is_signed_out_on_the_next_request(wecom_app, session, corp):
    demoted, moved = wecom_app.test_client(), wecom_app.test_client()
    assert wecom_sign_in(demoted, "centre-s01").status_code == 302
    assert wecom_sign_in(moved, "centre-s02").status_code == 302
    assert demoted.get("/centre/").status_code == 200 and moved.get("/centre/").status_code == 200

    _change(session, "centre-s01", role=Role.GRID_WORKER)
    assert signed_out(demoted)
    _change(session, "centre-s02", wecom_userid="someone-else")  # the userid now names nobody on the roster
    assert signed_out(moved)
    # And they cannot sign in again: centre-s01 is a grid worker now, centre-s02 is on nobody's roster row.
    assert wecom_sign_in(wecom_app.test_client(), "centre-s01").status_code == 403
    assert wecom_sign_in(wecom_app.test_client(), "centre-s02").status_code == 403


def _change(session: Session, userid: str, **values: object) -> None:
    person = session.exec(select(Person).where(Person.wecom_userid == userid)).one()
    for name, value in values.items():
        setattr(person, name, value)
    session.add(person)
    session.commit()


def _settings(corp: Corp, **changes: object) -> dict[str, object]:
    return {
        "wecom_corp_id": corp.corp_id,
        "wecom_agent_id": AGENT,
        "wecom_app_secret": SECRET,
        "wecom_api_base": f"{corp.url}/cgi-bin/",
        "wecom_oauth_url": f"{corp.url}/connect/oauth2/authorize",
        "http_timeout": (1.0, 1.0),
    } | changes


def _closed_port() -> str:
    """A loopback address where nothing listens: Tencent out of reach."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_make_runs_simulator_signs_in_a_demo_supervisor(make_app, settings, demo):
    """The whole simulator, as devserver starts it: WeCom's login beside the WeChat API and the group robots."""
    corp_id = f"ww{uuid.uuid4().hex[:16]}"
    running = server.start("http://127.0.0.1:9", settings=replace(settings, wecom_corp_id=corp_id))
    try:
        app = make_app(
            wecom_corp_id=corp_id,
            wecom_app_secret=server.SIM_WECOM_APP_SECRET,
            wecom_api_base=f"{running.url}/cgi-bin/",
            wecom_oauth_url=f"{running.url}/connect/oauth2/authorize",
        )
        client = app.test_client()
        assert wecom_sign_in(client, "zhihui").status_code == 302  # 指挥中心值班员: the whole database
        assert client.get("/centre/api/screen").get_json()["who"] == "指挥中心值班员"
        # The other stand-ins under /cgi-bin/ still answer as before: the Official Account's token, the robots.
        oa = requests.get(f"{running.url}/cgi-bin/token", params={"grant_type": "client_credential"}, timeout=5)
        assert oa.json()["errcode"] == 40013
        robot = requests.post(f"{running.url}/cgi-bin/webhook/send?key=nobody", json={}, timeout=5)
        assert robot.json()["errcode"] == 93000
        injected = requests.post(
            f"{running.url}/sim/inject", json={"target": "wecom_api", "action": "fail_token", "errcode": 40001}
        )
        assert injected.json() == {"ok": True}
    finally:
        running.stop()


def test_production_will_not_send_staff_to_tencent_with_the_development_corp():
    with pytest.raises(ConfigError, match="WECOM_CORP_ID, WECOM_AGENT_ID"):
        Settings.from_env(STRONG | {"WECOM_APP_SECRET": "s3cret"})
    ours = STRONG | {"WECOM_APP_SECRET": "s3cret", "WECOM_CORP_ID": "ww1234", "WECOM_AGENT_ID": "1000005"}
    assert Settings.from_env(ours).wecom_login
    assert not Settings.from_env(STRONG).wecom_login
    with pytest.raises(ConfigError, match="WGT_PUBLIC_URL"):
        Settings.from_env(ours | {"WGT_PUBLIC_URL": "grid.example.gov.cn/centre"})
    assert Settings.from_env(ours | {"WGT_PUBLIC_URL": "https://grid.example.gov.cn"}).public_url


def test_behind_a_proxy_tencent_sends_the_browser_back_to_the_public_address(make_app, corp: Corp, demo):
    app = make_app(**_settings(corp, public_url="https://grid.example.gov.cn/"))
    query = parse_qs(urlsplit(start(app.test_client())).query)
    assert query["redirect_uri"] == ["https://grid.example.gov.cn/centre/login/wecom/callback"]
