"""The AI-bot stand-in keeps Tencent's frequency limit per conversation (document/path/101463): replies and pushes to
one chat together, 30 a minute and 1,000 an hour; beyond it errcode 45009 and nothing reaches the chat. Spoken to
with the real frames over a real WebSocket, by a bare client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from websockets.sync.client import ClientConnection, connect

from simulator.aibot import FREQ_LIMITED, AIBotServer
from simulator.server import start as start_simulator

BOT, SECRET = "bot-limits", "s3cret"


def card(task_id: str) -> dict[str, Any]:
    return {
        "card_type": "button_interaction",
        "main_title": {"title": f"工单 {task_id}", "desc": "待接单"},
        "button_list": [{"text": "接单", "style": 1, "key": f"accept:{task_id}"}],
        "task_id": task_id,
    }


def push(ws: ClientConnection, chat: str, task_id: str) -> dict[str, Any]:
    """aibot_send_msg of a card; the answer frame."""
    body = {"chatid": chat, "chat_type": 2, "msgtype": "template_card", "template_card": card(task_id)}
    return call(ws, "aibot_send_msg", f"aibot_send_msg_{task_id}", body)


def call(ws: ClientConnection, cmd: str, req_id: str, body: dict[str, Any]) -> dict[str, Any]:
    ws.send(json.dumps({"cmd": cmd, "headers": {"req_id": req_id}, "body": body}, ensure_ascii=False))
    answer = json.loads(ws.recv(timeout=5))
    assert answer["headers"]["req_id"] == req_id
    return answer


@contextmanager
def subscribed(server: AIBotServer) -> Iterator[ClientConnection]:
    with connect(server.url, open_timeout=5) as ws:
        ack = call(ws, "aibot_subscribe", "aibot_subscribe_1", {"bot_id": BOT, "secret": SECRET})
        assert ack["errcode"] == 0
        yield ws


def sent_tasks(server: AIBotServer, chat: str) -> list[str]:
    return [m["body"]["template_card"]["task_id"] for m in server.messages(chat) if m["kind"] == "send"]


def test_the_31st_push_within_a_minute_is_refused_and_not_in_the_chat_while_another_chat_is_unaffected():
    with AIBotServer(BOT, SECRET) as server, subscribed(server) as ws:
        assert (server.per_minute, server.per_hour, server.minute, server.hour) == (30, 1000, 60.0, 3600.0)
        answers = [push(ws, "c1", f"t{n}") for n in range(1, 32)]
        assert [a["errcode"] for a in answers[:30]] == [0] * 30
        assert (answers[30]["errcode"], answers[30]["errmsg"]) == (FREQ_LIMITED, "api freq out of limit")
        assert sent_tasks(server, "c1") == [f"t{n}" for n in range(1, 31)]
        assert "t31" not in server.cards("c1")
        assert push(ws, "c2", "other-1")["errcode"] == 0
        assert sent_tasks(server, "c2") == ["other-1"]
        assert server.rate_refused == 1


def test_replies_and_card_updates_count_toward_the_same_chats_limit():
    with AIBotServer(BOT, SECRET, per_minute=3) as server, subscribed(server) as ws:
        assert push(ws, "c1", "t1")["errcode"] == 0  # 1
        said = server.say("c1", "zhangwei", "帮助")
        assert json.loads(ws.recv(timeout=5)) == said
        stream = {"msgtype": "stream", "stream": {"id": "s1", "finish": False, "content": "正在查询"}}
        assert call(ws, "aibot_respond_msg", said["headers"]["req_id"], stream)["errcode"] == 0  # 2
        done = {"msgtype": "stream", "stream": {"id": "s1", "finish": True, "content": "帮助：……"}}
        assert call(ws, "aibot_respond_msg", said["headers"]["req_id"], done)["errcode"] == 0  # 3: a refresh counts

        clicked = server.click("c1", "zhangwei", "accept:t1", "t1")
        assert json.loads(ws.recv(timeout=5)) == clicked
        update = {"response_type": "update_template_card", "template_card": card("t1") | {"sub_title_text": "已接单"}}
        refused_update = call(ws, "aibot_respond_update_msg", clicked["headers"]["req_id"], update)
        refused_reply = call(ws, "aibot_respond_msg", clicked["headers"]["req_id"], done | {"stream": {"id": "s2"}})
        refused_push = push(ws, "c1", "t2")
        assert {a["errcode"] for a in (refused_update, refused_reply, refused_push)} == {FREQ_LIMITED}

        assert server.cards("c1") == {"t1": card("t1")}  # the card was not updated
        assert server.replies_to(clicked) == []
        assert [m["kind"] for m in server.messages("c1")] == ["send", "user_text", "reply", "reply", "user_click"]
        assert push(ws, "c2", "other-1")["errcode"] == 0
        assert server.rate_refused == 3


def test_once_the_window_has_passed_the_chat_takes_messages_again_and_a_refused_card_keeps_its_task_id():
    with AIBotServer(BOT, SECRET, per_minute=2, minute=0.4) as server, subscribed(server) as ws:
        assert [push(ws, "c1", t)["errcode"] for t in ("t1", "t2", "t3")] == [0, 0, FREQ_LIMITED]
        time.sleep(0.5)
        assert push(ws, "c1", "t3")["errcode"] == 0  # the same card again: its task_id was not taken
        assert sent_tasks(server, "c1") == ["t1", "t2", "t3"]
        assert server.rate_refused == 1


def test_the_hourly_limit_holds_apart_from_the_minute_and_refusals_use_up_neither():
    with AIBotServer(BOT, SECRET, per_minute=2, minute=0.3, per_hour=3, hour=1.2) as server, subscribed(server) as ws:
        began = time.monotonic()
        assert [push(ws, "c1", t)["errcode"] for t in ("t1", "t2", "t3")] == [0, 0, FREQ_LIMITED]  # the minute's
        time.sleep(0.45)
        # The "minute" has room again, and the refused t3 used up nothing: it is the third of three this "hour".
        assert [push(ws, "c1", t)["errcode"] for t in ("t3", "t4")] == [0, FREQ_LIMITED]  # t4: the hour's
        time.sleep(max(0.0, began + 1.35 - time.monotonic()))  # t1 and t2 have left the "hour", t3 has not
        assert [push(ws, "c1", t)["errcode"] for t in ("t4", "t5")] == [0, 0]
        assert sent_tasks(server, "c1") == ["t1", "t2", "t3", "t4", "t5"]
        assert server.rate_refused == 2


def test_injected_failures_still_answer_first_and_use_up_nothing():
    with AIBotServer(BOT, SECRET, per_minute=1) as server, subscribed(server) as ws:
        server.fail_sends(-1, count=1)
        assert [push(ws, "c1", t)["errcode"] for t in ("t1", "t1", "t2")] == [-1, 0, FREQ_LIMITED]
        assert sent_tasks(server, "c1") == ["t1"]
        assert server.rate_refused == 1


def test_no_limit_when_none_is_given():
    with AIBotServer(BOT, SECRET, per_minute=None, per_hour=None) as server, subscribed(server) as ws:
        assert {push(ws, "c1", f"t{n}")["errcode"] for n in range(40)} == {0}
        assert server.rate_refused == 0


def test_the_simulator_keeps_tencents_limits_unless_its_caller_chooses(settings):
    running = start_simulator("http://127.0.0.1:9", settings=settings)
    try:
        assert (running.sim.aibot.per_minute, running.sim.aibot.per_hour) == (30, 1000)
    finally:
        running.stop()
    running = start_simulator("http://127.0.0.1:9", settings=settings, aibot_limits={"per_minute": 1, "minute": 0.5})
    try:
        assert (running.sim.aibot.per_minute, running.sim.aibot.minute, running.sim.aibot.per_hour) == (1, 0.5, 1000)
    finally:
        running.stop()
