"""Several AI bots on the stand-in's one port, as every street's bot shares Tencent's one WebSocket URL: each bot
has its own connection, card task_ids and frequency windows, and a bot seated in a group keeps the others out of it.
Spoken to with the real frames over real WebSockets, by bare clients."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from simulator.aibot import AUTH_FAILED, FREQ_LIMITED, NOT_IN_CHAT, TASK_ID_REFUSED, UNKNOWN_REQ_ID, AIBotServer

A, A_SECRET = "bot-street-a", "secret-a"
B, B_SECRET = "bot-street-b", "secret-b"
SECRETS = {A: A_SECRET, B: B_SECRET}


@pytest.fixture
def server() -> Iterator[AIBotServer]:
    with AIBotServer(A, A_SECRET) as running:
        running.add_bot(B, B_SECRET)  # after start(): a street joins a running stand-in
        yield running


def call(ws: ClientConnection, cmd: str, req_id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    ws.send(json.dumps({"cmd": cmd, "headers": {"req_id": req_id}, "body": body or {}}, ensure_ascii=False))
    return json.loads(ws.recv(timeout=5))


@contextmanager
def subscribed(server: AIBotServer, bot: str) -> Iterator[ClientConnection]:
    with connect(server.url, open_timeout=5) as ws:
        ack = call(ws, "aibot_subscribe", "aibot_subscribe_1", {"bot_id": bot, "secret": SECRETS[bot]})
        assert ack["errcode"] == 0
        yield ws


def push(ws: ClientConnection, chat: str, task_id: str) -> dict[str, Any]:
    """aibot_send_msg of a card; the answer frame."""
    card = {"card_type": "button_interaction", "main_title": {"title": f"工单 {task_id}"}, "task_id": task_id}
    body = {"chatid": chat, "msgtype": "template_card", "template_card": card}
    return call(ws, "aibot_send_msg", f"send_{task_id}", body)


def nothing_arrives(ws: ClientConnection) -> None:
    with pytest.raises(TimeoutError):
        ws.recv(timeout=0.3)


def test_two_bots_stay_connected_side_by_side(server):
    with subscribed(server, A) as a, subscribed(server, B) as b:
        assert call(a, "ping", "ping_a")["errcode"] == 0
        assert call(b, "ping", "ping_b")["errcode"] == 0
        nothing_arrives(a)  # no disconnected_event: B's connection displaced nothing of A's
        assert server.bots == [A, B]
        assert server.connected and server.is_connected(A) and server.is_connected(B)
        assert server.authentications == 2


def test_the_second_bot_with_a_wrong_secret_or_the_first_bots_secret_is_refused(server):
    for secret in ("guess", A_SECRET):
        with connect(server.url, open_timeout=5) as ws:
            assert call(ws, "aibot_subscribe", "sub_1", {"bot_id": B, "secret": secret})["errcode"] == AUTH_FAILED
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=5)
    assert (server.refused, server.authentications, server.is_connected(B)) == (2, 0, False)


def test_a_second_connection_of_one_bot_displaces_only_that_bots_first(server):
    with subscribed(server, A) as a, subscribed(server, B) as old_b, subscribed(server, B) as new_b:
        event = json.loads(old_b.recv(timeout=5))
        assert (event["body"]["aibotid"], event["body"]["event"]) == (B, {"eventtype": "disconnected_event"})
        with pytest.raises(ConnectionClosed):
            old_b.recv(timeout=5)
        nothing_arrives(a)
        assert call(a, "ping", "ping_a")["errcode"] == 0
        said = server.say("c1", "zhangwei", "待办", bot=B)
        assert json.loads(new_b.recv(timeout=5)) == said
        assert server.is_connected(A) and server.is_connected(B)


def test_a_callback_goes_to_its_bot_alone_and_a_resend_to_the_same_bot(server):
    with subscribed(server, A) as a, subscribed(server, B) as b:
        said = server.say("c1", "zhangwei", "待办", bot=B)
        received = json.loads(b.recv(timeout=5))
        assert received == said
        assert received["body"]["aibotid"] == B
        again = server.resend(said)
        assert json.loads(b.recv(timeout=5)) == again
        nothing_arrives(a)
    assert [(m["kind"], m["bot"]) for m in server.messages("c1")] == [("user_text", B), ("user_text", B)]


def test_a_callback_goes_to_the_chats_bot_unless_one_is_named(server):
    with subscribed(server, A) as a, subscribed(server, B) as b:
        assert server.bot_of("c1") == A  # nobody seated or pushed: the first bot
        assert push(b, "c1", "t1")["errcode"] == 0
        assert server.bot_of("c1") == B  # the bot that pushed last
        assert server.click("c1", "zhangwei", "accept:t1", "t1")["body"]["aibotid"] == B
        b.recv(timeout=5)
        server.seat("c1", A)
        assert server.bot_of("c1") == A  # a seat outweighs the last push
        photo = server.photo("c1", "zhangwei", "https://example.invalid/a.jpg")
        assert json.loads(a.recv(timeout=5)) == photo
        assert photo["body"]["aibotid"] == A
        said = server.say("c1", "zhangwei", "待办", bot=B)  # named: it goes to B all the same
        assert json.loads(b.recv(timeout=5)) == said
        assert said["body"]["aibotid"] == B


def test_a_push_into_a_chat_seated_with_another_bot_is_refused_and_not_recorded(server):
    server.seat("street-b-grid-1", B)
    with subscribed(server, A) as a, subscribed(server, B) as b:
        refused = push(a, "street-b-grid-1", "t1")
        assert (refused["errcode"], refused["errmsg"]) == (NOT_IN_CHAT, "invalid chatid: the bot is not in this chat")
        assert server.messages("street-b-grid-1") == []
        assert push(b, "street-b-grid-1", "t1")["errcode"] == 0  # A's refusal left t1 free for B anyway
        assert push(a, "unseated", "t2")["errcode"] == 0
    assert [(m["kind"], m["bot"]) for m in server.messages("street-b-grid-1")] == [("send", B)]
    assert list(server.cards("street-b-grid-1")) == ["t1"]


def test_a_card_task_id_is_refused_again_only_from_the_bot_that_pushed_it(server):
    with subscribed(server, A) as a, subscribed(server, B) as b:
        assert push(a, "c-a", "ticket-12")["errcode"] == 0
        assert push(b, "c-b", "ticket-12")["errcode"] == 0
        assert push(a, "c-a2", "ticket-12")["errcode"] == TASK_ID_REFUSED
    assert server.repeats_refused == 1
    assert list(server.cards("c-a")) == list(server.cards("c-b")) == ["ticket-12"]
    assert server.messages("c-a2") == []


def test_each_bot_has_its_own_frequency_window_in_a_chat():
    server = AIBotServer(A, A_SECRET, per_minute=1)
    server.add_bot(B, B_SECRET)  # before start()
    with server, subscribed(server, A) as a, subscribed(server, B) as b:
        assert [push(a, "c1", "a1")["errcode"], push(b, "c1", "b1")["errcode"]] == [0, 0]
        assert [push(a, "c1", "a2")["errcode"], push(b, "c1", "b2")["errcode"]] == [FREQ_LIMITED, FREQ_LIMITED]
    assert [(m["bot"], m["body"]["template_card"]["task_id"]) for m in server.messages("c1")] == [(A, "a1"), (B, "b1")]
    assert server.rate_refused == 2


def test_only_the_bot_a_callback_went_to_may_answer_it(server):
    with subscribed(server, A) as a, subscribed(server, B) as b:
        said = server.say("c1", "zhangwei", "帮助", bot=B)
        b.recv(timeout=5)
        req_id = said["headers"]["req_id"]
        stream = {"msgtype": "stream", "stream": {"id": "s1", "finish": True, "content": "帮助：……"}}
        assert call(a, "aibot_respond_msg", req_id, stream)["errcode"] == UNKNOWN_REQ_ID
        assert call(b, "aibot_respond_msg", req_id, stream)["errcode"] == 0
    assert [(m["kind"], m["bot"]) for m in server.replies_to(said)] == [("reply", B)]


def test_drop_cuts_one_bot_or_all(server):
    with subscribed(server, A) as a, subscribed(server, B) as b:
        server.drop(B)
        with pytest.raises(ConnectionClosed):
            b.recv(timeout=5)
        assert (server.is_connected(A), server.is_connected(B)) == (True, False)
        with pytest.raises(RuntimeError, match=B):
            server.say("c1", "zhangwei", "待办", bot=B)
        assert call(a, "ping", "ping_a")["errcode"] == 0
        server.drop()
        with pytest.raises(ConnectionClosed):
            a.recv(timeout=5)
    assert not server.connected
