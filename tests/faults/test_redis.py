"""Redis flushed and restarted under load: queued jobs, locks and claims are gone; the outbox rows are not. Once
it is back, the cron's sweep re-enqueues what was lost, and every ticket, card and resident notice exists once."""

from __future__ import annotations

import time

import pytest

from tests.faults.conftest import Faulty

pytestmark = pytest.mark.slow


def test_flushall_and_a_redis_restart_under_load_lose_and_double_nothing(faulty: Faulty) -> None:
    s = faulty
    s.supervise()  # what exits when Redis goes (rq's cron does) is started again, as systemd's Restart=always does
    web = s.web()
    earlier = s.load(s.next_complaints(6), seconds=0.5)
    s.assert_exactly_once(earlier)

    # The WeChat API answers each notice after 1.5 s: the one rq worker works through the 6 accepts' notices
    # while the load runs, so when Redis is flushed some jobs are queued, one is in flight and some are done.
    s.wechat_api.slow(1.5, "/send")
    s.accept(earlier)
    s.wait_for(lambda: len(s.outbox("resident_notice")) == len(earlier), 10, "the accepts' notices queued")
    batch = s.next_complaints(60)
    took: list[float] = []

    def flush_and_restart() -> None:
        began = time.monotonic()
        s.private_redis.flush_and_restart(down=1.0)
        took.append(time.monotonic() - began)

    deliveries = s.load(batch, seconds=6.0, during=flush_and_restart)
    s.wechat_api.reset()

    retried = [d for d in deliveries if len(d.tries) > 1]
    print(f"Redis flushed, down and back in {took[0]:.1f} s; {len(retried)} of {len(deliveries)} requests retried")
    s.assert_exactly_once(earlier + deliveries)
    assert s.ticket_count() == len(earlier) + len(batch)
    s.assert_notices_once(earlier)
    assert web.alive() and s.web() is web  # intake never needed Redis to answer
    print(f"restarted by Restart=always: {dict(s.restarts) or 'nothing'}")
