"""The AI-bot WebSocket cut by Tencent's side mid-stream, while pushes are in flight (tests/test_e2e_processes.py
kills the gateway itself; tests/bot/test_gateway.py drops an idle connection in-process). The gateway reconnects
and no card is lost; one whose ack died with the connection is sent again with its task_id, which Tencent refuses
(42014), so the group sees every card once."""

from __future__ import annotations

import time

import pytest

from tests.faults.conftest import Faulty

pytestmark = pytest.mark.slow


def test_a_websocket_dropped_mid_stream_loses_and_doubles_no_card(faulty: Faulty) -> None:
    s = faulty
    s.aibot.slow(0.5)  # every push waits half a second for its ack: a drop always finds one in flight
    before = s.aibot.authentications
    batch = s.next_complaints(30)
    in_flight: list[int] = []

    def drops() -> None:
        for _ in range(3):
            s.wait_for(lambda: s.aibot.connected, 20, "the gateway back on the WebSocket")
            time.sleep(0.6)
            in_flight.append(sum(n for n in s.all_cards().values()))
            s.aibot.drop()

    deliveries = s.load(batch, seconds=3.0, during=drops)
    assert [d.tries[0][0] for d in deliveries] == ["ok"] * len(batch)
    s.wait_for(lambda: s.aibot.authentications >= before + 3 and s.aibot.connected, 30, "three reconnects")
    s.aibot.slow(0)
    print(f"dropped the connection after {in_flight} cards had arrived; reconnects: {s.aibot.authentications - before}")
    s.assert_exactly_once(deliveries)
