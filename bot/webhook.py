"""Group pushes through a WeCom group robot (群机器人), for tenants without the AI bot.

A robot can only post into its group: workers cannot answer it there, so the push tells them to act in the
WeCom app (网格通's single chat). Each grid's robot key is `Grid.webhook_key`; the command centre's is the
setting `wecom_supervisor_webhook_key` (WECOM_SUPERVISOR_WEBHOOK_KEY).

Tencent lets a robot post 20 messages in a minute and refuses the rest (45009). Every worker takes a slot from
one Redis limiter per robot before each message; with none free the row is retried later, nobody waits. A push
longer than a markdown message may be is split on line boundaries, each part a message of its own.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from typing import Any

import requests
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from bot.channels import Delivery, DeliveryError, retryable
from bot.markup import escape_markdown, mention
from bot.pacing import Pace
from config import Settings
from storage import grids
from storage.models import Grid, Outbox, Ticket

log = logging.getLogger(__name__)

KINDS = ("group_push", "supervisor_notice")
VIA = "webhook"
# Proposed Settings field (env WECOM_SUPERVISOR_WEBHOOK_KEY): the robot in the command centre's group.

# Tencent's limits for one robot: bytes of UTF-8 in a markdown message; messages per minute.
MARKDOWN_LIMIT = 4096
PER_WINDOW = 20
WINDOW_SECONDS = 60.0
# Tencent counts a message when it arrives, a little after we took its slot: our window is a bit longer.
WINDOW_MARGIN_SECONDS = 2.0


# One progress record per outbox row, kept a few days: long enough for any retry of a row.
CLAIM_SECONDS = 3 * 24 * 3600
# A part claimed this recently may belong to an attempt still under way (the outbox lease is 60 s).
CLAIM_IN_FLIGHT_SECONDS = 120

APP_HINT = "在企业微信「网格通」应用里回复 "
_HINT = re.compile(r"^回复“(?P<command>[^”]+)”(?P<rest>.*?)。?$")
_TITLE = re.compile(r"^工单 \d+｜")
_FIELD = re.compile(r"^(?P<name>[\u4e00-\u9fa5]{2,4})：(?P<value>.*)$")

# Progress of one outbox row: "done:<n>" (n parts sent, none in flight) or "sending:<i>:<unix time>" (part i
# under way). Taking over from "done:<n>" is atomic, so two attempts never send the same part.
_CLAIM = """
local v = redis.call('GET', KEYS[1]) or 'done:0'
local n = string.match(v, '^done:(%d+)$')
if not n then return v end
if tonumber(n) >= tonumber(ARGV[2]) then return 'sent' end
redis.call('SET', KEYS[1], 'sending:' .. n .. ':' .. ARGV[1], 'EX', ARGV[3])
return 'claimed:' .. n
"""


class WebhookChannel:
    """Delivers `group_push` (to the grid's robot) and `supervisor_notice` (to the centre's robot) as markdown."""

    KINDS = KINDS

    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        engine: Engine,
        supervisor_key: str | None = None,
        per_window: int = PER_WINDOW,
        window_seconds: float = WINDOW_SECONDS + WINDOW_MARGIN_SECONDS,
    ) -> None:
        self.redis = redis
        self.engine = engine
        self.url = settings.wecom_api_base.rstrip("/") + "/webhook/send"
        self.timeout = settings.http_timeout
        if supervisor_key is None:
            supervisor_key = settings.wecom_supervisor_webhook_key
        self.supervisor_key = supervisor_key
        # Outbox ids are one database's; deployments sharing a Redis already keep apart by queue name.
        self.progress_prefix = f"wgt:{settings.queue_name}:webhook:outbox:"
        self.limiter = Pace(redis, "wgt:webhook:rate", [(per_window, window_seconds)])
        self.claim = redis.register_script(_CLAIM)
        self.http = requests.Session()

    def send(self, delivery: Delivery) -> str:
        """Send every part of the push once; a repeat for a row already sent sends nothing and returns "webhook".

        Progress is kept per part in Redis, so a retry resumes after the parts that went out. As with residents'
        notices, a part whose attempt stopped mid-send (a killed worker) is never resent: the row fails as
        "outcome unknown" rather than posting twice.
        """
        if delivery.kind not in KINDS:
            raise DeliveryError(f"{delivery.kind} is not a group notification", permanent=True)
        if not delivery.text.strip():
            raise DeliveryError(f"nothing to say for outbox {delivery.outbox_id}", permanent=True)
        text = mention(markdown(delivery.text), delivery.mention_name, delivery.mention_userid)
        parts = split_message(text, MARKDOWN_LIMIT)
        progress = f"{self.progress_prefix}{delivery.once_key}"
        start = self._claim(progress, len(parts))
        if start is None:
            return VIA
        try:
            robot = self._robot_key(delivery)
        except DeliveryError:
            self._record(progress, f"done:{start}")
            raise
        for index in range(start, len(parts)):
            try:
                self._take_slot(robot, delivery.outbox_id)
                self._post(robot, parts[index])
            except DeliveryError:
                self._record(progress, f"done:{index}")
                raise
            done = index + 1
            self._record(progress, f"done:{done}" if done == len(parts) else f"sending:{done}:{time.time():.0f}")
        return VIA

    # -- where it goes -------------------------------------------------------------------------------------------

    def _robot_key(self, delivery: Delivery) -> str:
        if delivery.kind == "supervisor_notice":
            if not self.supervisor_key:
                raise DeliveryError(
                    "WECOM_SUPERVISOR_WEBHOOK_KEY is not set: no group robot for supervisor notices", permanent=True
                )
            return self.supervisor_key
        try:
            with Session(self.engine) as session:
                grid = self._grid(session, delivery)
        except SQLAlchemyError as failure:
            raise DeliveryError(f"database: {failure}", permanent=False) from failure
        if grid is None:
            chat = delivery.recipient or "(empty)"
            raise DeliveryError(f"no grid has chat_id {chat} and the ticket has no grid", permanent=True)
        if not grid.webhook_key:
            raise DeliveryError(
                f"grid {grid.code} ({grid.name}) has no webhook_key: add its group robot's key to the grids CSV "
                "and import it again",
                permanent=True,
            )
        return grid.webhook_key

    @staticmethod
    def _grid(session: Session, delivery: Delivery) -> Grid | None:
        """The grid of the chat the push was addressed to; without a chat id (a robot-only group has none that
        we could know), the ticket's grid."""
        if delivery.recipient:
            return grids.by_chat_id(session, delivery.recipient)
        row = session.get(Outbox, delivery.outbox_id)
        ticket = session.get(Ticket, row.ticket_id) if row and row.ticket_id else None
        return session.get(Grid, ticket.grid_id) if ticket and ticket.grid_id else None

    # -- once per part -------------------------------------------------------------------------------------------

    def _claim(self, progress: str, total: int) -> int | None:
        """The first part this attempt must send, or None when every part went out already."""
        try:
            state = self.claim(keys=[progress], args=[f"{time.time():.0f}", total, CLAIM_SECONDS])
        except RedisError as failure:
            raise DeliveryError(f"redis: {failure}", permanent=False) from failure
        state = state.decode() if isinstance(state, bytes) else str(state)
        if state == "sent":
            return None
        if state.startswith("claimed:"):
            return int(state.partition(":")[2])
        _, part, started = [*state.split(":"), "", ""][:3]
        if time.time() - float(started or 0) < CLAIM_IN_FLIGHT_SECONDS:
            raise DeliveryError("another attempt for this push is under way", permanent=False)
        raise DeliveryError(
            f"an earlier attempt stopped while sending part {int(part or 0) + 1}; not resent to avoid a duplicate",
            permanent=True,
        )

    def _record(self, progress: str, state: str) -> None:
        try:
            self.redis.set(progress, state, ex=CLAIM_SECONDS)
        except RedisError:
            # The record still says a part is under way: a retry of this row fails as unknown, never doubles.
            log.warning("could not record %s for %s", state, progress)

    def _take_slot(self, robot: str, outbox_id: int) -> None:
        try:
            wait_ms = self.limiter.take(robot)
        except RedisError as failure:
            raise DeliveryError(f"redis: {failure}", permanent=False) from failure
        if wait_ms:
            log.info("outbox %s: robot %s at its per-minute limit for %d ms more", outbox_id, _masked(robot), wait_ms)
            raise DeliveryError(f"group robot at its limit of {PER_WINDOW} a minute; retry later", permanent=False)

    def _post(self, robot: str, content: str) -> None:
        body: dict[str, Any] = {"msgtype": "markdown", "markdown": {"content": content}}
        try:
            response = self.http.post(self.url, params={"key": robot}, json=body, timeout=self.timeout)
            response.raise_for_status()
            result: Any = response.json()
        except requests.RequestException as failure:
            # Timeouts, refused connections, 5xx, a body that is not JSON (a proxy's page): nothing proves the
            # push is wrong. requests puts the URL, key included, in its messages: keep the key out of the log.
            raise DeliveryError(f"{type(failure).__name__}: {failure}".replace(robot, "***"), permanent=False) from None
        errcode = result.get("errcode") if isinstance(result, dict) else None
        if errcode == 0:
            return
        errmsg = str(result.get("errmsg", "")) if isinstance(result, dict) else repr(result)[:200]
        permanent = isinstance(errcode, int) and not retryable(errcode)
        raise DeliveryError(f"wecom webhook {errcode}: {errmsg}".replace(robot, "***"), permanent=permanent)


