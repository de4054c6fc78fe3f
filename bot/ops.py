"""Operations: `/healthz` for the load balancer, `/metrics` for Prometheus, a request id on every request, and the
Redis records other processes leave for them (delivery counts, the gateway's heartbeat).

- /healthz answers 503 only when the database is down: then the node can take no complaint. Otherwise 200 with
  each check; "degraded" names what needs a person (Redis away: complaints are still taken, notices wait for it;
  no rq worker, undelivered notices, the AI-bot gateway silent, a holiday calendar that ends within
  CALENDAR_AHEAD). A 503 for Redis alone would make the load balancer drop every node at once over a fault that
  loses no complaint.
  It never waits long: Redis is asked with 1 s socket timeouts and no retries, the database in a thread that is
  given up on after DB_TIMEOUT (and not started again while it still hangs).
  Everyone sees the status and which checks pass; the details (revision, errors, the gateway's host and pid) only
  the host itself and whoever sends WGT_HEALTH_TOKEN in X-Health-Token.
- /metrics: intake counts and latency are counted in the gunicorn worker that answered (prometheus_client's
  multiprocess mode adds the workers up; gunicorn.conf.py sets it up). Everything else is read when Prometheus
  scrapes, so it is right whichever machine did the work: deliveries from a Redis hash the rq workers and the
  gateway increment, queue depths from Redis, overdue tickets and the outbox backlog from indexed counts.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any, TypeVar, cast

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue
from rq.worker_registration import WORKERS_BY_QUEUE_KEY
from sqlalchemy import text
from sqlmodel import Session

from bot import logs
from bot.runtime import Runtime
from config import Settings
from handlers import sla
from handlers.clock import local
from storage import org, outbox, tickets
from storage.models import utcnow

log = logging.getLogger(__name__)
T = TypeVar("T")

# Pending notices older than this should have gone out: the sweep re-enqueues them after 30 s.
BACKLOG_AFTER = timedelta(seconds=60)
DB_TIMEOUT = 2.0
REDIS_TIMEOUT = 1.0
# The gateway writes its heartbeat this often while connected; the key outlives three missed beats.
HEARTBEAT_SECONDS = 10
HEARTBEAT_TTL_SECONDS = 30
# Deadlines reach this far ahead (the longest limit, 15 working days, across a holiday week): the holiday calendar
# must list the years they fall in, or their holidays count as working days. The State Council publishes the next
# year in November, so this check turns a month ahead of the new year.
CALENDAR_AHEAD = timedelta(days=31)
DELIVERIES_KEY = "wanggetong:metrics:deliveries"
INTAKE_ENDPOINTS = {"wechat.receive": "wechat", "wecom.receive": "wecom"}
QUIET_ENDPOINTS = {"ops.healthz", "ops.metrics"}
REDIS_DOWN_ACTION = "Redis 不可用：投诉照常受理，通知暂缓发送，Redis 恢复后自动补发。请尽快恢复 Redis。"
HEALTH_TOKEN_HEADER = "X-Health-Token"
# A proxy on this host (nginx in docs/deploy.md) makes every request come from loopback; these say it did.
PROXY_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")

INTAKE = Counter("wanggetong_intake_requests", "Callbacks received, by channel and outcome.", ["channel", "outcome"])
INTAKE_SECONDS = Histogram(
    "wanggetong_intake_duration_seconds",
    "Time to answer a callback (WeChat gives up after 5 s).",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

blueprint = Blueprint("ops", __name__)


# ---- records other processes leave in Redis ---------------------------------------------------------------------


def heartbeat_key(bot_id: str) -> str:
    return f"wanggetong:gateway:{bot_id}:heartbeat"


def beat(redis: Redis, bot_id: str) -> None:
    """The gateway is connected now: /healthz reads how long ago this was; the key expires if beats stop."""
    value = json.dumps({"at": time.time(), "host": socket.gethostname(), "pid": os.getpid()})
    redis.set(heartbeat_key(bot_id), value, ex=HEARTBEAT_TTL_SECONDS)


def forget_heartbeat(redis: Redis, bot_id: str) -> None:
    redis.delete(heartbeat_key(bot_id))


def channel_of(kind: str) -> str:
    """Where an outbox kind goes: residents through the Official Account, the rest into WeCom groups."""
    return "wechat" if kind == "resident_notice" else "wecom"


def count_delivery(redis: Redis, kind: str, result: str, n: int = 1) -> None:
    """Count delivery attempts' result (sent | already | retry | failed); a lost count never fails a delivery."""
    try:
        redis.hincrby(DELIVERIES_KEY, f"{kind}:{result}", n)
    except Exception:
        log.warning("delivery count lost (%s %s)", kind, result, exc_info=True)


