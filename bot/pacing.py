"""Pacing under Tencent's frequency limits, shared by every process through Redis: sliding windows per key.

WeCom counts what a bot says in one chat (30 messages a minute and 1,000 an hour per conversation for the AI bot,
replies and pushes together) and what a group robot posts (20 a minute). Beyond that Tencent answers 45009 and the
message is lost, so senders take a slot first and wait for one rather than find out. One Lua script checks every
window of a key at once, on Redis's clock (one clock for every worker), so a slot is taken in all windows or none.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence

from redis import Redis

# Returns 0 when a slot was taken, else the milliseconds until the fullest window frees one. ARGV: force (1: take it
# even when full, for a reply that cannot wait), then (window_us, limit) pairs, one per key in KEYS.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local force = ARGV[1] == '1'
local slot = ARGV[2]
local wait = 0
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[1 + 2 * i])
  local limit = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    wait = math.max(wait, math.ceil((tonumber(oldest[2]) + window - now) / 1000), 1)
  end
end
if wait > 0 and not force then return wait end
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[1 + 2 * i])
  redis.call('ZADD', key, now, slot)
  redis.call('PEXPIRE', key, math.ceil(window / 1000))
end
return 0
"""


class Pace:
    """At most `limit` messages in any `seconds`, for each (limit, seconds) window, per key."""

    def __init__(self, redis: Redis, prefix: str, windows: Sequence[tuple[int, float]]) -> None:
        self.redis, self.prefix = redis, prefix
        self.windows = [(limit, int(seconds * 1_000_000)) for limit, seconds in windows]
        self.script = redis.register_script(_TAKE)

    def take(self, key: str, force: bool = False) -> int:
        """0 if a slot was taken; otherwise how many milliseconds until one frees up (nothing taken). force takes
        the slot whatever the count (a reply the user is waiting for), so what waits is the pushes behind it."""
        digest = hashlib.sha256(key.encode()).hexdigest()[:20]  # a robot key is a secret; a chat id is long
        keys = [f"{self.prefix}:{digest}:{window_us}" for _, window_us in self.windows]
        args: list[int | str] = ["1" if force else "0", uuid.uuid4().hex]
        for limit, window_us in self.windows:
            args += [window_us, limit]
        return int(self.script(keys=keys, args=args))