def markdown(text: str) -> str:
    """A push as WeCom markdown: headline and ticket title bold, field names muted, the reply hint pointing to
    the app (a robot's group cannot answer), residents' words kept from being read as markup."""
    lines = []
    for index, line in enumerate(escape_markdown(text).splitlines()):
        if hint := _HINT.match(line):
            lines.append(f"{APP_HINT}{hint['command']} {hint['rest']}".rstrip())
        elif index == 0 or _TITLE.match(line):
            urgent = '｜<font color="warning">紧急</font>'
            lines.append("**" + line.replace("｜紧急", urgent) + "**" if line else "")
        elif field := _FIELD.match(line):
            lines.append(f'<font color="comment">{field["name"]}：</font>{field["value"]}')
        else:
            lines.append(line)
    return "\n".join(lines)


def split_message(text: str, limit: int) -> list[str]:
    """Parts of at most `limit` UTF-8 bytes, split between lines; a line longer than that is split between
    characters. Joined with newlines (a long line's pieces with nothing), the parts are the text again."""
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.split("\n"):
        pieces = _cut(line, limit)
        for piece in pieces[:-1]:  # all but the last piece of a long line fill a part each
            if current:
                parts.append("\n".join(current))
            parts.append(piece)
            current, size = [], 0
        piece = pieces[-1]
        length = len(piece.encode())
        if current and size + 1 + length > limit:
            parts.append("\n".join(current))
            current, size = [], 0
        size += length + (1 if current else 0)
        current.append(piece)
    if current:
        parts.append("\n".join(current))
    return [part for part in parts if part.strip()]


def _cut(line: str, limit: int) -> list[str]:
    pieces = []
    while len(line.encode()) > limit:
        # Dropping the bytes of a character cut in two leaves the longest whole-character prefix.
        head = line.encode()[:limit].decode("utf-8", "ignore") or line[0]
        pieces.append(head)
        line = line[len(head) :]
    pieces.append(line)
    return pieces


def _redis_key(kind: str, robot: str) -> str:
    # Whoever holds a robot key can post to the group: keep it out of Redis key names (KEYS, MONITOR, dumps).
    return f"wgt:webhook:{kind}:{hashlib.sha256(robot.encode()).hexdigest()[:20]}"


def _masked(robot: str) -> str:
    return robot[:4] + "…" if robot else ""