# ---- probes -----------------------------------------------------------------------------------------------------


class Bounded:
    """Run a call in a thread and stop waiting after a timeout; while a call still hangs, start no other (a
    blackholed database would otherwise collect one stuck thread per health check)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._busy = threading.Lock()

    def start(self, call: Callable[[], T]) -> Future[T]:
        """The call's future; wait on it with future.result(timeout)."""
        future: Future[T] = Future()
        if not self._busy.acquire(blocking=False):
            future.set_exception(TimeoutError("the previous check has not returned yet"))
            return future

        def target() -> None:
            try:
                future.set_result(call())
            except BaseException as error:
                future.set_exception(error)
            finally:
                self._busy.release()

        threading.Thread(target=target, name=self.name, daemon=True).start()
        return future


class Probe:
    """What /healthz and /metrics ask, built once per app from its runtime."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.settings = rt.settings
        self._redis: Redis | None = None
        self._db = Bounded("healthz-database")
        self._db_metrics = Bounded("metrics-database")

    @property
    def redis(self) -> Redis:
        """A client of the app's Redis that answers within REDIS_TIMEOUT or fails: never retries, never waits."""
        if self._redis is None:
            quick: dict[str, Any] = {
                "socket_timeout": REDIS_TIMEOUT,
                "socket_connect_timeout": REDIS_TIMEOUT,
                "retry": Retry(NoBackoff(), 0),
            }
            if self.settings.redis_url:
                self._redis = Redis.from_url(self.settings.redis_url, **quick)
            else:  # the embedded server: its socket, once the runtime has started it
                socket_file = self.rt.quick_redis.socket_file  # type: ignore[attr-defined]
                self._redis = Redis(unix_socket_path=socket_file, **quick)
        return self._redis

    @cached_property
    def queue(self) -> Queue:
        return Queue(self.settings.queue_name, connection=self.redis)

    # -- database --

    def database_facts(self, now: datetime) -> dict[str, Any]:
        with Session(self.rt.engine) as session:
            revision = session.connection().execute(text("SELECT version_num FROM alembic_version")).scalar()
            backlog, oldest = outbox.backlog(session, now - BACKLOG_AFTER)
            bots = org.named_bots(session)
        return {"revision": revision, "backlog": backlog, "oldest": oldest, "bots": bots}

    def ticket_facts(self, now: datetime) -> dict[str, Any]:
        with Session(self.rt.engine) as session:
            backlog, oldest = outbox.backlog(session, now - BACKLOG_AFTER)
            return {
                "overdue": tickets.count_overdue(session, now),
                "outbox": outbox.counts(session),
                "backlog": backlog,
                "oldest": oldest,
            }

    # -- Redis --

    def redis_facts(self) -> dict[str, Any]:
        """Queue depths, workers, the gateway's heartbeat and the delivery counts, in one round trip."""
        queue = self.queue
        pipe = self.redis.pipeline(transaction=False)
        pipe.llen(queue.key)
        pipe.zcard(queue.started_job_registry.key)
        pipe.zcard(queue.failed_job_registry.key)
        pipe.scard(WORKERS_BY_QUEUE_KEY % queue.name)
        pipe.hgetall(DELIVERIES_KEY)
        pipe.get(heartbeat_key(self.settings.wecom_bot_id))
        queued, started, failed, workers, deliveries, heartbeat = pipe.execute()
        return {
            "queue": {"queued": queued, "started": started, "failed": failed, "workers": workers},
            "deliveries": {field.decode(): int(n) for field, n in deliveries.items()},
            "heartbeat": json.loads(heartbeat) if heartbeat and self.settings.wecom_bot_id else None,
        }

    # -- /healthz --

    def health(self) -> tuple[dict[str, Any], int]:
        now = utcnow()
        started = time.perf_counter()
        # Redis is asked while the database answers: the slowest check, not the sum, bounds the answer.
        database = self._db.start(lambda: self.database_facts(now))
        checks: dict[str, dict[str, Any]] = {}
        checks["redis"], facts = self._check_redis()
        named: dict[str, list[str]] = {}  # the bots units name, each with its own gateway
        try:
            found = database.result(timeout=max(0.0, DB_TIMEOUT - (time.perf_counter() - started)))
        except Exception as error:
            checks["database"] = {"ok": False, "error": _describe(error)}
        else:
            checks["database"] = {"ok": True, "revision": found["revision"]}
            named = found["bots"]
            oldest = found["oldest"]
            checks["outbox"] = {
                "ok": found["backlog"] == 0,
                "backlog": found["backlog"],
                "oldest_seconds": round((now - oldest).total_seconds()) if oldest else None,
            }
        checks["calendar"] = calendar_check(local(now).date())
        if facts is not None:
            depth = facts["queue"]
            checks["queue"] = {"ok": depth["workers"] > 0, "name": self.queue.name, **depth}
            checks["gateway"] = self._gateway(facts["heartbeat"])
            if named:
                checks["gateway"] = self._gateways(checks["gateway"], named)
        if not checks["database"]["ok"]:
            status, code = "down", 503
        elif all(check["ok"] for check in checks.values()):
            status, code = "ok", 200
        else:
            status, code = "degraded", 200
        body = {"status": status, "checks": checks, "ms": round((time.perf_counter() - started) * 1000, 1)}
        return body, code

    def _check_redis(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        started = time.perf_counter()
        try:
            self.redis.ping()
            facts = self.redis_facts()
        except Exception as error:
            # Intake commits without Redis; the outbox sweep enqueues the notices once it is back.
            return {"ok": False, "error": _describe(error), "notices": "delayed", "action": REDIS_DOWN_ACTION}, None
        return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}, facts

    def _gateways(self, default: dict[str, Any], bots: dict[str, list[str]]) -> dict[str, Any]:
        """The default bot's gateway and one per bot the units name (import-org bot_id), each by its heartbeat."""
        others = {bot: units for bot, units in bots.items() if bot != self.settings.wecom_bot_id}
        try:
            beats = self.redis.mget([heartbeat_key(bot) for bot in others])
        except Exception as error:
            return {**default, "ok": False, "bots": {}, "error": _describe(error)}
        each = {}
        for (bot, units), beat in zip(others.items(), beats, strict=True):
            each[bot] = {**self._heartbeat_check(bot, json.loads(beat) if beat else None), "units": units}
        return {**default, "ok": default["ok"] and all(b["ok"] for b in each.values()), "bots": each}

    def _gateway(self, heartbeat: dict[str, Any] | None) -> dict[str, Any]:
        if not self.settings.wecom_bot_id:
            # No AI bot: group pushes go through each grid's group robot (webhook); there is no gateway to watch.
            return {"ok": True, "state": "not_configured"}
        return self._heartbeat_check(self.settings.wecom_bot_id, heartbeat)

    @staticmethod
    def _heartbeat_check(bot: str, heartbeat: dict[str, Any] | None) -> dict[str, Any]:
        if heartbeat is None:
            return {"ok": False, "state": "absent", "bot_id": bot}
        age = round(time.time() - float(heartbeat.get("at", 0)), 1)
        return {
            "ok": age <= HEARTBEAT_TTL_SECONDS,
            "state": "online",
            "age_seconds": age,
            "host": heartbeat.get("host"),
            "pid": heartbeat.get("pid"),
        }

    # -- /metrics --

    def collect(self) -> Iterator[Metric]:
        """The values read at scrape time (a prometheus_client custom collector)."""
        now = utcnow()
        up = GaugeMetricFamily(
            "wanggetong_up", "Whether this scrape could read the source (1) or not (0).", labels=["source"]
        )
        try:
            facts = self._db_metrics.start(lambda: self.ticket_facts(now)).result(timeout=DB_TIMEOUT)
        except Exception as error:
            log.warning("metrics: database unavailable (%s)", _describe(error))
            up.add_metric(["database"], 0)
        else:
            up.add_metric(["database"], 1)
            yield GaugeMetricFamily(
                "wanggetong_tickets_overdue",
                "Open tickets past their resolve deadline (paused ones not).",
                value=facts["overdue"],
            )
            unsent = GaugeMetricFamily("wanggetong_outbox_rows", "Outbox rows not sent, by status.", labels=["status"])
            for status, n in facts["outbox"].items():
                unsent.add_metric([status], n)
            yield unsent
            yield GaugeMetricFamily(
                "wanggetong_outbox_backlog",
                f"Pending notices older than {BACKLOG_AFTER.seconds} s (should have gone out).",
                value=facts["backlog"],
            )
            oldest = facts["oldest"]
            yield GaugeMetricFamily(
                "wanggetong_outbox_backlog_oldest_seconds",
                "Age of the oldest notice in the backlog; 0 when there is none.",
                value=(now - oldest).total_seconds() if oldest else 0,
            )
        try:
            redis_facts = self.redis_facts()
        except Exception as error:
            log.warning("metrics: Redis unavailable (%s)", _describe(error))
            up.add_metric(["redis"], 0)
        else:
            up.add_metric(["redis"], 1)
            yield from self._redis_metrics(redis_facts)
        yield up
        yield GaugeMetricFamily(
            "wanggetong_calendar_days_left",
            "Days from today to the end of the last year the holiday calendar lists (negative: already past it).",
            value=calendar_days_left(local(now).date()),
        )

    def _redis_metrics(self, facts: dict[str, Any]) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("wanggetong_queue_jobs", "rq jobs by queue and state.", labels=["queue", "state"])
        workers = GaugeMetricFamily("wanggetong_queue_workers", "rq workers listening on the queue.", labels=["queue"])
        depth = facts["queue"]
        for state in ("queued", "started", "failed"):
            jobs.add_metric([self.queue.name, state], depth[state])
        workers.add_metric([self.queue.name], depth["workers"])
        yield jobs
        yield workers
        deliveries = CounterMetricFamily(
            "wanggetong_deliveries",
            "Delivery attempts by channel, outbox kind and result (counted in Redis by rq workers and the gateway).",
            labels=["channel", "kind", "result"],
        )
        for field, n in sorted(facts["deliveries"].items()):
            kind, _, result = field.partition(":")
            deliveries.add_metric([channel_of(kind), kind, result], n)
        yield deliveries
        heartbeat = facts["heartbeat"]
        if self.settings.wecom_bot_id and heartbeat is not None:
            yield GaugeMetricFamily(
                "wanggetong_gateway_heartbeat_age_seconds",
                "Seconds since the AI-bot gateway last said it was connected (absent: it has not for 30 s).",
                value=max(0.0, time.time() - float(heartbeat.get("at", 0))),
            )

    def exposition(self) -> bytes:
        sources: list[Any] = [self]
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # the counts of every gunicorn worker, dead ones included
            sources.insert(0, registry)
        else:
            sources.insert(0, REGISTRY)
        return generate_latest(cast(CollectorRegistry, _Union(sources)))


