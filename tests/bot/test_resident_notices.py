"""Residents' notices reach them over real HTTP to the WeChat API stand-in: customer-service messages while
WeChat allows them, template messages after, each notice once, the access token fetched once for everyone."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from werkzeug.serving import make_server

from bot.channels import Delivery, DeliveryError
from bot.officialaccount import ResidentNoticeChannel
from bot.runtime import Runtime
from simulator.wechat_api import WeChatApi, create_wechat_api
from storage import outbox
from storage.db import transaction
from storage.models import InboundMessage, utcnow

SECRET = "test-oa-secret"
TEMPLATE_ID = "tpl-ticket-progress"
RESIDENT = "o-demo-resident-1"
ACCEPTED = "您反映的问题（工单 7）已由张网格员接单，正在处理。回复“进度 7”查看。"


@dataclass
class Tencent:
    url: str
    api: WeChatApi
    appid: str


@pytest.fixture
def tencent() -> Iterator[Tencent]:
    """The stand-in on a free loopback port; a fresh appid per test keeps its Redis keys apart from others'."""
    appid = "wx-test-" + uuid.uuid4().hex[:10]
    app = create_wechat_api(appid, SECRET)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    api = app.extensions["wechat_api"]
    yield Tencent(f"http://127.0.0.1:{server.server_port}", api, appid)
    api.close()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def oa_rt(make_app, tencent: Tencent) -> Runtime:
    flask_app = make_app(
        wechat_appid=tencent.appid,
        wechat_secret=SECRET,
        wechat_api_base=f"{tencent.url}/cgi-bin/",
        http_timeout=(1.0, 0.5),
    )
    return flask_app.extensions["wanggetong"]


@pytest.fixture
def channel(oa_rt: Runtime) -> Callable[[], ResidentNoticeChannel]:
    """A new channel, as each worker process builds its own."""

    def make() -> ResidentNoticeChannel:
        return ResidentNoticeChannel(oa_rt.settings, oa_rt.redis, oa_rt.engine, template_id=TEMPLATE_ID)

    return make


def resident_wrote(engine: Engine, tencent: Tencent, at: datetime, openid: str = RESIDENT) -> None:
    """The resident's message, as both sides saw it: our inbound record and WeChat's 48-hour clock."""
    with transaction(engine) as s:
        s.add(InboundMessage(channel="wechat", dedupe_key=uuid.uuid4().hex, sender=openid, kind="text", received_at=at))
    tencent.api.user_messaged(openid, at=at)


def notice(engine: Engine, text: str = ACCEPTED, event: str = "accepted", openid: str = RESIDENT) -> Delivery:
    with transaction(engine) as s:
        outbox.add(s, "resident_notice", event, openid, None)
    ((row_id, *_),) = outbox.queued(s)
    return Delivery(row_id, "resident_notice", event, openid, text)


def deliver(engine: Engine, chan: ResidentNoticeChannel, delivery: Delivery) -> str:
    """What bot.jobs.deliver does once a channel reports how it sent: send, then mark the row sent with its via."""
    via = chan.send(delivery)
    with transaction(engine) as s:
        outbox.mark_sent(s, [delivery.outbox_id], utcnow(), via)
    return via


def kinds(tencent: Tencent, openid: str = RESIDENT) -> list[str]:
    return [m["kind"] for m in tencent.api.sent(openid)]


def test_notice_within_the_window_is_a_customer_service_message_and_the_token_is_fetched_once(oa_rt, tencent, channel):
    resident_wrote(oa_rt.engine, tencent, utcnow() - timedelta(hours=1))

    assert deliver(oa_rt.engine, channel(), notice(oa_rt.engine)) == "custom"
    assert deliver(oa_rt.engine, channel(), notice(oa_rt.engine, "工单 7 有新进展：已联系物业。")) == "custom"

    assert tencent.api.sent(RESIDENT)[0]["body"]["text"]["content"] == ACCEPTED
    assert (tencent.api.stable_token_calls, tencent.api.token_calls) == (1, 0)


def test_concurrent_workers_with_no_token_make_one_token_call(oa_rt, tencent, channel):
    for openid in (f"o-{i}" for i in range(6)):
        resident_wrote(oa_rt.engine, tencent, utcnow() - timedelta(minutes=5), openid)
    deliveries = [notice(oa_rt.engine, openid=f"o-{i}") for i in range(6)]
    tencent.api.slow(0.2, path_suffix="stable_token")  # hold the first fetch so the others arrive meanwhile
    start = threading.Barrier(len(deliveries))
    vias: list[str] = []

    def worker(delivery: Delivery) -> None:
        chan = channel()
        start.wait()
        vias.append(chan.send(delivery))

    threads = [threading.Thread(target=worker, args=(d,)) for d in deliveries]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)

    assert vias == ["custom"] * 6
    assert tencent.api.stable_token_calls == 1


def test_a_refused_token_is_refreshed_once_and_the_notice_sent_once(oa_rt, tencent, channel):
    resident_wrote(oa_rt.engine, tencent, utcnow() - timedelta(hours=1))
    chan = channel()
    deliver(oa_rt.engine, chan, notice(oa_rt.engine))
    tencent.api.inject(40001, path_suffix="custom/send")

    assert deliver(oa_rt.engine, chan, notice(oa_rt.engine, "工单 7 有新进展。")) == "custom"

    assert kinds(tencent) == ["custom", "custom"]
    sends = [r["errcode"] for r in tencent.api.received if r["path"].endswith("custom/send")]
    assert sends == [0, 40001, 0]


