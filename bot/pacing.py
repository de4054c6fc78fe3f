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

# Several keys (chats) in one call, each wanting up to n slots. KEYS: each key's window keys, in window order. ARGV: a
# slot id prefix, force (1: take them even when full, for a reply that cannot wait), the number of windows, their
# (window_us, limit) pairs, then one wanted count per key. Returns, per key, the slots taken and, when fewer than
# wanted, the milliseconds until the fullest window frees one (else 0).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local force = ARGV[2] == '1'
local w = tonumber(ARGV[3])
local out = {}
for c = 1, #KEYS / w do
  local want = tonumber(ARGV[3 + 2 * w + c])
  local free = want
  for i = 1, w do
    local key = KEYS[(c - 1) * w + i]
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - tonumber(ARGV[2 + 2 * i]))
    free = math.max(0, math.min(free, tonumber(ARGV[3 + 2 * i]) - redis.call('ZCARD', key)))
  end
  if force then free = want end
  local wait = 0
  for i = 1, w do
    local key = KEYS[(c - 1) * w + i]
    local window = tonumber(ARGV[2 + 2 * i])
    for n = 1, free do
      redis.call('ZADD', key, now, ARGV[1] .. ':' .. c .. ':' .. n)
    end
    if free > 0 then redis.call('PEXPIRE', key, math.ceil(window / 1000)) end
    if free < want and redis.call('ZCARD', key) >= tonumber(ARGV[3 + 2 * i]) then
      local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
      wait = math.max(wait, math.ceil((tonumber(oldest[2]) + window - now) / 1000), 1)
    end
  end
  table.insert(out, free)
  table.insert(out, wait)
end
return out
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
        taken, wait_ms = self.take_many({key: 1}, force)[key]
        return 0 if taken else wait_ms

    def take_many(self, wants: dict[str, int], force: bool = False) -> dict[str, tuple[int, int]]:
        """Up to `wants[key]` slots for each key, in one call (a gateway's pass, every chat it has rows for): per
        key, how many were taken and, when fewer than wanted, the milliseconds until the next one frees (else 0)."""
        if not wants:
            return {}
        keys = [window_key for key in wants for window_key in self._keys(key)]
        args: list[int | str] = [uuid.uuid4().hex, "1" if force else "0", len(self.windows)]
        for limit, window_us in self.windows:
            args += [window_us, limit]
        args += list(wants.values())
        found = self.script(keys=keys, args=args)
        return {key: (int(found[2 * n]), int(found[2 * n + 1])) for n, key in enumerate(wants)}

    def _keys(self, key: str) -> list[str]:
        digest = hashlib.sha256(key.encode()).hexdigest()[:20]  # a robot key is a secret; a chat id is long
        return [f"{self.prefix}:{digest}:{window_us}" for _, window_us in self.windows]
