"""Tables. Every time is an aware UTC datetime (sqlmodel's UTCDateTime refuses naive ones)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Aware UTC now: what every time column holds."""
    return datetime.now(UTC)


class Role(StrEnum):
    RESIDENT = "resident"
    GRID_WORKER = "grid_worker"
    SUPERVISOR = "supervisor"
    DEPARTMENT = "department"  # staff of a department (城管, 住建, 供电, a 物业 company) in its WeCom group


class Status(StrEnum):
    NEW = "new"  # in the dispatch centre's queue: no grid yet, or waiting for the resident's location
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    RESOLVED = "resolved"
    CLOSED = "closed"
    RETURNED = "returned"
    REOPENED = "reopened"
    SUSPENDED = "suspended"  # 挂起: accepted, waiting for the resident (or a third party); the clock stops
    CANCELLED = "cancelled"


class OrgLevel(StrEnum):
    """The levels of the organisation tree, top down; grids hang under communities."""

    DISTRICT = "district"  # 区
    STREET = "street"  # 街道（乡镇）
    COMMUNITY = "community"  # 社区（村）


class TicketSource(StrEnum):
    RESIDENT = "resident"  # 群众反映
    PATROL = "patrol"  # 巡查发现


OPEN_STATUSES = frozenset(
    {Status.NEW, Status.ASSIGNED, Status.ACCEPTED, Status.RETURNED, Status.REOPENED, Status.SUSPENDED}
)


class OrgUnit(SQLModel, table=True):
    """A unit of the organisation (区 → 街道 → 社区) with its command centre's group chat."""

    __tablename__ = "org_unit"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=32)
    name: str = Field(max_length=64)
    level: str = Field(max_length=16)  # an OrgLevel
    parent_id: int | None = Field(default=None, foreign_key="org_unit.id", index=True)
    # The codes from the root down, "/D01/S01/C01/": a unit's subtree is every path that starts with its own.
    path: str = Field(default="", max_length=160, index=True)
    chat_id: str = Field(default="", max_length=128)
    # The WeCom AI bot (智能机器人) that speaks in the groups of this unit's subtree, unless a unit below has its own;
    # empty: its parent's, and at the root the default bot (WECOM_BOT_ID of a gateway no unit names).
    bot_id: str = Field(default="", max_length=64, index=True)


