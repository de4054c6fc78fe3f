"""One gateway per bot: the Redis lock it holds while connected, and how its Redis loops bear a Redis in trouble."""

from __future__ import annotations

import logging
import uuid

from redis import Redis

log = logging.getLogger(__name__)


def lock_key(bot_id: str) -> str:
    return f"wanggetong:gateway:{bot_id}"


class BotLock:
    """`SET NX PX` with a random token; renew and release only while the token is still ours."""

    # 1: renewed. 2: the key was gone and is ours again: a Redis restarted without its data (or flushed) forgot the
    # lock while this gateway stayed connected, and no other gateway can have connected since without taking it.
    # 0: another gateway's token is there.
    _RENEW = """
local held = redis.call('get', KEYS[1])
if held == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
if not held then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end
return 0"""
    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
    RENEWED, RETAKEN, LOST = 1, 2, 0

    def __init__(self, redis: Redis, bot_id: str, ttl_ms: int) -> None:
        self.redis, self.key, self.ttl_ms = redis, lock_key(bot_id), ttl_ms
        self.token = uuid.uuid4().hex

    def acquire(self) -> bool:
        return bool(self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms))

    def renew(self) -> int:
        """RENEWED, RETAKEN (the key had vanished) or LOST (another gateway holds it)."""
        return int(self.redis.eval(self._RENEW, 1, self.key, self.token, self.ttl_ms))

    def release(self) -> None:
        self.redis.eval(self._RELEASE, 1, self.key, self.token)


class RedisTrouble:
    """One loop's view of a Redis that keeps failing: growing waits between attempts (0.5 s doubling up to 30 s),
    one warning when the trouble starts and one line when it ends, rather than a traceback every few seconds."""

    FIRST, MOST = 0.5, 30.0

    def __init__(self, what: str) -> None:
        self.what = what
        self.failures = 0

    def failed(self, error: BaseException) -> float:
        """Note a failure; the seconds to wait before the next attempt."""
        self.failures += 1
        if self.failures == 1:
            log.warning("%s: Redis unavailable (%s); retrying until it answers", self.what, error, exc_info=error)
        else:
            log.debug("%s: Redis still unavailable (%s)", self.what, error)
        return min(self.MOST, self.FIRST * 2 ** (self.failures - 1))

    def worked(self) -> None:
        if self.failures:
            log.info("%s: Redis answers again after %d failed attempts", self.what, self.failures)
        self.failures = 0
