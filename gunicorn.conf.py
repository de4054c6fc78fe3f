"""gunicorn's settings for the web process. gunicorn reads ./gunicorn.conf.py by itself, so
`gunicorn 'app:create_app()'` started in this directory (as `make run` and the tests do) uses it; elsewhere pass
`-c /path/to/gunicorn.conf.py`. Command-line options still win over what is set here.

- Prometheus multiprocess mode: each worker process writes its counters to files in PROMETHEUS_MULTIPROC_DIR
  (default var/prometheus) and /metrics adds them up. prometheus_client reads the variable when it is first
  imported, so it is set here, in the master, before any worker imports the app.
- WGT_LOG_FORMAT=json (production's default) also puts gunicorn's own lines in JSON, so the stream is one JSON
  object per line; an access log (--access-logfile) keeps gunicorn's format.
- preload_app: the master loads the app once (jieba's dictionary, the classifier, the routing index) and forks the
  workers, which share those pages instead of each building its own copy; gc.freeze() keeps the collector from
  writing to (and so copying) them. post_fork drops the database connections the master opened while loading:
  a connection must never be shared by two processes. redis-py and rq reconnect by themselves after a fork.
- The control socket (gunicorn >= 25, for `gunicornc`) lives in WGT_VAR_DIR. gunicorn's default is one path per
  user ($XDG_RUNTIME_DIR/gunicorn.ctl or ~/.gunicorn/gunicorn.ctl): a second gunicorn of the same user took it over
  (gunicorn unlinks what is there) and deleted it on stopping, leaving the first with none.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

from gunicorn.glogging import Logger

from bot import logs
from config import Settings

_settings = Settings.from_env()
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_settings.effective_metrics_dir))
# One per deployment, beside its other state; gunicorn keeps its 0600 mode. A path over 107 bytes (the limit of a
# unix socket's name) only costs the socket: gunicorn logs a warning and serves on.
control_socket = str(_settings.var_dir / "gunicorn.ctl")


preload_app = True


def when_ready(server: Any) -> None:
    """After the master loaded the app, before the first fork: what exists now is shared, not collected."""
    gc.freeze()


def post_fork(server: Any, worker: Any) -> None:
    """In each new worker: a pool of its own (the master's connections stay the master's). Another app started
    with this file (bench/floor.py) has no runtime."""
    rt = getattr(server.app.wsgi(), "extensions", {}).get("wanggetong")
    if rt is not None:
        rt.engine.dispose(close=False)


def on_starting(server: Any) -> None:
    """Start from zero: counts a previous run left would add to this one's."""
    path = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):  # only prometheus_client's files: the directory may be shared
        stale.unlink(missing_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


class JsonLogger(Logger):
    """gunicorn's error log (boots, worker timeouts) in the app's JSON lines."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(logs.JsonFormatter())


if _settings.log_format == "json":
    logger_class = JsonLogger
