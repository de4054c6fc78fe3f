"""Pacing under WeCom's per-chat limits (bot/pacing.py), on the Redis the service uses: a gateway's pass takes the
slots of every chat it has rows for in one call, and that call and the one-slot take of a reply share the windows."""

from __future__ import annotations

import uuid

from redis import Redis

from bot.pacing import Pace
from bot.pusher import Pusher
from bot.runtime import Runtime


def fresh_pace(rt: Runtime, windows: list[tuple[int, float]]) -> Pace:
    return Pace(rt.redis, f"test:pace:{uuid.uuid4().hex}", windows)


def test_a_pass_gets_as_many_slots_as_each_chat_has_room_for_and_the_wait_for_the_next(rt):
    pace = fresh_pace(rt, [(3, 60.0), (100, 3600.0)])

    taken = pace.take_many({"group-a": 5, "group-b": 2})

    assert taken["group-b"] == (2, 0), "a chat with room for all gets all, and no wait"
    count, wait_ms = taken["group-a"]
    assert count == 3, "three in a minute: the fourth and fifth card wait"
    assert 59_000 < wait_ms <= 60_000, "until the first of the three leaves the minute"
    assert pace.take_many({"group-b": 2})["group-b"][0] == 1, "the slots taken before count"


def test_the_windows_are_shared_with_a_single_take(rt):
    pace = fresh_pace(rt, [(2, 60.0)])
    assert pace.take("group-a") == 0
    assert pace.take_many({"group-a": 2})["group-a"][0] == 1
    assert pace.take("group-a") > 0, "full: the minute's two are a reply's and a push's"
    count, wait_ms = pace.take_many({"group-a": 1})["group-a"]
    assert count == 0 and 58_000 < wait_ms <= 60_000


def test_every_window_must_have_room(rt):
    pace = fresh_pace(rt, [(10, 60.0), (2, 3600.0)])
    assert pace.take_many({"group-a": 5})["group-a"][0] == 2, "the hour's 2 bind before the minute's 10"


def pusher_with(rt: Runtime, pace_redis: Redis, windows: list[tuple[int, float]]) -> Pusher:
    pusher = Pusher(rt, send=None, wake_later=lambda seconds: None, limits=tuple(windows))  # type: ignore[arg-type]
    pusher.pace = Pace(pace_redis, f"test:pace:{uuid.uuid4().hex}", windows)
    return pusher


def test_a_pass_sends_each_chats_rows_up_to_a_held_one_and_its_pace(rt):
    pusher = pusher_with(rt, rt.redis, [(2, 60.0)])
    queues = {"chat-a": [(1, False), (2, False), (3, False)], "chat-b": [(4, False), (5, True), (6, False)]}

    asked, waits = pusher._may_go(queues)

    assert asked == {"chat-a": [1, 2], "chat-b": [4]}, "two a minute in chat-a; nothing overtakes chat-b's held row"
    assert len(waits) == 1 and 59 < waits[0] <= 60, "another pass when chat-a's next slot frees"


def test_with_redis_away_the_cards_go_unpaced_rather_than_not_at_all(rt, caplog):
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    pusher = pusher_with(rt, unreachable, [(1, 60.0)])

    asked, waits = pusher._may_go({"chat-a": [(1, False), (2, False)], "chat-b": [(3, True)]})

    assert asked == {"chat-a": [1, 2], "chat-b": []} and waits == []
    assert "sending unpaced" in caplog.text
