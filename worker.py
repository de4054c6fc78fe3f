"""The rq worker entry (`python worker.py`), and the cron that sweeps the outbox (`python worker.py cron`).

No job code lives here: rq cannot import jobs from __main__; they are in bot/jobs.py.
"""

from __future__ import annotations

import logging
import sys

from rq import Worker
from rq.cron import CronScheduler

from bot import jobs, runtime
from config import Settings


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    rt = runtime.Runtime(Settings.from_env())
    runtime.install(rt)
    if argv[1:2] == ["cron"]:
        cron = CronScheduler(connection=rt.redis)
        cron.register(jobs.sweep_outbox, rt.settings.queue_name, interval=rt.settings.outbox_sweep_seconds)
        cron.register(jobs.sweep_tickets, rt.settings.queue_name, interval=rt.settings.ticket_sweep_seconds)
        cron.start()
        return
    Worker([rt.queue], connection=rt.redis).work(with_scheduler=False)


if __name__ == "__main__":
    main(sys.argv)
