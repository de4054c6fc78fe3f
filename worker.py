"""The rq worker entry (`python worker.py`), and the cron that sweeps the outbox (`python worker.py cron`).

No job code lives here: rq cannot import jobs from __main__; they are in bot/jobs.py. Both register under a name
that says what and where they are (`rq info --url $REDIS_URL` lists them).
"""

from __future__ import annotations

import os
import socket
import sys

from rq import Worker
from rq.cron import CronScheduler

from bot import jobs, logs, runtime
from config import Settings
from handlers import cards

# Photos uploaded for a report that never came are deleted an hour after; looking every 5 minutes is enough.
PHOTO_SWEEP_SECONDS = 300


def name(role: str, queue: str) -> str:
    """The name rq shows, e.g. wanggetong-worker@web1:4242: which queue, what, and where the process is."""
    return f"{queue}-{role}@{socket.gethostname()}:{os.getpid()}"


def main(argv: list[str]) -> None:
    settings = Settings.from_env()
    logs.configure(settings.log_format)
    rt = runtime.Runtime(settings)
    runtime.install(rt)
    if argv[1:2] == ["cron"]:
        cron = CronScheduler(connection=rt.redis, name=name("cron", settings.queue_name))
        cron.register(jobs.sweep_outbox, rt.settings.queue_name, interval=rt.settings.outbox_sweep_seconds)
        cron.register(jobs.sweep_tickets, rt.settings.queue_name, interval=rt.settings.ticket_sweep_seconds)
        cron.register(jobs.sweep_photos, rt.settings.queue_name, interval=PHOTO_SWEEP_SECONDS)
        cron.start()
        return
    cards.warm_up()  # in the parent: each job's forked work horse finds it loaded
    Worker([rt.queue], connection=rt.redis, name=name("worker", settings.queue_name)).work(with_scheduler=False)


if __name__ == "__main__":
    main(sys.argv)
