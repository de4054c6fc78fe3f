"""The AI-bot stand-in speaks Tencent's long-connection protocol (document/path/101463) to a bare WebSocket client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from simulator.aibot import AUTH_FAILED, TASK_ID_REFUSED, UNKNOWN_REQ_ID, AIBotServer

BOT, SECRET = "bot-sim", "s3cret"


@pytest.fixture
def server() -> Iterator[AIBotServer]:
    with AIBotServer(BOT, SECRET) as running:
        yield running


def call(ws: ClientConnection, cmd: str, req_id: str, body: dict | None = None) -> dict:
    frame: dict = {"cmd": cmd, "headers": {"req_id": req_id}}
    if body is not None:
        frame["body"] = body
    ws.send(json.dumps(frame, ensure_ascii=False))
    return json.loads(ws.recv(timeout=5))


@contextmanager
def subscribed(server: AIBotServer) -> Iterator[ClientConnection]:
    with connect(server.url, open_timeout=5) as ws:
        ack = call(ws, "aibot_subscribe", "aibot_subscribe_1", {"bot_id": BOT, "secret": SECRET})
        assert ack == {"headers": {"req_id": "aibot_subscribe_1"}, "errcode": 0, "errmsg": "ok"}
        yield ws


CARD = {
    "card_type": "button_interaction",
    "main_title": {"title": "工单 12｜市政设施", "desc": "待接单"},
    "button_list": [{"text": "接单", "style": 1, "key": "accept:12"}],
    "task_id": "ticket-12",
}


def test_subscribe_with_the_right_secret_is_acked_and_pings_are_answered(server):
    with subscribed(server) as ws:
        assert call(ws, "ping", "ping_1")["errcode"] == 0
        server.wait_for(lambda: server.connected)
    assert server.authentications == 1


def test_a_wrong_secret_is_refused_and_the_connection_closed(server):
    with connect(server.url, open_timeout=5) as ws:
        ack = call(ws, "aibot_subscribe", "aibot_subscribe_1", {"bot_id": BOT, "secret": "guess"})
        assert ack["errcode"] == AUTH_FAILED
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    assert (server.authentications, server.refused, server.connected) == (0, 1, False)


def test_nothing_but_subscribe_is_served_before_subscribing(server):
    with connect(server.url, open_timeout=5) as ws:
        ack = call(
            ws, "aibot_send_msg", "send_1", {"chatid": "c1", "msgtype": "markdown", "markdown": {"content": "x"}}
        )
        assert ack["errcode"] != 0
    assert server.messages("c1") == []


def test_send_is_acked_and_recorded_per_chat_with_the_card_state(server):
    with subscribed(server) as ws:
        body = {"chatid": "c1", "msgtype": "template_card", "template_card": CARD}
        assert call(ws, "aibot_send_msg", "aibot_send_msg_1", body)["errcode"] == 0
        markdown = {"chatid": "c2", "msgtype": "markdown", "markdown": {"content": "**hi**"}}
        assert call(ws, "aibot_send_msg", "aibot_send_msg_2", markdown)["errcode"] == 0
    assert [(m["kind"], m["body"]["msgtype"]) for m in server.messages("c1")] == [("send", "template_card")]
    assert server.cards("c1") == {"ticket-12": CARD}
    assert server.messages("c2")[0]["body"]["markdown"]["content"] == "**hi**"


def test_a_card_task_id_is_taken_once_per_bot_and_must_be_well_formed(server):
    """WeCom: "同一个机器人任务id不能重复，只能由数字、字母和“_-@”组成，最长128字节"; a refusal changes no chat."""
    with subscribed(server) as ws:
        first = {"chatid": "c1", "msgtype": "template_card", "template_card": CARD}
        assert call(ws, "aibot_send_msg", "send_1", first)["errcode"] == 0
        again_elsewhere = first | {"chatid": "c2"}
        refusals = [
            call(ws, "aibot_send_msg", "send_2", again_elsewhere),
            call(ws, "aibot_send_msg", "send_3", first | {"template_card": CARD | {"task_id": ""}}),
            call(ws, "aibot_send_msg", "send_4", first | {"template_card": CARD | {"task_id": "工单12"}}),
            call(ws, "aibot_send_msg", "send_5", first | {"template_card": CARD | {"task_id": "t" * 129}}),
        ]
        assert {(r["errcode"], r["errmsg"]) for r in refusals} == {
            (TASK_ID_REFUSED, "taskid has existed or empty or exceed max len")
        }
        assert (
            call(ws, "aibot_send_msg", "send_6", first | {"template_card": CARD | {"task_id": "t" * 128}})["errcode"]
            == 0
        )
    assert [m["body"]["template_card"]["task_id"] for m in server.messages("c1")] == ["ticket-12", "t" * 128]
    assert server.messages("c2") == []


def test_a_click_reaches_the_bot_and_its_update_replaces_the_card(server):
    with subscribed(server) as ws:
        call(
            ws,
            "aibot_send_msg",
            "aibot_send_msg_1",
            {"chatid": "c1", "msgtype": "template_card", "template_card": CARD},
        )
        click = server.click("c1", "zhangwei", "accept:12", "ticket-12")
        received = json.loads(ws.recv(timeout=5))
        assert received == click
        assert received["cmd"] == "aibot_event_callback"
        event = received["body"]["event"]
        assert event["template_card_event"] == {
            "card_type": "button_interaction",
            "event_key": "accept:12",
            "task_id": "ticket-12",
        }
        assert (received["body"]["chatid"], received["body"]["from"]["userid"]) == ("c1", "zhangwei")

        updated = CARD | {"main_title": {"title": "工单 12｜市政设施", "desc": "处理中"}}
        req_id = received["headers"]["req_id"]
        update = {"response_type": "update_template_card", "template_card": updated}
        assert call(ws, "aibot_respond_update_msg", req_id, update)["errcode"] == 0
        stream = {"msgtype": "stream", "stream": {"id": "s1", "finish": True, "content": "已接单"}}
        assert call(ws, "aibot_respond_msg", req_id, stream)["errcode"] == 0

    assert server.cards("c1")["ticket-12"]["main_title"]["desc"] == "处理中"
    assert [m["kind"] for m in server.replies_to(click)] == ["update", "reply"]
    assert [(m["kind"], m["bot"]) for m in server.messages("c1")] == [
        ("send", BOT),
        ("user_click", BOT),
        ("update", BOT),
        ("reply", BOT),
    ]


def test_text_carries_the_mention_and_a_resend_keeps_the_msgid(server):
    with subscribed(server) as ws:
        said = server.say("c1", "zhangwei", "接单 12")
        assert json.loads(ws.recv(timeout=5))["body"]["text"]["content"] == "@网格通 接单 12"
        again = server.resend(said)
        assert json.loads(ws.recv(timeout=5))["body"]["msgid"] == said["body"]["msgid"]
        assert again["headers"]["req_id"] != said["headers"]["req_id"]
        other = server.say("c1", "zhangwei", "待办")
        ws.recv(timeout=5)
        assert other["body"]["msgid"] != said["body"]["msgid"]


def test_a_reply_to_no_callback_is_refused(server):
    with subscribed(server) as ws:
        stream = {"msgtype": "stream", "stream": {"id": "s1", "finish": True, "content": "?"}}
        assert call(ws, "aibot_respond_msg", "made-up", stream)["errcode"] == UNKNOWN_REQ_ID


def test_injected_send_failures_are_counted(server):
    server.fail_sends(45009, count=2)
    with subscribed(server) as ws:
        body = {"chatid": "c1", "msgtype": "markdown", "markdown": {"content": "x"}}
        codes = [call(ws, "aibot_send_msg", f"aibot_send_msg_{i}", body)["errcode"] for i in range(3)]
    assert codes == [45009, 45009, 0]
    assert len(server.messages("c1")) == 1


def test_a_newer_connection_displaces_the_older_with_a_disconnected_event(server):
    with subscribed(server) as old, subscribed(server) as new:
        event = json.loads(old.recv(timeout=5))
        assert event["cmd"] == "aibot_event_callback"
        assert event["body"]["event"] == {"eventtype": "disconnected_event"}
        with pytest.raises(ConnectionClosed):
            old.recv(timeout=5)
        assert call(new, "ping", "ping_1")["errcode"] == 0
        said = server.say("c1", "zhangwei", "待办")
        assert json.loads(new.recv(timeout=5))["headers"]["req_id"] == said["headers"]["req_id"]


def test_drop_cuts_the_live_connection(server):
    with subscribed(server) as ws:
        server.drop()
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    assert not server.connected
    with pytest.raises(RuntimeError):
        server.say("c1", "zhangwei", "待办")
