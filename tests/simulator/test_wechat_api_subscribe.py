"""The stand-in's subscribe messages (订阅消息) keep Tencent's rule: each 允许 in wx.requestSubscribeMessage lets one
message of that template go to that user, and a send without one is 43101; the mini-program's own token, the
field limits, and faults on demand."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from config import DEV_MP_APPID
from simulator import server
from simulator.wechat_api import create_wechat_api
from tests.simulator.test_wechat_api_mp import MP_APPID, MP_SECRET, OA_APPID, OA_SECRET, mp_token, oa_token, state

TEMPLATE = "tmpl-progress"
DATA = {
    "character_string1": {"value": "12"},
    "phrase2": {"value": "已接单"},
    "thing3": {"value": "楼道灯已由网格员接单"},
    "time4": {"value": "2026年12月3日 16:30"},
}


@pytest.fixture
def wechat() -> FlaskClient:
    return create_wechat_api(OA_APPID, OA_SECRET, mp_appid=MP_APPID, mp_secret=MP_SECRET).test_client()


def send(client: FlaskClient, token: str, **changes: Any) -> dict[str, Any]:
    body = {"touser": "o-mp-1", "template_id": TEMPLATE, "page": "pages/ticket/ticket?id=12", "data": DATA, **changes}
    response = client.post(f"/cgi-bin/message/subscribe/send?access_token={token}", json=body)
    assert response.status_code == 200  # Tencent's errors are HTTP 200 with an errcode
    return response.get_json()


def test_each_acceptance_lets_exactly_one_message_through(wechat):
    api, token = state(wechat), mp_token(wechat)
    assert api.accept_subscribe("o-mp-1", [TEMPLATE, TEMPLATE]) == {TEMPLATE: 1}  # once per call, as WeChat's
    api.accept_subscribe("o-mp-1", [TEMPLATE])

    assert send(wechat, token)["errcode"] == 0
    assert send(wechat, token)["errcode"] == 0
    assert send(wechat, token)["errcode"] == 43101

    sent = api.sent("o-mp-1")
    assert [m["kind"] for m in sent] == ["subscribe", "subscribe"]
    assert sent[0]["body"]["data"]["phrase2"]["value"] == "已接单"
    assert api.subscribe_credits("o-mp-1", TEMPLATE) == 0


def test_credits_are_per_user_and_per_template(wechat):
    api, token = state(wechat), mp_token(wechat)
    api.accept_subscribe("o-mp-1", ["tmpl-other"])
    api.accept_subscribe("o-mp-2", [TEMPLATE])
    assert send(wechat, token)["errcode"] == 43101
    assert send(wechat, token, touser="o-mp-2")["errcode"] == 0
    assert api.subscribe_credits("o-mp-1", "tmpl-other") == 1


def test_only_the_mini_programs_live_token_is_taken(wechat):
    api = state(wechat)
    api.accept_subscribe("o-mp-1", [TEMPLATE])
    assert send(wechat, oa_token(wechat))["errcode"] == 40001  # the Official Account's token is another app's
    assert send(wechat, "made-up")["errcode"] == 40001
    assert send(wechat, "")["errcode"] == 41001
    token = mp_token(wechat)
    api.expire_tokens()
    assert send(wechat, token)["errcode"] == 42001
    assert api.subscribe_credits("o-mp-1", TEMPLATE) == 1 and api.sent() == []


def test_bad_bodies_are_refused_and_spend_nothing(wechat):
    api, token = state(wechat), mp_token(wechat)
    api.accept_subscribe("o-mp-1", [TEMPLATE])
    assert send(wechat, token, touser="")["errcode"] == 40003
    assert send(wechat, token, template_id="")["errcode"] == 40037
    assert send(wechat, token, data={"thing3": "no value object"})["errcode"] == 47003
    assert send(wechat, token, data={})["errcode"] == 47003
    assert send(wechat, token, data={**DATA, "thing3": {"value": "字" * 21}})["errcode"] == 47003
    assert send(wechat, token, data={**DATA, "phrase2": {"value": "正在处理当中"}})["errcode"] == 47003
    assert send(wechat, token, miniprogram_state="beta")["errcode"] == 47003
    assert api.subscribe_credits("o-mp-1", TEMPLATE) == 1 and api.sent() == []


def test_an_injected_fault_answers_instead_and_spends_nothing(wechat):
    api, token = state(wechat), mp_token(wechat)
    api.accept_subscribe("o-mp-1", [TEMPLATE])
    api.inject(43101, "subscribe/send")
    assert send(wechat, token)["errcode"] == 43101
    api.fail_sends(-1)
    assert send(wechat, token)["errcode"] == -1
    assert send(wechat, token)["errcode"] == 0
    assert len(api.sent()) == 1


def test_the_accepting_users_ids_must_be_plain():
    api = state(create_wechat_api(OA_APPID, OA_SECRET, mp_appid=MP_APPID, mp_secret=MP_SECRET).test_client())
    with pytest.raises(ValueError):
        api.accept_subscribe("a b", [TEMPLATE])
    with pytest.raises(ValueError):
        api.accept_subscribe("o-mp-1", "not-a-list")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        api.accept_subscribe("o-mp-1", [""])


def test_the_simulator_page_accepts_for_a_user_and_the_send_spends_it(simulator):
    url = simulator.url
    accepted = requests.post(f"{url}/sim/subscribe", json={"openid": "o-mp-1", "template_ids": [TEMPLATE]}, timeout=5)
    assert accepted.status_code == 200 and accepted.json() == {"credits": {TEMPLATE: 1}}
    token = requests.post(
        f"{url}/cgi-bin/stable_token",
        json={"grant_type": "client_credential", "appid": DEV_MP_APPID, "secret": server.SIM_MP_SECRET},
        timeout=5,
    ).json()["access_token"]
    body = {"touser": "o-mp-1", "template_id": TEMPLATE, "data": DATA}
    first = requests.post(f"{url}/cgi-bin/message/subscribe/send", params={"access_token": token}, json=body, timeout=5)
    again = requests.post(f"{url}/cgi-bin/message/subscribe/send", params={"access_token": token}, json=body, timeout=5)
    assert (first.json()["errcode"], again.json()["errcode"]) == (0, 43101)

    refused = requests.post(f"{url}/sim/subscribe", json={"openid": "o-mp-1", "template_ids": "x"}, timeout=5)
    assert refused.status_code == 400
    assert requests.post(f"{url}/sim/subscribe", json={"template_ids": [TEMPLATE]}, timeout=5).status_code == 400
