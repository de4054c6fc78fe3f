"""Operations: /healthz as a load balancer reads it, /metrics as Prometheus scrapes it, and the log lines, after
real signed complaints through the callback."""

from __future__ import annotations

import http.client
import io
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from rq import Worker
from sqlalchemy import text
from sqlmodel import select

from bot import logs, ops
from bot.gateway import Gateway
from bot.runtime import Runtime
from config import DEV_WECHAT_AES_KEY, DEV_WECHAT_APPID, DEV_WECHAT_TOKEN
from simulator.aibot import AIBotServer
from simulator.officialaccount import OfficialAccount
from storage import outbox, tickets
from storage.db import transaction
from storage.models import Outbox, Ticket, utcnow
from tests.gateways import Running
from tests.processes import Processes, free_port

COMPLAINT = "3号楼楼道灯坏了好几天了，有事打我电话13912345678"


def health(client: FlaskClient) -> tuple[int, dict[str, Any]]:
    response = client.get("/healthz")
    return response.status_code, response.get_json()


def scrape(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    response = client.get("/metrics")
    assert response.status_code == 200
    return samples(response.get_data(as_text=True))


def samples(exposition: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
    }


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


def post_complaint(client: FlaskClient, oa: OfficialAccount, text_: str, **headers: str) -> Any:
    query, body = oa.signed(oa.text("o-demo-resident-1", text_))
    return client.post(f"/wechat?{query}", data=body, content_type="text/xml", headers=headers)


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """What the production handler (context filter + JSON formatter) writes, each line parsed as JSON."""
    stream = io.StringIO()
    handler = logs.handler(stream, "json")
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def rq_worker(rt: Runtime) -> Iterator[Worker]:
    """A worker registered on the test's queue, as a running `python worker.py` would be."""
    worker = Worker([rt.queue], connection=rt.redis, name=f"test-worker-{uuid.uuid4().hex[:6]}")
    worker.register_birth()
    yield worker
    worker.register_death()


# ---- /healthz -----------------------------------------------------------------------------------------------------


def calendar_listing(path: Path, *years: int) -> Path:
    """A working-time calendar that lists these years (with no holidays: only their listing matters here)."""
    listed = "".join(f"  {year}: []\n" for year in years)
    path.write_text(
        f'hours: {{start: "08:30", end: "18:00"}}\nweekdays: [1, 2, 3, 4, 5]\nholidays:\n{listed}workdays: {{}}\n'
    )
    return path


def calendar_now(make_app: Callable[..., Any], tmp_path: Path) -> FlaskClient:
    """A client of an app whose calendar lists this year and the next, so that /healthz's calendar check passes
    whatever today is (the bundled calendar.yaml turns it a month before a year it does not list, as it should)."""
    this_year = utcnow().year
    return make_app(calendar_file=calendar_listing(tmp_path / "calendar.yaml", this_year, this_year + 1)).test_client()


def test_healthz_is_ok_with_each_check_when_everything_is_up(make_app, tmp_path, rt, rq_worker):
    status, body = health(calendar_now(make_app, tmp_path))
    assert status == 200, body
    assert body["status"] == "ok"
    checks = body["checks"]
    assert checks["database"]["ok"] and checks["database"]["revision"]
    assert checks["redis"]["ok"]
    assert checks["queue"] == {
        "ok": True,
        "name": rt.settings.queue_name,
        "queued": 0,
        "started": 0,
        "failed": 0,
        "workers": 1,
    }
    assert checks["outbox"] == {"ok": True, "backlog": 0, "oldest_seconds": None}
    assert checks["gateway"] == {"ok": True, "state": "not_configured"}  # no AI bot: webhook fallback
    assert checks["calendar"] == {"ok": True, "holidays_through": utcnow().year + 1}


def test_healthz_says_which_year_of_holidays_to_add_a_month_before_it_starts(make_app, tmp_path, rq_worker):
    """Deadlines past the calendar's last year would count its holidays as working days: the operator is told
    in time, and the node keeps taking complaints (200, degraded)."""
    with time_machine.travel(datetime(2026, 11, 20, 4, 0, tzinfo=UTC), tick=False):
        client = make_app(calendar_file=calendar_listing(tmp_path / "calendar.yaml", 2026)).test_client()
        assert health(client)[1]["checks"]["calendar"]["ok"] is True  # 2026-12-21 is still listed
        assert value(scrape(client), "wanggetong_calendar_days_left") == 41
    with time_machine.travel(datetime(2026, 12, 2, 4, 0, tzinfo=UTC), tick=False):
        status, body = health(client)
        assert (status, body["status"]) == (200, "degraded")
        check = body["checks"]["calendar"]
        assert check["ok"] is False and check["holidays_through"] == 2026
        assert "加上 2027 年" in check["action"]
        assert value(scrape(client), "wanggetong_calendar_days_left") == 29


def test_healthz_is_degraded_but_200_without_a_worker_and_with_undelivered_notices(client, rt, session):
    with transaction(rt.engine) as s:
        outbox.add(s, "resident_notice", "assigned", "o-someone", None)
    ((row_id, *_),) = outbox.queued(s)
    with transaction(rt.engine) as s:
        s.get(Outbox, row_id).created_at = utcnow() - timedelta(minutes=5)
    status, body = health(client)
    assert status == 200
    assert body["status"] == "degraded"
    assert body["checks"]["queue"]["ok"] is False and body["checks"]["queue"]["workers"] == 0
    outbox_check = body["checks"]["outbox"]
    assert outbox_check["ok"] is False and outbox_check["backlog"] == 1
    assert 290 <= outbox_check["oldest_seconds"] <= 400


def test_healthz_is_degraded_but_200_at_once_when_redis_refuses(make_app):
    """Complaints are still taken (their notices wait in the outbox): the node stays in the load balancer."""
    client = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0").test_client()
    started = time.monotonic()
    status, body = health(client)
    assert time.monotonic() - started < 1.0
    assert status == 200
    assert body["status"] == "degraded"
    assert body["checks"]["redis"]["ok"] is False and "ConnectionError" in body["checks"]["redis"]["error"]
    assert body["checks"]["redis"]["notices"] == "delayed"
    assert body["checks"]["database"]["ok"] is True


def test_healthz_gives_up_on_a_redis_that_never_answers_within_about_a_second(make_app):
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        client = make_app(redis_url=f"redis://127.0.0.1:{silent.getsockname()[1]}/0").test_client()
        started = time.monotonic()
        status, body = health(client)
        elapsed = time.monotonic() - started
    assert status == 200 and body["status"] == "degraded" and body["checks"]["redis"]["ok"] is False
    assert elapsed < ops.REDIS_TIMEOUT + 1.5  # not a hang: a loaded CI machine adds its own half second


def test_healthz_is_503_when_the_database_is_down(make_app):
    client = make_app(database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/nothing").test_client()
    started = time.monotonic()
    status, body = health(client)
    assert time.monotonic() - started < ops.DB_TIMEOUT + 0.5
    assert status == 503
    assert body["status"] == "down"
    assert body["checks"]["database"]["ok"] is False and "OperationalError" in body["checks"]["database"]["error"]
    assert body["checks"]["redis"]["ok"] is True
    assert "outbox" not in body["checks"]


def test_healthz_shows_anyone_only_the_status_and_which_checks_pass(make_app):
    client = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0").test_client()
    outside = {"REMOTE_ADDR": "203.0.113.7"}
    response = client.get("/healthz", environ_base=outside)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == {"ok": True}  # no migration revision
    assert body["checks"]["redis"] == {"ok": False}  # no error text, no Redis address
    assert all(set(check) == {"ok"} for check in body["checks"].values())
    assert set(body) == {"status", "checks"}


def test_healthz_details_are_for_this_host_and_for_the_health_token(make_app):
    client = make_app(health_token="s3cret-health-token").test_client()

    def detailed(remote: str = "127.0.0.1", **headers: str) -> bool:
        headers = {name.replace("_", "-"): value for name, value in headers.items()}
        response = client.get("/healthz", headers=headers, environ_base={"REMOTE_ADDR": remote})
        return "revision" in response.get_json()["checks"]["database"]

    assert detailed() and detailed("::1") and detailed("::ffff:127.0.0.1")  # the host itself (a test client: 127.0.0.1)
    assert not detailed("10.1.2.3")
    # nginx on the same host relays everyone from loopback, and says so
    assert not detailed(X_Forwarded_For="203.0.113.7")
    assert not detailed(Forwarded="for=203.0.113.7")
    # the token opens the details from anywhere; a wrong one opens nothing, not even on loopback
    assert detailed("10.1.2.3", X_Health_Token="s3cret-health-token")
    assert not detailed("10.1.2.3", X_Health_Token="guess")
    assert not detailed(X_Health_Token="guess")


def test_healthz_keeps_the_gateways_host_and_pid_from_the_public(make_app, settings):
    with AIBotServer(f"bot-{uuid.uuid4().hex[:8]}", "bot-secret") as aibot:
        bot = {"wecom_bot_id": aibot.bot_id, "wecom_bot_secret": aibot.secret, "wecom_ws_url": aibot.url}
        client = make_app(**bot).test_client()
        gateway_rt = Runtime(replace(settings, **bot))  # type: ignore[arg-type]
        running = Running(Gateway(gateway_rt, reconnect_ms=100, lock_ttl_ms=3000))
        try:
            wait_for(lambda: health(client)[1]["checks"]["gateway"]["state"] == "online")
            public = client.get("/healthz", environ_base={"REMOTE_ADDR": "203.0.113.7"}).get_json()
            assert public["checks"]["gateway"] == {"ok": True}
            shown = json.dumps(public)
            assert str(os.getpid()) not in shown and socket.gethostname() not in shown and aibot.bot_id not in shown
        finally:
            running.stop()
            gateway_rt.engine.dispose()


def wait_for(check: Callable[[], Any], timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return result


def test_healthz_reads_the_gateways_heartbeat_while_it_is_connected(make_app, settings):
    with AIBotServer(f"bot-{uuid.uuid4().hex[:8]}", "bot-secret") as aibot:
        bot = {"wecom_bot_id": aibot.bot_id, "wecom_bot_secret": aibot.secret, "wecom_ws_url": aibot.url}
        client = make_app(**bot).test_client()
        status, body = health(client)
        assert status == 200 and body["status"] == "degraded"
        assert body["checks"]["gateway"] == {"ok": False, "state": "absent", "bot_id": aibot.bot_id}

        gateway_rt = Runtime(replace(settings, **bot))  # type: ignore[arg-type]
        running = Running(Gateway(gateway_rt, reconnect_ms=100, lock_ttl_ms=3000))
        try:
            gateway = wait_for(lambda: (g := health(client)[1]["checks"]["gateway"])["state"] == "online" and g)
            assert gateway["ok"] is True and 0 <= gateway["age_seconds"] < ops.HEARTBEAT_SECONDS + 1
            assert gateway["pid"] == os.getpid()
        finally:
            running.stop()
            gateway_rt.engine.dispose()
        # A clean stop says so at once rather than letting the key run out.
        assert health(client)[1]["checks"]["gateway"]["state"] == "absent"


# ---- /metrics -----------------------------------------------------------------------------------------------------


def test_metrics_count_signed_complaints_by_channel_and_outcome(client, oa, demo):
    before = scrape(client)
    assert post_complaint(client, oa, "3号楼楼道灯坏了").status_code == 200
    query, body = oa.signed(oa.text("o-demo-resident-1", "3号楼楼道灯坏了"))
    assert client.post(f"/wechat?{query.replace('signature=', 'signature=0')}", data=body).status_code == 403
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("wanggetong_intake_requests_total", channel="wechat", outcome="ok") == 1
    assert delta("wanggetong_intake_requests_total", channel="wechat", outcome="refused") == 1
    assert delta("wanggetong_intake_duration_seconds_count", channel="wechat") == 2
    assert delta("wanggetong_intake_duration_seconds_bucket", channel="wechat", le="5.0") == 2
    # Only the two callbacks count: not /metrics, not /healthz.
    total = "wanggetong_intake_requests_total"
    assert (
        sum(v for (name, _), v in after.items() if name == total)
        - sum(v for (name, _), v in before.items() if name == total)
        == 2
    )


def test_metrics_count_an_overdue_ticket_but_not_one_waiting_for_the_resident(client, resident, stranger, session):
    resident.say("3号楼楼道灯坏了")
    stranger.say("楼道灯坏了")  # no place: the ticket waits for the resident, its clock paused
    assert value(scrape(client), "wanggetong_tickets_overdue") == 0
    with time_machine.travel(utcnow() + timedelta(days=30), tick=True):
        assert value(scrape(client), "wanggetong_tickets_overdue") == 1
        assert len(tickets.overdue(session, utcnow())) == 1  # the 超时 list agrees


def test_metrics_show_queue_depth_outbox_and_deliveries_after_a_complaint(client, resident, run_worker, rt):
    before = scrape(client)
    resident.say("3号楼楼道灯坏了")
    queued = scrape(client)
    assert value(queued, "wanggetong_queue_jobs", queue=rt.settings.queue_name, state="queued") >= 1
    assert value(queued, "wanggetong_outbox_rows", status="pending") >= 1
    assert value(queued, "wanggetong_up", source="database") == 1
    assert value(queued, "wanggetong_up", source="redis") == 1
    run_worker()
    after = scrape(client)
    assert value(after, "wanggetong_queue_jobs", queue=rt.settings.queue_name, state="queued") == 0
    assert value(after, "wanggetong_outbox_rows", status="pending") == 0
    sent = ("wanggetong_deliveries_total", {"channel": "wecom", "kind": "group_push", "result": "sent"})
    assert value(after, sent[0], **sent[1]) - value(before, sent[0], **sent[1]) == 1


def test_metrics_answer_with_the_database_down(make_app):
    client = make_app(database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/nothing").test_client()
    scraped = scrape(client)
    assert value(scraped, "wanggetong_up", source="database") == 0
    assert value(scraped, "wanggetong_up", source="redis") == 1


def test_the_overdue_count_is_answered_from_its_index(rt, session):
    if rt.engine.dialect.name != "sqlite":
        pytest.skip("reads SQLite's query plan; PostgreSQL's plan depends on table statistics")
    statement = select(Ticket.id).where(*tickets._overdue(utcnow()))
    sql = str(statement.compile(rt.engine, compile_kwargs={"literal_binds": True}))
    plan = " ".join(str(row) for row in session.connection().execute(text("EXPLAIN QUERY PLAN " + sql)))
    assert "COVERING INDEX ix_ticket_open_due" in plan


# ---- logs ---------------------------------------------------------------------------------------------------------


def test_a_complaint_logs_json_lines_with_its_request_and_ticket_ids_and_no_words(
    client, oa, demo, session, run_worker, log_lines
):
    response = post_complaint(client, oa, COMPLAINT, **{"X-Request-Id": "lb-7f3a"})
    assert response.status_code == 200
    assert response.headers["X-Request-Id"] == "lb-7f3a"
    (ticket,) = session.exec(select(Ticket)).all()
    run_worker()
    lines = log_lines()

    opened = [line for line in lines if line["message"] == "ticket opened"]
    assert len(opened) == 1
    assert opened[0]["request_id"] == "lb-7f3a"
    assert opened[0]["ticket_id"] == ticket.id
    assert opened[0]["channel"] == "wechat" and opened[0]["category"] == ticket.category
    assert opened[0]["msg_id"] == ticket.source_msg_id
    request = [line for line in lines if line["message"] == "request"]
    assert request == [
        {**request[0], "request_id": "lb-7f3a", "method": "POST", "path": "/wechat", "status": 200, "level": "INFO"}
    ]

    sent = [line for line in lines if line["message"] == "delivery sent"]
    assert sent and all(line["ticket_id"] == ticket.id for line in sent)
    assert {line["job_id"] for line in sent} == {f"outbox-{line['outbox_id']}" for line in sent}
    assert all("request_id" not in line for line in sent)  # a job is not the request that queued it

    written = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    assert "13912345678" not in written and "楼道灯坏了" not in written


def test_a_request_id_is_made_when_none_or_an_unusable_one_is_given(client):
    made = client.get("/healthz").headers["X-Request-Id"]
    forged = client.get("/healthz", headers={"X-Request-Id": 'x" , "level": "FAKE'}).headers["X-Request-Id"]
    assert len(made) == 32 and len(forged) == 32 and made != forged


def test_text_logs_keep_the_ids_readable():
    record = logging.LogRecord("handlers.complaints", logging.INFO, __file__, 1, "ticket opened", None, None)
    record.ticket_id = 12
    assert logs.TextFormatter().format(record).endswith("INFO handlers.complaints ticket opened [ticket_id=12]")


# ---- the real thing: gunicorn's workers add up, and everything it writes is JSON -------------------------------------


@pytest.mark.slow
def test_gunicorn_workers_add_up_in_metrics_and_write_json_lines(redis_url, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WGT_", "WECHAT_", "WECOM_", "PROMETHEUS_"))}
    env.pop("DATABASE_URL", None)
    env.update(
        REDIS_URL=redis_url,
        WGT_VAR_DIR=str(tmp_path),
        WGT_QUEUE=f"test-{uuid.uuid4().hex[:8]}",
        WGT_LOG_FORMAT="json",
        WGT_DAILY_REPORT_AT="",
    )
    procs = Processes(env, tmp_path)
    port = free_port()
    oa = OfficialAccount(token=DEV_WECHAT_TOKEN, aes_key=DEV_WECHAT_AES_KEY, appid=DEV_WECHAT_APPID)

    def get(path: str) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read().decode()
        except OSError:
            return 0, ""
        finally:
            conn.close()

    try:
        procs.run("-m", "flask", "--app", "app", "seed-demo")
        web = procs.start("web", "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", "app:create_app()")
        procs.wait_for(lambda: get("/healthz")[0] in (200, 503) or not web.alive(), 30, "gunicorn to answer")
        assert web.alive(), procs.report()
        for n in range(6):
            query, body = oa.signed(oa.text("o-demo-resident-1", f"幸福小区{n + 1}栋楼道灯坏了"))
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", f"/wechat?{query}", body=body, headers={"Content-Type": "text/xml"})
            assert conn.getresponse().status == 200
            conn.close()
        # Whichever worker answers the scrape, it reports all six.
        for _ in range(6):
            status, exposition = get("/metrics")
            assert status == 200
            scraped = samples(exposition)
            assert value(scraped, "wanggetong_intake_requests_total", channel="wechat", outcome="ok") == 6
            assert value(scraped, "wanggetong_intake_duration_seconds_count", channel="wechat") == 6
        assert list((tmp_path / "prometheus").glob("counter_*.db")), "multiprocess mode was not on"
    finally:
        procs.stop_all()

    lines = [json.loads(line) for line in web.log.read_text().splitlines() if line.strip()]
    assert any(line["logger"] == "gunicorn.error" and "Booting worker" in line["message"] for line in lines)
    opened = [line for line in lines if line["message"] == "ticket opened"]
    assert len(opened) == 6 and all(line["request_id"] and line["ticket_id"] for line in opened)


@pytest.mark.slow
def test_two_gunicorns_of_one_user_each_keep_their_own_control_socket(redis_url, tmp_path: Path):
    """gunicorn's default is one control socket per user: the second took it over and deleted it on stopping."""
    home = tmp_path / "home"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("WGT_", "WECHAT_", "WECOM_", "PROMETHEUS_"))}
    base.pop("DATABASE_URL", None)
    base.pop("XDG_RUNTIME_DIR", None)
    base.update(HOME=str(home), REDIS_URL=redis_url, WGT_DAILY_REPORT_AT="")
    deployments = []
    for name in ("first", "second"):
        var = tmp_path / name
        var.mkdir()
        procs = Processes({**base, "WGT_VAR_DIR": str(var), "WGT_QUEUE": f"test-{uuid.uuid4().hex[:8]}"}, var)
        port = free_port()
        web = procs.start("web", "-m", "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{port}", "app:create_app()")
        deployments.append((var, procs, web))
    try:
        for var, procs, web in deployments:
            ctl = var / "gunicorn.ctl"
            procs.wait_for(lambda ctl=ctl, web=web: ctl.is_socket() or not web.alive(), 30, "the control socket")
            assert web.alive(), procs.report()
        second_var, second, _ = deployments[1]
        second.stop_all()
        assert not (second_var / "gunicorn.ctl").exists()  # it cleaned up after itself
        assert (deployments[0][0] / "gunicorn.ctl").is_socket()  # and left the first one's alone
        assert not (home / ".gunicorn").exists()  # neither used the per-user default
    finally:
        for _, procs, _ in deployments:
            procs.stop_all()