class _Union:
    """Several collectors as one, for generate_latest."""

    def __init__(self, sources: list[Any]) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source.collect()


def calendar_check(today: date) -> dict[str, Any]:
    """Whether the working-time calendar lists the holidays of every day a deadline set today can reach."""
    cal = sla.calendar()
    through = max(cal.years, default=None)
    check: dict[str, Any] = {"ok": all(cal.covers(day) for day in (today, today + CALENDAR_AHEAD))}
    check["holidays_through"] = through
    if not check["ok"]:
        missing = min(day.year for day in (today, today + CALENDAR_AHEAD) if not cal.covers(day))
        listed = f"节假日安排只到 {through} 年" if through else "节假日安排没有任何年份"
        check["action"] = (
            f"{listed}。请按国务院办公厅通知，在 calendar.yaml 的 holidays 和 workdays 中加上 {missing} 年；"
            f"加上之前，{missing} 年的节假日按工作日计时。"
        )
    return check


def calendar_days_left(today: date) -> int:
    years = sla.calendar().years
    return (date(max(years), 12, 31) - today).days if years else -1


def _describe(error: BaseException) -> str:
    """The error's type and first line: enough for an operator, no connection strings or secrets."""
    first = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


# ---- the web side -----------------------------------------------------------------------------------------------


