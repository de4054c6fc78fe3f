"""Tencent slow (6 s an answer, more than WeChat's own 5 s) and then failing (errcode -1): intake never waits on
Tencent, and once the stand-ins recover every card and every resident notice arrives exactly once."""

from __future__ import annotations

import time

import pytest

from tests.faults.conftest import Faulty, p99

pytestmark = pytest.mark.slow
SLOW = 6.0  # longer than WeChat waits, shorter than our read timeout (10 s: a timed-out notice is never resent)
FAILING = 5.0


def test_a_slow_then_failing_tencent_never_slows_intake_and_loses_or_doubles_nothing(faulty: Faulty) -> None:
    s = faulty
    earlier = s.load(s.next_complaints(4), seconds=0.4)
    s.assert_exactly_once(earlier)

    s.wechat_api.slow(SLOW, "/send")
    s.accept(earlier)  # one 接单 notice per ticket, for the rq worker to send through the slow WeChat API
    s.wait_for(lambda: len(s.outbox("resident_notice")) == len(earlier), 10, "the accepts' notices queued")
    s.wait_for(lambda: s.wechat_api.received, 10, "a notice held by the slow WeChat API")

    def failing() -> None:
        s.wechat_api.reset()
        s.wechat_api.fail_sends(-1, seconds=FAILING)
        s.aibot.fail_sends(-1, seconds=FAILING)

    batch = s.next_complaints(40)
    deliveries = s.load(batch, seconds=6.0, during=failing)
    recovered = time.monotonic() + FAILING - 3.0

    first = [d.tries[0] for d in deliveries]
    latencies = [seconds for _, seconds in first]
    print(
        f"intake while Tencent was slow, then failing: p99 {p99(latencies) * 1000:.0f} ms, max {max(latencies):.2f} s"
    )
    assert [o for o, _ in first] == ["ok"] * len(batch), "intake refused while only Tencent was in trouble"
    assert p99(latencies) < 1.0

    s.assert_exactly_once(earlier + deliveries)
    s.assert_notices_once(earlier, timeout=90)
    refused = [r for r in s.wechat_api.received if r["errcode"] not in (0, None) and r["path"].endswith("/send")]
    refused_cards = [d for d in s.outbox("group_push") if d.attempts > 1]
    assert refused and refused_cards, "no notice (or no card) met the failing stand-in: the test proved nothing"
    print(
        f"all delivered {time.monotonic() - recovered:.1f} s after Tencent recovered; {len(refused)} notices and "
        f"{len(refused_cards)} cards refused on the way"
    )


def test_an_ai_bot_acking_after_6_s_never_slows_intake_and_shows_each_card_once(faulty: Faulty) -> None:
    """The SDK stops waiting for an ack after 5 s, so every push here is sent again; Tencent refuses the repeat of a
    task_id it has (42014) and the group sees each card once."""
    s = faulty
    s.aibot.slow(SLOW)
    batch = s.next_complaints(20)
    deliveries = s.load(batch, seconds=3.0)
    latencies = [d.tries[0][1] for d in deliveries]
    print(f"intake while every push's ack took {SLOW:.0f} s: p99 {p99(latencies) * 1000:.0f} ms")
    assert [d.tries[0][0] for d in deliveries] == ["ok"] * len(batch)
    assert p99(latencies) < 1.0
    time.sleep(SLOW)
    s.aibot.slow(0)
    s.assert_exactly_once(deliveries)