class Department(SQLModel, table=True):
    """A department that takes tickets a grid cannot solve (流转, 吹哨报到) and works in its own WeCom group."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=32)
    name: str = Field(max_length=64)
    # The unit it serves (its subtree), and that unit's path copied like a grid's.
    org_id: int | None = Field(default=None, foreign_key="org_unit.id")
    org_path: str = Field(default="", max_length=160, index=True)
    # Taxonomy codes it usually takes, "|"-separated: a hint shown to the centre with the ticket.
    categories: str = Field(default="", max_length=256)
    chat_id: str = Field(default="", max_length=128)


class Grid(SQLModel, table=True):
    __table_args__ = (
        # A unit's subtree is `org_path LIKE '/D01/S01/%'`: PostgreSQL reads that from an index only with pattern ops
        # (its collation is not C); without, a street's 统计 read all of a city's grids once per query.
        Index("ix_grid_org_path_prefix", "org_path", postgresql_ops={"org_path": "varchar_pattern_ops"}),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=32)
    name: str = Field(max_length=64)
    community: str = Field(default="", max_length=64)
    # Place names residents use for this grid, "|"-separated, ranges already expanded ("幸福小区1栋|幸福小区2栋").
    aliases: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # Indexed: a notice finds the bot of its chat's unit by the chat (storage/org.bot_for_chat).
    chat_id: str = Field(default="", max_length=128, index=True)
    # The group robot (群机器人) key for tenants without the AI bot: whoever holds it can post to the group.
    webhook_key: str = Field(default="", max_length=64)
    lat: float | None = None
    lng: float | None = None
    polygon: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The community the grid belongs to, and that unit's path copied (an import keeps it current), so "the tickets
    # of a street" is one indexed prefix match on grids instead of a walk down the tree.
    org_id: int | None = Field(default=None, foreign_key="org_unit.id")
    org_path: str = Field(default="", max_length=160, index=True)

    def alias_list(self) -> list[str]:
        return [a for a in self.aliases.split("|") if a]


class Person(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    openid: str | None = Field(default=None, unique=True, max_length=64)
    # The same resident in our mini-program (its openid differs from the Official Account's), and WeChat's unionid,
    # which is the same in both when the two are bound to one 开放平台 account: it makes them one person.
    mp_openid: str | None = Field(default=None, unique=True, max_length=64)
    unionid: str | None = Field(default=None, unique=True, max_length=64)
    wecom_userid: str | None = Field(default=None, unique=True, max_length=64)
    role: str = Field(default=Role.RESIDENT, max_length=16, index=True)
    name: str = Field(default="", max_length=64)
    # Workers: the grid they serve. Residents: the grid of their bound address.
    grid_id: int | None = Field(default=None, foreign_key="grid.id", index=True)
    # Kept whole for the centre's call-backs (回访); shown masked everywhere else.
    phone: str = Field(default="", max_length=32)
    address: str = Field(default="", max_length=128)
    subscribed: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    # Supervisors: the unit whose command centre they sit in; they see and act on its subtree only. None: the
    # whole database (a deployment without an organisation tree).
    org_id: int | None = Field(default=None, foreign_key="org_unit.id")
    # Department staff: their department.
    department_id: int | None = Field(default=None, foreign_key="department.id")


class Ticket(SQLModel, table=True):
    __table_args__ = (
        Index("ix_ticket_status_grid", "status", "grid_id"),
        Index("ix_ticket_resident_created", "resident_id", "created_at"),
        # Overdue open tickets (超时, the metrics' gauge) counted from the index alone.
        Index("ix_ticket_open_due", "status", "paused_at", "resolve_due_at"),
        # One grid's tickets of a period (统计 本月 G01): without it the period's tickets of every grid are read.
        Index("ix_ticket_grid_created", "grid_id", "created_at"),
        # The few tickets handed up (上报) and waiting for a centre, oldest first, without reading the others.
        Index("ix_ticket_reported_up", "reported_up_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    category: str = Field(max_length=32, index=True)
    urgent: bool = False
    status: str = Field(default=Status.NEW, max_length=16)
    grid_id: int | None = Field(default=None, foreign_key="grid.id")
    resident_id: int | None = Field(default=None, foreign_key="person.id")
    assignee_id: int | None = Field(default=None, foreign_key="person.id")
    # The department handling it after a 流转 (the grid stays: it is where the problem is); None: the grid's own.
    department_id: int | None = Field(default=None, foreign_key="department.id")
    # When the grid's worker handed it up (上报) and no centre has acted yet.
    reported_up_at: datetime | None = None
    text: str = Field(sa_column=Column(Text, nullable=False))
    location_text: str = Field(default="", max_length=256)
    lat: float | None = None
    lng: float | None = None
    channel: str = Field(default="wechat", max_length=16)
    # Who brought it: a resident (群众反映) or a grid worker on patrol (巡查发现, found_by_id says who).
    source: str = Field(default="resident", max_length=16)  # a TicketSource
    found_by_id: int | None = Field(default=None, foreign_key="person.id")
    source_msg_id: str = Field(default="", max_length=128)
    # What routed it, so a supervisor can see why (查).
    keywords: str = Field(default="", max_length=256)
    confidence: float = 0.0
    runner_up: str | None = Field(default=None, max_length=32)
    # "location" while the bot waits for the resident to say where.
    awaiting: str | None = Field(default=None, max_length=16)
    images: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    rating: int | None = None
    rating_note: str = Field(default="", max_length=256)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    assigned_at: datetime | None = None
    accepted_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    accept_due_at: datetime | None = None
    resolve_due_at: datetime | None = Field(default=None, index=True)
    # The clocks (handlers/sla.py). The resolve clock runs from clock_started_at (creation, or the latest reopen) for
    # sla_seconds of clock time plus paused_seconds; clock time is working time when working_clock, else calendar time.
    clock_started_at: datetime | None = None
    sla_seconds: float = 0.0
    accept_seconds: float = 0.0
    working_clock: bool = True
    paused_at: datetime | None = None
    paused_seconds: float = 0.0
    # Reminders already sent for the current clocks ("remind,escalate,warn"), and when the sweep should look again.
    alerts: str = Field(default="", max_length=128)
    next_alert_at: datetime | None = Field(default=None, index=True)
    extensions: int = 0
    # A worker's pending 延期 request as JSON ({"days": 3, "reason": "...", "by": 7}), "" when none.
    extension_request: str = Field(default="", max_length=512)
    # Facts the numbers are made of (docs/metrics.md), fixed when they happen.
    first_accepted_at: datetime | None = None
    first_resolved_at: datetime | None = None
    accept_on_time: bool | None = None
    resolve_on_time: bool | None = None
    reopen_count: int = 0
    # Residents who reported this same problem (duplicates linked to it), the first reporter included.
    reporter_count: int = 1
    callback_at: datetime | None = None


class TicketEvent(SQLModel, table=True):
    """Append-only: every status change and every note about a ticket."""

    __tablename__ = "ticket_event"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    action: str = Field(max_length=32)
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str | None = Field(default=None, max_length=16)
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow)


class TicketHelper(SQLModel, table=True):
    """A co-handler of a ticket (协办): a grid or a department that is told and may post 进展."""

    __tablename__ = "ticket_helper"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    grid_id: int | None = Field(default=None, foreign_key="grid.id")
    department_id: int | None = Field(default=None, foreign_key="department.id")
    created_at: datetime = Field(default_factory=utcnow)


class TicketReporter(SQLModel, table=True):
    """A further resident who reported the same problem: linked to the ticket instead of opening another."""

    __tablename__ = "ticket_reporter"
    __table_args__ = (UniqueConstraint("ticket_id", "person_id", name="uq_reporter_ticket_person"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    location_text: str = Field(default="", max_length=256)
    source_msg_id: str = Field(default="", max_length=128)
    similarity: float = 0.0
    # A linked reporter's own rating: recorded, but only the first reporter's closes or reopens the ticket.
    rating: int | None = None
    rating_note: str = Field(default="", max_length=256)
    created_at: datetime = Field(default_factory=utcnow)


class Once(SQLModel, table=True):
    """A job that must happen once per key (the 18:00 日报 of a day): the unique key is the guard."""

    key: str = Field(primary_key=True, max_length=128)
    created_at: datetime = Field(default_factory=utcnow)


class DataVersion(SQLModel, table=True):
    """A random token per kind of reference data ("grids"), replaced whenever that data changes, so a process can
    keep what it built from the data while the token is the same (one indexed read instead of every row)."""

    __tablename__ = "data_version"

    name: str = Field(primary_key=True, max_length=32)
    token: str = Field(max_length=32)
    changed_at: datetime = Field(default_factory=utcnow)


class PhotoCheck(StrEnum):
    """What WeChat's content check (mediaCheckAsync) said of a photo; a risky one is never shown."""

    PENDING = "pending"
    PASS = "pass"
    REVIEW = "review"
    RISKY = "risky"


