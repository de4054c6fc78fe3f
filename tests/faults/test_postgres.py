"""PostgreSQL restarted under load: intake answers 503 (WeChat retries), nothing is lost or doubled, and every
process comes back by itself."""

from __future__ import annotations

import time

import pytest

from tests.faults.conftest import Faulty

pytestmark = pytest.mark.slow


def test_a_postgres_restart_under_load_loses_and_doubles_no_ticket_and_no_card(faulty: Faulty) -> None:
    s = faulty
    web = s.web()
    batch = s.next_complaints(60)
    restarted: list[float] = []

    def restart() -> None:
        began = time.monotonic()
        s.pg.restart()
        restarted.append(time.monotonic() - began)

    deliveries = s.load(batch, seconds=6.0, during=restart)

    met = [d for d in deliveries if any(o != "ok" for o, _ in d.tries)]
    refused = sorted({o for d in met for o, _ in d.tries if o != "ok"})
    print(f"PostgreSQL down and back in {restarted[0]:.1f} s; {len(met)} of {len(deliveries)} refused ({refused})")
    assert met, "no request met the restart: the test proved nothing"
    s.assert_exactly_once(deliveries)
    assert s.ticket_count() == len(batch)
    # gunicorn was never restarted: its pool dropped the dead connections (storage/db.py) and carried on.
    assert web.alive() and s.web() is web
    # So did the rq worker, the cron and the gateway: none exited (nothing here restarts them).
    assert [(p.name, p.alive()) for p in s.procs.started] == [(p.name, True) for p in s.procs.started]
