"""The WeChat API stand-in keeps Tencent's rules: tokens, the 48-hour window, the count of 5, faults on demand."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from simulator.wechat_api import WeChatApi, create_wechat_api
from tests.simulator.conftest import Clock

APPID, SECRET = "wx-test-appid", "test-secret"


@pytest.fixture
def wechat(clock: Clock) -> FlaskClient:
    return create_wechat_api(APPID, SECRET, token_quota=3, clock=clock).test_client()


def state(client: FlaskClient) -> WeChatApi:
    return client.application.extensions["wechat_api"]


def token(client: FlaskClient, secret: str = SECRET) -> dict[str, Any]:
    query = {"grant_type": "client_credential", "appid": APPID, "secret": secret}
    response = client.get("/cgi-bin/token", query_string=query)
    assert response.status_code == 200
    return response.get_json()


def stable_token(client: FlaskClient, force: bool = False) -> dict[str, Any]:
    body = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET, "force_refresh": force}
    return client.post("/cgi-bin/stable_token", json=body).get_json()


def custom(client: FlaskClient, access_token: str, openid: str, text: str = "工单 1 已接单") -> dict[str, Any]:
    body = {"touser": openid, "msgtype": "text", "text": {"content": text}}
    response = client.post(f"/cgi-bin/message/custom/send?access_token={access_token}", json=body)
    assert response.status_code == 200  # Tencent answers errors with HTTP 200 and an errcode
    return response.get_json()


def template(client: FlaskClient, access_token: str, openid: str, thing: str = "已办结") -> dict[str, Any]:
    body = {"touser": openid, "template_id": "tpl-1", "data": {"thing3": {"value": thing}}}
    return client.post(f"/cgi-bin/message/template/send?access_token={access_token}", json=body).get_json()


def test_each_token_call_invalidates_the_previous_token_and_counts_against_the_quota(wechat):
    first = token(wechat)["access_token"]
    second = token(wechat)
    assert second["expires_in"] == 7200
    state(wechat).user_messaged("o-1")

    assert custom(wechat, first, "o-1")["errcode"] == 40001
    assert custom(wechat, second["access_token"], "o-1")["errcode"] == 0
    token(wechat)
    assert token(wechat)["errcode"] == 45009  # quota of 3 in this test
    assert token(wechat, secret="wrong")["errcode"] == 40125


def test_stable_token_is_shared_until_forced_and_expires(wechat, clock):
    first = stable_token(wechat)["access_token"]
    assert stable_token(wechat)["access_token"] == first
    token(wechat)  # the plain series does not touch the stable one
    state(wechat).user_messaged("o-1")
    assert custom(wechat, first, "o-1")["errcode"] == 0

    forced = stable_token(wechat, force=True)["access_token"]
    assert forced != first
    assert custom(wechat, first, "o-1")["errcode"] == 40001
    clock.now += 7200
    assert custom(wechat, forced, "o-1")["errcode"] == 42001
    assert stable_token(wechat)["access_token"] != forced


def test_custom_messages_only_within_48_hours_and_five_per_message(wechat, clock):
    access = stable_token(wechat)["access_token"]
    assert custom(wechat, access, "o-1")["errcode"] == 45015  # never wrote

    state(wechat).user_messaged("o-1")
    assert [custom(wechat, access, "o-1", f"第{i}条")["errcode"] for i in range(6)] == [0] * 5 + [45047]
    state(wechat).user_messaged("o-1")
    assert custom(wechat, access, "o-1")["errcode"] == 0  # a new message restarts the count
    clock.now += 48 * 3600 + 1
    access = stable_token(wechat)["access_token"]  # the old one expired meanwhile
    assert custom(wechat, access, "o-1")["errcode"] == 45015

    assert template(wechat, access, "o-1")["msgid"]
    assert [m["kind"] for m in state(wechat).sent("o-1")] == ["custom"] * 6 + ["template"]
    assert state(wechat).sent("o-1")[0]["body"]["text"]["content"] == "第0条"


def test_unsubscribed_users_refuse_both_kinds_and_long_fields_are_refused(wechat):
    access = stable_token(wechat)["access_token"]
    api = state(wechat)
    api.user_messaged("o-1")
    assert template(wechat, access, "o-1", thing="一二三四五六七八九十一二三四五六七八九十一")["errcode"] == 47003
    api.unsubscribe("o-1")
    assert custom(wechat, access, "o-1")["errcode"] == 43004
    assert template(wechat, access, "o-1")["errcode"] == 43004
    assert api.sent() == []


def test_injected_faults_answer_instead_and_nothing_is_delivered(wechat, clock):
    access = stable_token(wechat)["access_token"]
    api = state(wechat)
    api.user_messaged("o-1")
    api.inject(40001, path_suffix="custom/send")
    api.inject(45009, path_suffix="template/send", seconds=60)

    assert custom(wechat, access, "o-1")["errcode"] == 40001
    assert custom(wechat, access, "o-1")["errcode"] == 0  # once only
    assert template(wechat, access, "o-1")["errcode"] == 45009
    assert template(wechat, access, "o-1")["errcode"] == 45009
    clock.now += 61
    assert template(wechat, access, "o-1")["errcode"] == 0
    assert [m["kind"] for m in api.sent("o-1")] == ["custom", "template"]
    assert [r["errcode"] for r in api.received if r["path"].endswith("/send")] == [40001, 0, 45009, 45009, 0]

    api.fail_sends(-1, count=2)
    assert custom(wechat, access, "o-1")["errcode"] == -1
    api.reset()
    assert custom(wechat, access, "o-1")["errcode"] == 0


def test_the_secret_is_not_kept_in_the_transcript(wechat):
    token(wechat)
    stable_token(wechat)
    assert SECRET not in repr(state(wechat).received)