def install(app: Flask, rt: Runtime) -> None:
    app.extensions["wanggetong.ops"] = Probe(rt)
    app.register_blueprint(blueprint)


def probe() -> Probe:
    found: Probe = current_app.extensions["wanggetong.ops"]
    return found


@blueprint.get("/healthz")
def healthz() -> Response:
    found = probe()
    try:
        body, code = found.health()
    except Exception as error:  # a bug here must not look like a crash to the load balancer's log
        log.exception("healthz failed")
        body, code = {"status": "down", "error": _describe(error)}, 503
    if not sees_details(found.settings):
        body = public(body)
    return Response(json.dumps(body, ensure_ascii=False, default=str), status=code, mimetype="application/json")


def sees_details(settings: Settings) -> bool:
    """Whether this request may read the details: it carries WGT_HEALTH_TOKEN, or it comes from this host itself
    (loopback, and not relayed by a proxy here)."""
    given = request.headers.get(HEALTH_TOKEN_HEADER, "")
    if settings.health_token and given:
        return hmac.compare_digest(given.encode(), settings.health_token.encode())
    if any(header in request.headers for header in PROXY_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:  # a unix socket has no address
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:  # a dual-stack bind: ::ffff:127.0.0.1
        address = address.ipv4_mapped
    return address.is_loopback


def public(body: dict[str, Any]) -> dict[str, Any]:
    """What anyone may read: the status and which checks pass. No revision, host, pid, queue or error text."""
    checks = body.get("checks", {})
    return {"status": body["status"], "checks": {name: {"ok": bool(check["ok"])} for name, check in checks.items()}}


@blueprint.get("/metrics")
def metrics() -> Response:
    return Response(probe().exposition(), mimetype=CONTENT_TYPE_PLAIN_0_0_4)


@blueprint.before_app_request
def start_request() -> None:
    g.wgt_started = time.perf_counter()
    g.wgt_request_token = logs.request_id.set(logs.new_request_id(request.headers.get(logs.REQUEST_ID_HEADER)))


@blueprint.after_app_request
def finish_request(response: Response) -> Response:
    response.headers[logs.REQUEST_ID_HEADER] = logs.request_id.get()
    elapsed = time.perf_counter() - g.get("wgt_started", time.perf_counter())
    channel = INTAKE_ENDPOINTS.get(request.endpoint or "")
    if channel is not None:
        INTAKE.labels(channel, outcome(response.status_code)).inc()
        INTAKE_SECONDS.labels(channel).observe(elapsed)
    # The query string is left out: it carries the sender's openid on WeChat callbacks.
    log.log(
        logging.DEBUG if request.endpoint in QUIET_ENDPOINTS else logging.INFO,
        "request",
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round(elapsed * 1000, 1),
        },
    )
    return response


@blueprint.teardown_app_request
def end_request(_error: BaseException | None) -> None:
    token = g.pop("wgt_request_token", None)
    if token is not None:
        logs.request_id.reset(token)


def outcome(status: int) -> str:
    """ok: answered; refused: a bad signature, body or sender (4xx); unavailable: database away (503); error."""
    if status < 400:
        return "ok"
    if status < 500:
        return "refused"
    return "unavailable" if status == 503 else "error"
