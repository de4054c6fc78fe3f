"""An app's access token from Tencent's `stable_token`, shared through Redis by every worker on every host.

`/cgi-bin/token` invalidates the previous token at each call and counts against 2,000 a day, so processes that
fetch their own break each other. A non-forced `stable_token` call hands back the current token instead; one
process fetches at a time (a lock in Redis) and the others wait for its token. The Official Account and the
mini-program each have an app of their own, hence a token each (bot/officialaccount.py, bot/miniprogram.py).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from redis import Redis

# Our copy expires before Tencent's, so nobody sends with a token about to lapse.
TOKEN_MARGIN_SECONDS = 300


class TokenUnavailable(Exception):
    """Another worker held the refresh lock for too long and left no token behind."""


class SharedToken:
    """The token kept in Redis under `key`; `fetch(force)` asks Tencent for one: (token, expires_in).

    Redis failures (RedisError) and whatever `fetch` raises reach the caller.
    """

    def __init__(
        self, redis: Redis, key: str, fetch: Callable[[bool], tuple[str, int]], http_timeout: tuple[float, float]
    ) -> None:
        self.redis = redis
        self.key = key
        self.lock_key = f"{key}:lock"
        self.fetch = fetch
        connect, read = http_timeout
        # Long enough for two token requests (plain, then forced) to time out.
        self.lock_seconds = 2 * (connect + read) + 1

    def get(self) -> str:
        """The shared token, fetched first if there is none."""
        return self.cached() or self.refresh()

    def refresh(self, refused: str | None = None) -> str:
        """A token other than `refused`: the cached one if it differs, else fetched by whoever holds the lock.

        Workers that find the lock taken wait for the holder's token instead of fetching their own.
        """
        deadline = time.monotonic() + self.lock_seconds
        while True:
            cached = self.cached()
            if cached and cached != refused:
                return cached
            owner = uuid.uuid4().hex
            if self.redis.set(self.lock_key, owner, nx=True, px=int(self.lock_seconds * 1000)):
                try:
                    cached = self.cached()
                    if cached and cached != refused:
                        return cached
                    return self._fetch_and_cache(refused)
                finally:
                    self._unlock(owner)
            if time.monotonic() > deadline:
                raise TokenUnavailable("access token refresh lock held too long")
            time.sleep(0.05)

    def cached(self) -> str | None:
        value = self.redis.get(self.key)
        return value.decode() if isinstance(value, bytes) else value

    def _fetch_and_cache(self, refused: str | None) -> str:
        token, expires_in = self.fetch(False)
        if refused is not None and token == refused:
            # Tencent still hands out the token it just refused: force a new one (20 a day; this is rare).
            token, expires_in = self.fetch(True)
        self.redis.set(self.key, token, ex=max(60, expires_in - TOKEN_MARGIN_SECONDS))
        return token

    def _unlock(self, owner: str) -> None:
        # Delete the lock only if it is still ours (it may have expired and been taken by another worker).
        self.redis.eval(
            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0",
            1,
            self.lock_key,
            owner,
        )
