"""Residents' notices over the Official Account: our wechatpy client and the channel that chooses the message kind.

A notice goes out as a customer-service message (客服消息) while WeChat allows one: at most 5 within 48 hours of
the resident's last message. Otherwise, or when WeChat says the window is closed, it goes out as a template
message. The access token is shared by every worker through Redis and refreshed by one of them at a time.

A notice written to "mp:<mini-program openid>" (handlers/notify.py) goes out as the mini-program's subscribe
message (订阅消息) when the resident has a credit for it (storage/subscriptions.py: one per acceptance), spent in
the database before the send. With none left, or when WeChat says there is none (43101), it goes to the resident's
Official Account openid as above; a resident without one is told nothing and the row fails, saying why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import requests
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from bot import miniprogram
from bot.channels import Delivery, DeliveryError, retryable
from bot.sharedtoken import SharedToken, TokenUnavailable
from config import Settings
from handlers.clock import local
from handlers.notify import MINI_PROGRAM
from handlers.selfservice import for_app
from storage import notices, people, subscriptions
from storage.db import transaction
from storage.models import utcnow

log = logging.getLogger(__name__)

# The token was refused: invalid, not the latest, expired. Refresh once and retry.
TOKEN_REFUSED = frozenset({40001, 40014, 42001})
# Customer-service messages are closed for this resident: outside 48 h, or 5 already sent.
WINDOW_CLOSED = frozenset({45015, 45047})

CUSTOM_WINDOW = timedelta(hours=48)
# Our clock reads the resident's message a little after Tencent's does; stop short of the edge.
CUSTOM_WINDOW_MARGIN = timedelta(minutes=5)
CUSTOM_PER_WINDOW = 5

# One claim per outbox row, kept a few days: long enough for any retry of a row, short enough to stay small.
CLAIM_SECONDS = 3 * 24 * 3600
# A claim younger than this may belong to an attempt still under way (the outbox lease is 60 s).
CLAIM_IN_FLIGHT_SECONDS = 120
SENDING = "sending"
# How a notice went out (Outbox.via): customer-service message, template message, the mini-program's subscribe message.
SUBSCRIBE = "subscribe"
VIAS = ("custom", "template", SUBSCRIBE)
# The mini-program page a tap on a subscribe message opens: the ticket, in the published mini-program.
SUBSCRIBE_PAGE = "pages/ticket/ticket?id={ticket}"

# The notice template (公众号后台 → 模板消息, a category template such as “工单进度提醒”): keyword -> (type, source).
# The keywords must be the ones the chosen template has. Each type has Tencent's length limit (FIELD_LIMITS).
NOTICE_TEMPLATE_FIELDS = {
    "character_string1": "ticket",
    "phrase2": "status",
    "thing3": "text",
    "time4": "time",
}
FIELD_LIMITS = {"thing": 20, "phrase": 5, "character_string": 32}
STATUS_PHRASES = {
    "accepted": "已接单",
    "progress": "处理中",
    "resolved": "已办结",
    "returned": "重新派单",
    "reopened": "重新办理",
    "cancelled": "已撤销",
}


# Timeouts, refused connections, a body that is not JSON (requests' JSONDecodeError), Redis away, a stuck lock.
TRANSIENT_FAILURES: tuple[type[Exception], ...] = (requests.RequestException, RedisError, TokenUnavailable)


class OfficialAccountClient(WeChatClient):
    """wechatpy's client pointed at settings.wechat_api_base, with timeouts and a token shared through Redis.

    wechatpy's own token handling is replaced: its fetch uses the invalidating `/token` with no timeout, and its
    auto-retry on a refused token recurses without limit.
    """

    def __init__(self, settings: Settings, redis: Redis) -> None:
        super().__init__(settings.wechat_appid, settings.wechat_secret, timeout=settings.http_timeout, auto_retry=False)
        # wechatpy reads API_BASE_URL from the instance; setting it here leaves the class and other clients alone.
        self.API_BASE_URL = settings.wechat_api_base
        self.redis = redis
        self.shared_token = SharedToken(
            redis, f"wgt:oa:{self.appid}:access_token", self._stable_token, settings.http_timeout
        )

    @property
    def access_token(self) -> str:
        return self.shared_token.get()

    def fetch_access_token(self) -> dict[str, Any]:
        """wechatpy's hook: a token from the shared cache or, under the lock, from `stable_token`."""
        return {"access_token": self.shared_token.refresh()}

    def send_text(self, openid: str, content: str) -> dict[str, Any]:
        return self.call("message/custom/send", {"touser": openid, "msgtype": "text", "text": {"content": content}})

    def send_template(self, openid: str, template_id: str, data: dict[str, dict[str, str]]) -> dict[str, Any]:
        return self.call("message/template/send", {"touser": openid, "template_id": template_id, "data": data})

    def call(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST through wechatpy; once the token is refused, refresh it and try exactly once more."""
        token = self.access_token
        try:
            return self._post_json(endpoint, token, body)
        except WeChatClientException as refused:
            if refused.errcode not in TOKEN_REFUSED:
                raise
            log.info("access token refused (%s); refreshing once", refused.errcode)
        return self._post_json(endpoint, self.shared_token.refresh(refused=token), body)

    def _post_json(self, endpoint: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        result = self.post(endpoint, params={"access_token": token}, data=body)
        if not isinstance(result, dict):
            # wechatpy hands back the raw response when the body is not JSON (a proxy's page): not a success.
            raise WeChatClientException(None, "response is not JSON", client=self)
        return result

    def _stable_token(self, force: bool) -> tuple[str, int]:
        body = {
            "grant_type": "client_credential",
            "appid": self.appid,
            "secret": self.secret,
            "force_refresh": force,
        }
        res = self._http.post(self.API_BASE_URL + "stable_token", json=body, timeout=self.timeout)
        try:
            res.raise_for_status()
        except requests.RequestException as failure:
            raise WeChatClientException(
                None, None, client=self, request=failure.request, response=failure.response
            ) from failure
        result = res.json()
        if result.get("errcode") or not result.get("access_token"):
            errcode = int(result["errcode"]) if result.get("errcode") else None
            raise WeChatClientException(errcode, result.get("errmsg"), client=self, request=res.request, response=res)
        return str(result["access_token"]), int(result.get("expires_in") or 7200)


class ResidentNoticeChannel:
    """Delivers `resident_notice` rows to residents; `send` returns how: "custom", "template" or "subscribe"."""

    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        engine: Engine,
        template_id: str | None = None,
        mp_template_id: str | None = None,
    ) -> None:
        self.redis = redis
        self.engine = engine
        self.client = OfficialAccountClient(settings, redis)
        # WECHAT_NOTICE_TEMPLATE_ID (proposed Settings.wechat_notice_template_id); empty: custom messages only.
        self.template_id = template_id if template_id is not None else settings.wechat_notice_template_id
        # WECHAT_MP_NOTICE_TEMPLATE_ID; empty (or no mini-program secret): no subscribe messages.
        self.mp_template_id = mp_template_id if mp_template_id is not None else settings.wechat_mp_notice_template_id
        self.mini = miniprogram.MiniProgramClient(settings, redis) if settings.miniprogram else None
        self.claim_prefix = f"wgt:oa:{settings.wechat_appid}:notice:"

    def send(self, delivery: Delivery) -> str:
        """Send once per outbox row, ever: a second call for a row already sent returns its via and sends nothing.

        The row is claimed in Redis before anything goes to WeChat. A worker killed between the claim and the
        send therefore loses that one notice (the row fails as "outcome unknown") instead of sending it twice:
        a resident who gets “已办结” twice, or two rating prompts, loses trust in the account, while a missing
        progress notice is covered by “进度”. Answers that prove nothing was delivered (an errcode, no connection)
        drop the claim, so the row's retry can send. A read timeout proves nothing either way; it is retried.
        """
        if delivery.kind != notices.RESIDENT_NOTICE:
            raise DeliveryError(f"{delivery.kind} is not a resident notice", permanent=True)
        if not delivery.recipient or not delivery.text:
            raise DeliveryError("resident notice without recipient or text", permanent=True)
        key = f"{self.claim_prefix}{delivery.once_key}"
        try:
            claimed = self.redis.set(key, f"{SENDING}:{time.time():.0f}", nx=True, ex=CLAIM_SECONDS)
            previous = None if claimed else self.redis.get(key)
        except RedisError as failure:
            raise DeliveryError(f"redis: {failure}", permanent=False) from failure
        if not claimed:
            return self._already_claimed(previous)
        try:
            via = self._deliver(delivery)
        except DeliveryError:
            self._drop_claim(key)
            raise
        try:
            self.redis.set(key, via, ex=CLAIM_SECONDS)
        except RedisError:
            # Sent, but the claim still says "sending": a repeat of this row fails as unknown, never doubles.
            log.warning("outbox %s sent via %s but its claim was not updated", delivery.outbox_id, via)
        return via

    def _already_claimed(self, previous: Any) -> str:
        value = previous.decode() if isinstance(previous, bytes) else str(previous or "")
        if value in VIAS:
            return value
        if value.startswith(SENDING + ":"):
            started = float(value.split(":", 1)[1] or 0)
            if time.time() - started < CLAIM_IN_FLIGHT_SECONDS:
                raise DeliveryError("another attempt for this notice is under way", permanent=False)
        raise DeliveryError("an earlier attempt stopped mid-send; not resent to avoid a duplicate", permanent=True)

    def _drop_claim(self, key: str) -> None:
        try:
            self.redis.delete(key)
        except RedisError:
            log.warning("could not drop the claim %s; the row's retry will fail as unknown", key)

    def _deliver(self, delivery: Delivery) -> str:
        if delivery.recipient.startswith(MINI_PROGRAM):
            return self._subscribe(delivery, delivery.recipient.removeprefix(MINI_PROGRAM))
        return self._official_account(delivery, None)

    def _subscribe(self, delivery: Delivery, mp_openid: str) -> str:
        """The mini-program's subscribe message, spending one credit first; without one, the Official Account."""
        now = utcnow()
        try:
            with Session(self.engine) as session:
                person = people.by_mp_openid(session, mp_openid)
                oa_openid = person.openid if person is not None and person.subscribed else None
                ticket_id = notices.ticket_of(session, delivery.outbox_id)
        except SQLAlchemyError as failure:
            raise DeliveryError(f"database: {failure}", permanent=False) from failure
        if self.mini is None or not self.mp_template_id:
            why = "subscribe messages are off (WECHAT_MP_NOTICE_TEMPLATE_ID or WECHAT_MP_SECRET empty)"
            return self._fall_back(delivery, oa_openid, mp_openid, why)
        try:
            with transaction(self.engine) as session:
                left = subscriptions.take(session, mp_openid, self.mp_template_id, now)
        except SQLAlchemyError as failure:
            raise DeliveryError(f"database: {failure}", permanent=False) from failure
        if left is None:
            why = "no subscribe credit left (the resident has not accepted the notice template again)"
            return self._fall_back(delivery, oa_openid, mp_openid, why)
        data = template_data(delivery.event, for_app(delivery.text), ticket_id, now)
        page = SUBSCRIBE_PAGE.format(ticket=ticket_id) if ticket_id else ""
        try:
            self.mini.send_subscribe(mp_openid, self.mp_template_id, data, page)
        except miniprogram.WeChatRefused as refused:
            if refused.errcode == miniprogram.NO_SUBSCRIPTION:
                # Tencent's count is the one that holds: it has none, so ours is none too.
                self._credits(lambda session: subscriptions.none_left(session, mp_openid, self.mp_template_id))
                why = f"wechat {refused.errcode}: the resident has no subscription left at WeChat (credits set to 0)"
                return self._fall_back(delivery, oa_openid, mp_openid, why)
            self._credits(lambda session: subscriptions.give_back(session, mp_openid, self.mp_template_id))
            permanent = not refused.retryable
            raise DeliveryError(f"wechat {refused.errcode}: {refused.errmsg}", permanent=permanent) from None
        except miniprogram.WeChatUnreachable as failure:
            # Mostly nothing was sent (no token, no connection): the credit comes back, or an outage would spend them
            # all on retries. After a read timeout that did deliver we count one too many; the next send's 43101
            # corrects it, and Tencent never sends more than the resident accepted.
            self._credits(lambda session: subscriptions.give_back(session, mp_openid, self.mp_template_id))
            raise DeliveryError(f"mini-program: {failure}", permanent=False) from None
        log.info("outbox %s: subscribe message sent, %s credits left", delivery.outbox_id, left)
        return SUBSCRIBE

    def _credits(self, change: Callable[[Session], None]) -> None:
        try:
            with transaction(self.engine) as session:
                change(session)
        except SQLAlchemyError:
            log.warning("subscribe credits not updated", exc_info=True)

    def _fall_back(self, delivery: Delivery, oa_openid: str | None, mp_openid: str, why: str) -> str:
        if not oa_openid:
            raise DeliveryError(f"{why}; no Official Account to send it through instead", permanent=True)
        log.info("outbox %s: %s; through the Official Account instead", delivery.outbox_id, why)
        return self._official_account(replace(delivery, recipient=oa_openid), mp_openid)

    def _official_account(self, delivery: Delivery, mp_openid: str | None) -> str:
        """A customer-service message while the window is open, else the template message. Rows written to the
        resident's mini-program openid that came this way count against the window as well."""
        now = utcnow()
        try:
            with Session(self.engine) as session:
                if mp_openid is None:
                    person = people.by_openid(session, delivery.recipient)
                    mp_openid = person.mp_openid if person is not None else None
                last = notices.last_message_at(session, delivery.recipient)
                used = 0
                if last:
                    used = notices.custom_notices_since(session, delivery.recipient, last)
                    if mp_openid:
                        used += notices.custom_notices_since(session, MINI_PROGRAM + mp_openid, last)
                ticket_id = notices.ticket_of(session, delivery.outbox_id)
        except SQLAlchemyError as failure:
            raise DeliveryError(f"database: {failure}", permanent=False) from failure
        window_open = last is not None and now - last < CUSTOM_WINDOW - CUSTOM_WINDOW_MARGIN
        if window_open and used < CUSTOM_PER_WINDOW:
            try:
                self.client.send_text(delivery.recipient, delivery.text)
                return "custom"
            except WeChatClientException as failure:
                if failure.errcode not in WINDOW_CLOSED:
                    raise as_delivery_error(failure) from failure
                log.info(
                    "outbox %s: custom message refused (%s); template instead", delivery.outbox_id, failure.errcode
                )
            except TRANSIENT_FAILURES as failure:
                raise as_delivery_error(failure) from failure
        if not self.template_id:
            raise DeliveryError("customer-service window closed and no notice template configured", permanent=True)
        data = template_data(delivery.event, delivery.text, ticket_id, now)
        try:
            self.client.send_template(delivery.recipient, self.template_id, data)
        except (WeChatClientException, *TRANSIENT_FAILURES) as failure:
            raise as_delivery_error(failure) from failure
        return "template"


def template_data(event: str, text: str, ticket_id: int | None, now: datetime) -> dict[str, dict[str, str]]:
    """The template's fields for one notice, each cut to its type's limit."""
    at = local(now)
    sources = {
        "ticket": str(ticket_id) if ticket_id else "-",
        "status": STATUS_PHRASES.get(event, "有更新"),
        "text": text,
        "time": f"{at.year}年{at.month}月{at.day}日 {at:%H:%M}",
    }
    return {key: {"value": fit(key, sources[source])} for key, source in NOTICE_TEMPLATE_FIELDS.items()}


def fit(key: str, value: str) -> str:
    limit = FIELD_LIMITS.get(key.rstrip("0123456789"))
    value = " ".join(value.split())
    if limit is None or len(value) <= limit:
        return value
    return value[: limit - 1] + "…"


def as_delivery_error(failure: Exception) -> DeliveryError:
    """How the outbox should treat a failed call: retry later, or give the notice up."""
    if isinstance(failure, WeChatClientException):
        errcode = failure.errcode
        # None: an HTTP error status rather than an errcode (a proxy, an outage page).
        permanent = not retryable(errcode)
        return DeliveryError(f"wechat {errcode}: {failure.errmsg}", permanent=permanent)
    # TRANSIENT_FAILURES: nothing says the notice itself is wrong.
    return DeliveryError(f"{type(failure).__name__}: {failure}", permanent=False)
