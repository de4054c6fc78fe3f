"""The centre's tests sign in from one address (127.0.0.1) against a Redis that outlives each test: the failed
sign-ins one test counts must not lock the next test out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis import Redis


@pytest.fixture(autouse=True)
def no_failed_sign_ins(redis_url: str) -> Iterator[None]:
    redis = Redis.from_url(redis_url)
    forget(redis)
    yield
    forget(redis)  # nor the page tests that sign in after these
    redis.close()


def forget(redis: Redis) -> None:
    for key in redis.scan_iter("wgt:centre:failed:*"):
        redis.delete(key)
