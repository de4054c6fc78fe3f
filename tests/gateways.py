"""An AI-bot gateway run in a thread of the test process, against Tencent's stand-in (simulator.aibot)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from bot.gateway import Gateway
from bot.runtime import Runtime
from config import Settings
from simulator import server


class Running:
    """A gateway's run() on its own event loop in a thread, until stop()."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.loop = asyncio.new_event_loop()
        self.stop_event = asyncio.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.loop.run_until_complete(self.gateway.run(self.stop_event))
        except BaseException as error:
            self.error = error
        finally:
            # As asyncio.run does: wait for database calls still running in to_thread, or they go on after the
            # test has disposed the engine and leave a connection for the garbage collector (a ResourceWarning).
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()

    @property
    def finished(self) -> bool:
        return not self.thread.is_alive()

    def stop(self) -> None:
        if not self.finished:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(10)
        assert self.finished, "gateway did not stop within 10 s"
        if self.error:
            raise self.error


@contextmanager
def simulator_gateways(sim: server.Running, settings: Settings) -> Iterator[Gateway]:
    """Our gateways (bot.gateway) for every bot the simulator serves, as `make run` starts them: the default bot's
    and each street's (demo/org.csv bot_id), with short timings; yields the default bot's once all are connected."""
    aibot = sim.sim.aibot
    running: list[Running] = []
    try:
        for bot in aibot.bots:
            secret = aibot.secret if bot == aibot.bot_id else server.bot_secret_of(bot)
            changes = {"wecom_bot_id": bot, "wecom_bot_secret": secret, "wecom_ws_url": sim.ws_url}
            rt = Runtime(replace(settings, supervisor_chat_id=server.SUPERVISOR_CHAT_ID, **changes))  # type: ignore[arg-type]
            running.append(Running(Gateway(rt, poll_seconds=0.1, reconnect_ms=100, lock_ttl_ms=3000)))
        aibot.wait_for(lambda: all(aibot.is_connected(bot) for bot in aibot.bots))
        yield running[0].gateway
    finally:
        for each in reversed(running):
            each.stop()
            each.gateway.rt.engine.dispose()