class Photo(SQLModel, table=True):
    """A resident's photo: uploaded first (the mini-program sends one file per request), then named by the ticket
    it belongs to. One that no ticket named within an hour is deleted by the sweep, file and row."""

    __table_args__ = (Index("ix_photo_person_created", "person_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    # Where the store keeps it (storage/photostore.py): "2026/12/03/<hex>.jpg".
    key: str = Field(unique=True, max_length=96)
    person_id: int = Field(foreign_key="person.id")
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    sha256: str = Field(max_length=64)
    width: int = 0
    height: int = 0
    size: int = 0
    # Where the camera was, from its EXIF (the rest of the EXIF is stripped).
    lat: float | None = None
    lng: float | None = None
    check: str = Field(default=PhotoCheck.PENDING, max_length=16)  # a PhotoCheck
    # mediaCheckAsync's trace_id: its result event names it.
    trace_id: str = Field(default="", max_length=64, index=True)
    created_at: datetime = Field(default_factory=utcnow)


class InboundMessage(SQLModel, table=True):
    """One row per platform delivery key: the dedupe record and the reply we gave."""

    __tablename__ = "inbound_message"
    __table_args__ = (
        UniqueConstraint("channel", "dedupe_key", name="uq_inbound_channel_key"),
        # The 48-hour customer-service window: a resident's newest message.
        Index("ix_inbound_channel_sender_received", "channel", "sender", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    dedupe_key: str = Field(max_length=160)
    sender: str = Field(default="", max_length=64)
    kind: str = Field(default="", max_length=32)
    reply: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    received_at: datetime = Field(default_factory=utcnow)


class OutboxKind(StrEnum):
    """Who an outbox row is for, which decides the channel it goes out on."""

    RESIDENT_NOTICE = "resident_notice"  # one resident, through the Official Account
    GROUP_PUSH = "group_push"  # a grid's (or a department's) WeCom group
    SUPERVISOR_NOTICE = "supervisor_notice"  # the command centre's WeCom group


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Outbox(SQLModel, table=True):
    """A notification to deliver, written in the same transaction as the change it announces."""

    __table_args__ = (
        Index("ix_outbox_status_created", "status", "created_at"),
        # How many customer-service messages a resident got since their last message.
        Index("ix_outbox_recipient_kind_sent", "recipient", "kind", "sent_at"),
        # Whether a ticket's "more residents report it" alert went out lately (one alert per burst of links).
        Index("ix_outbox_ticket_event", "ticket_id", "event"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    kind: str = Field(max_length=32)  # an OutboxKind
    event: str = Field(max_length=32)  # assigned | accepted | resolved | ...
    recipient: str = Field(default="", max_length=128)  # chat id or openid
    # A group row's AI bot: the bot of its chat's unit when it was written (storage/org.bot_for_chat); empty for the
    # default bot, and for kinds no bot sends.
    bot: str = Field(default="", max_length=64)
    payload: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    status: str = Field(default=OutboxStatus.PENDING, max_length=16)
    attempts: int = 0
    # A worker holding the row sets this; another may take it over once it has passed (a killed worker).
    locked_until: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    # How it went out: "custom" / "template" (Official Account), "subscribe" (the mini-program's subscribe message),
    # "aibot" / "webhook" / "recording" (groups).
    via: str = Field(default="", max_length=16)
    last_error: str = Field(default="", max_length=512)


class CentreAccount(SQLModel, table=True):
    """A sign-in for the command centre's screen (/centre/), for a wall screen or someone without WeCom
    (`flask --app app add-user`). It acts as its supervisor: the Person it names, whose unit bounds what it sees."""

    __tablename__ = "centre_account"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, max_length=64)
    # werkzeug.security's scrypt hash, with its salt and parameters: "scrypt:32768:8:1$salt$hash".
    password_hash: str = Field(max_length=256)
    person_id: int = Field(foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow)
    last_signed_in_at: datetime | None = None


class SubscribeCredit(SQLModel, table=True):
    """How many more subscribe messages (订阅消息) of one template the mini-program may send one user: one for each
    time they accepted it in wx.requestSubscribeMessage, one less for each message sent (storage/subscriptions.py).

    Keyed by the mini-program openid, as Tencent keeps the count: a resident merged into another (people.merge_into)
    takes the openid along, and their credits with it."""

    __tablename__ = "subscribe_credit"
    __table_args__ = (
        UniqueConstraint("mp_openid", "template_id", name="uq_subscribe_credit_openid_template"),
        CheckConstraint("credits >= 0", name="ck_subscribe_credit_credits"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mp_openid: str = Field(max_length=64)
    template_id: str = Field(max_length=64)
    credits: int = 0
    updated_at: datetime = Field(default_factory=utcnow)