def test_a_token_expired_at_tencent_is_replaced_for_every_worker(oa_rt, tencent, channel):
    resident_wrote(oa_rt.engine, tencent, utcnow() - timedelta(hours=1))
    deliver(oa_rt.engine, channel(), notice(oa_rt.engine))
    tencent.api.expire_tokens()

    assert deliver(oa_rt.engine, channel(), notice(oa_rt.engine, "工单 7 有新进展。")) == "custom"
    assert deliver(oa_rt.engine, channel(), notice(oa_rt.engine, "工单 7 已办结。")) == "custom"
    assert kinds(tencent) == ["custom"] * 3
    assert tencent.api.force_refreshes == 0  # a plain stable_token call gave a new one


def test_the_sixth_notice_after_a_message_is_a_template_message(oa_rt, tencent, channel):
    resident_wrote(oa_rt.engine, tencent, utcnow() - timedelta(hours=3))
    chan = channel()

    vias = [deliver(oa_rt.engine, chan, notice(oa_rt.engine, f"工单 7 第{i}次进展：{ACCEPTED}")) for i in range(6)]

    assert vias == ["custom"] * 5 + ["template"]
    assert kinds(tencent) == ["custom"] * 5 + ["template"]
    # 45047 was never needed: we counted ourselves.
    assert all(r["errcode"] == 0 for r in tencent.api.received)
    fields = tencent.api.sent(RESIDENT)[-1]["body"]
    assert fields["template_id"] == TEMPLATE_ID
    assert fields["data"]["phrase2"]["value"] == "已接单"
    assert fields["data"]["thing3"]["value"].endswith("…") and len(fields["data"]["thing3"]["value"]) == 20

    resident_wrote(oa_rt.engine, tencent, utcnow())
    assert deliver(oa_rt.engine, chan, notice(oa_rt.engine)) == "custom"  # writing again reopens the window


def test_a_resident_silent_for_48_hours_or_ever_gets_a_template_message(oa_rt, tencent, channel):
    resident_wrote(oa_rt.engine, tencent, utcnow() - timedelta(hours=49))

    assert deliver(oa_rt.engine, channel(), notice(oa_rt.engine)) == "template"
    assert deliver(oa_rt.engine, channel(), notice(oa_rt.engine, openid="o-never-wrote")) == "template"
    assert kinds(tencent) == ["template"] and kinds(tencent, "o-never-wrote") == ["template"]
    assert not [r for r in tencent.api.received if r["path"].endswith("custom/send")]


def test_when_wechat_says_the_window_is_closed_the_notice_goes_as_a_template_once(oa_rt, tencent, channel):
    # Our record says the resident wrote an hour ago; WeChat never saw it (or counts differently): 45015.
    with transaction(oa_rt.engine) as s:
        s.add(InboundMessage(channel="wechat", dedupe_key="k1", sender=RESIDENT, received_at=utcnow()))

    assert deliver(oa_rt.engine, channel(), notice(oa_rt.engine)) == "template"
    assert [(r["path"].rsplit("/", 2)[-2], r["errcode"]) for r in tencent.api.received if "message" in r["path"]] == [
        ("custom", 45015),
        ("template", 0),
    ]


def test_an_unsubscribed_resident_is_a_permanent_failure(oa_rt, tencent, channel):
    resident_wrote(oa_rt.engine, tencent, utcnow() - timedelta(hours=1))
    tencent.api.unsubscribe(RESIDENT)

    with pytest.raises(DeliveryError) as failure:
        channel().send(notice(oa_rt.engine))

    assert failure.value.permanent and "43004" in str(failure.value)
    assert not [r for r in tencent.api.received if r["path"].endswith("template/send")]


def test_quota_exhausted_is_retryable_and_the_retry_sends_it(oa_rt, tencent, channel):
    delivery = notice(oa_rt.engine)
    tencent.api.inject(45009, path_suffix="/send", seconds=60)

    with pytest.raises(DeliveryError) as failure:
        channel().send(delivery)

    assert not failure.value.permanent
    assert tencent.api.sent() == []
    tencent.api.reset()
    assert deliver(oa_rt.engine, channel(), delivery) == "template"  # nothing went out, so the retry may send
    assert kinds(tencent) == ["template"]


def test_the_same_outbox_row_is_sent_once_even_if_the_job_runs_twice(oa_rt, tencent, channel):
    resident_wrote(oa_rt.engine, tencent, utcnow() - timedelta(hours=1))
    delivery = notice(oa_rt.engine)

    # A worker sent it and died before marking the row; the sweep hands the row to another worker.
    assert channel().send(delivery) == "custom"
    assert channel().send(delivery) == "custom"

    assert kinds(tencent) == ["custom"]


def test_a_stand_in_slower_than_the_read_timeout_is_a_retryable_failure(oa_rt, tencent, channel):
    resident_wrote(oa_rt.engine, tencent, utcnow() - timedelta(hours=1))
    chan = channel()
    chan.client.access_token  # noqa: B018  the token first, so only the send is slow
    tencent.api.slow(3, path_suffix="custom/send")

    started = time.monotonic()
    with pytest.raises(DeliveryError) as failure:
        chan.send(notice(oa_rt.engine))

    assert not failure.value.permanent
    assert time.monotonic() - started < 2  # the 0.5 s read timeout, not the stand-in's 3 s


def test_without_a_template_a_closed_window_is_a_permanent_failure(oa_rt, tencent):
    chan = ResidentNoticeChannel(oa_rt.settings, oa_rt.redis, oa_rt.engine, template_id="")

    with pytest.raises(DeliveryError) as failure:
        chan.send(notice(oa_rt.engine))

    assert failure.value.permanent
    assert tencent.api.sent() == []
