"""Addresses of residents' photos that need no sign-in: a signed link to one photo (an hour, for the resident's
page, whose img tags send no token), and a signed page of a ticket's photos (90 days, for the group card's
"照片" row, which a worker opens in WeCom's browser). Both are signed with WGT_SESSION_SECRET; whoever has one may
look, as whoever sees the card may."""

from __future__ import annotations

import hashlib
import hmac
import time

from itsdangerous import BadSignature, URLSafeTimedSerializer

from config import Settings

PHOTO_SECONDS = 3600
PAGE_SECONDS = 90 * 86400


def photo_path(settings: Settings, photo_id: int, now: float | None = None) -> str:
    expires = int((now or time.time()) + PHOTO_SECONDS)
    return f"/api/v1/photos/{photo_id}?exp={expires}&sig={_signature(settings, photo_id, expires)}"


def photo_allowed(settings: Settings, photo_id: int, expires: str, signature: str) -> bool:
    if not expires.isdecimal() or int(expires) < time.time():
        return False
    # Bytes: compare_digest refuses a str with characters beyond ASCII (a forged link may carry any).
    return hmac.compare_digest(signature.encode(), _signature(settings, photo_id, int(expires)).encode())


def _signature(settings: Settings, photo_id: int, expires: int) -> str:
    secret = settings.session_secret.encode()
    return hmac.new(secret, f"photo:{photo_id}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def _pages(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.session_secret, salt="wgt-ticket-photos")


def ticket_page(settings: Settings, ticket_id: int) -> str:
    """The absolute address of the ticket's photo page, or "" when WGT_PUBLIC_URL is not set (WeCom opens only an
    absolute address, and the card then just says how many photos there are)."""
    if not settings.public_url:
        return ""
    token = _pages(settings).dumps(ticket_id)
    return f"{settings.public_url.rstrip('/')}/api/v1/shared/{token}"


def ticket_of_page(settings: Settings, token: str) -> int | None:
    try:
        found = _pages(settings).loads(token, max_age=PAGE_SECONDS)
    except BadSignature:
        return None
    return found if isinstance(found, int) else None
