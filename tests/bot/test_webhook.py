"""Group pushes for tenants without the AI bot reach each grid's group robot over real HTTP to the webhook
stand-in: as markdown with residents' details masked, within Tencent's 20 a minute, split when too long, each
part once."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from rq import SimpleWorker
from sqlmodel import Session, select
from werkzeug.serving import make_server

from bot import jobs, runtime
from bot.channels import Delivery, DeliveryError
from bot.runtime import Runtime
from bot.webhook import MARKDOWN_LIMIT, WebhookChannel, markdown, split_message
from handlers import notify
from simulator.wecom_webhook import WeComWebhook, create_wecom_webhook
from storage import grids, outbox
from storage.db import transaction
from storage.models import Grid, Outbox, Ticket

PHONE = "13812345678"
G01_CHAT = "wrk-chat-g01"  # demo/grids.csv: 幸福小区第1网格, where 幸福小区3栋 is
# The stand-in's minute, shortened; ours a little longer, as in production (Tencent counts on arrival).
TENCENT_WINDOW = 1.0
OUR_WINDOW = 1.2


@dataclass
class Robots:
    url: str
    hub: WeComWebhook

    def key(self, chat_name: str) -> str:
        """A new robot in a group; a fresh key per test keeps the shared Redis's limiters apart."""
        key = uuid.uuid4().hex
        self.hub.register_key(key, chat_name)
        return key

    def contents(self, key: str) -> list[str]:
        return [m["content"] for m in self.hub.sent(key)]


@pytest.fixture
def robots() -> Iterator[Robots]:
    """The stand-in on a free loopback port, its minute shortened to TENCENT_WINDOW."""
    app = create_wecom_webhook(window_seconds=TENCENT_WINDOW)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    hub = app.extensions["wecom_webhook"]
    yield Robots(f"http://127.0.0.1:{server.server_port}", hub)
    hub.close()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def channel(rt: Runtime, robots: Robots):  # type: ignore[no-untyped-def]
    """A new channel pointed at the stand-in, as each worker process builds its own."""
    settings = replace(rt.settings, wecom_api_base=f"{robots.url}/cgi-bin/", http_timeout=(1.0, 0.5))

    def make(read_timeout: float | None = None, **options: object) -> WebhookChannel:
        options.setdefault("window_seconds", OUR_WINDOW)
        mine = settings if read_timeout is None else replace(settings, http_timeout=(1.0, read_timeout))
        return WebhookChannel(mine, rt.redis, rt.engine, **options)  # type: ignore[arg-type]

    return make


def set_key(rt: Runtime, code: str, key: str) -> None:
    with transaction(rt.engine) as s:
        grid = grids.by_code(s, code)
        assert grid is not None
        grid.webhook_key = key
        s.add(grid)


def rows(rt: Runtime, kind: str = "group_push") -> list[Outbox]:
    with Session(rt.engine) as s:
        return list(s.exec(select(Outbox).where(Outbox.kind == kind).order_by(Outbox.id)).all())


def rendered(rt: Runtime, row: Outbox) -> Delivery:
    """What bot.jobs.deliver hands a channel for this row."""
    with Session(rt.engine) as s:
        return jobs.delivery_for(s, row)


def push(rt: Runtime, text: str, chat: str = G01_CHAT, kind: str = "group_push") -> Delivery:
    with transaction(rt.engine) as s:
        outbox.add(s, kind, "assigned", chat, None)
    ((row_id, *_),) = outbox.queued(s)
    return Delivery(row_id, kind, "assigned", chat, text)


def test_a_group_push_arrives_as_markdown_at_the_grids_robot_with_the_phone_masked(rt, resident, robots, channel):
    key = robots.key("幸福小区第1网格群")
    set_key(rt, "G01", key)
    resident.say(f"3号楼楼道灯坏了好几天了，我电话{PHONE}")
    (row,) = rows(rt)

    assert channel().send(rendered(rt, row)) == "webhook"

    (message,) = robots.hub.sent(key)
    content = message["content"]
    assert message["msgtype"] == "markdown" and message["chat"] == "幸福小区第1网格群"
    assert content.startswith("**【新工单】**\n**工单 ")
    assert PHONE not in content and "138" + "\uff0a" * 4 + "5678" in content  # full-width: WeCom would read ** as bold
    assert f"在企业微信「网格通」应用里回复 接单 {row.ticket_id} 认领" in content
    assert "回复“" not in content  # nobody can answer a robot in its group


def test_a_push_for_a_chat_we_do_not_know_goes_to_the_tickets_grid(rt, resident, robots, channel):
    key = robots.key("幸福小区第1网格群")
    set_key(rt, "G01", key)
    resident.say("3号楼楼道灯坏了好几天了")
    (row,) = rows(rt)
    with transaction(rt.engine) as s:
        outbox.add(s, "group_push", "urged", "", row.ticket_id)  # a robot-only group has no chat id
    ((urged_id, *_),) = outbox.queued(s)
    with Session(rt.engine) as s:
        urged = s.get(Outbox, urged_id)

    assert channel().send(rendered(rt, urged)) == "webhook"
    assert robots.contents(key)[0].startswith("**【催办】")


def test_a_burst_of_25_sends_20_now_and_the_rest_once_the_minute_has_passed(rt, demo, robots, channel):
    key = robots.key("幸福小区第1网格群")
    set_key(rt, "G01", key)
    chan = channel()
    deliveries = [push(rt, f"【新工单】\n工单 {n}｜路灯") for n in range(25)]

    waiting = []
    for delivery in deliveries:
        try:
            chan.send(delivery)
        except DeliveryError as failure:
            assert not failure.permanent
            waiting.append(delivery)

    assert len(robots.hub.sent(key)) == 20 and len(waiting) == 5
    time.sleep(OUR_WINDOW + 0.1)
    assert [chan.send(d) for d in waiting] == ["webhook"] * 5
    assert len(robots.hub.sent(key)) == 25
    assert {r["errcode"] for r in robots.hub.received} == {0}  # Tencent never had to refuse one


def test_the_limit_is_shared_by_every_worker(rt, demo, robots, channel):
    key = robots.key("幸福小区第1网格群")
    set_key(rt, "G01", key)
    deliveries = [push(rt, f"【新工单】\n工单 {n}｜路灯") for n in range(24)]
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def worker(mine: list[Delivery]) -> None:
        # A loaded CI machine may take more than our shortened window for the burst, or half a second for a reply:
        # neither is what this test is about.
        chan = channel(read_timeout=5.0, window_seconds=10.0)
        start.wait()
        for delivery in mine:
            try:
                outcomes.append(chan.send(delivery))
            except DeliveryError:
                outcomes.append("retry")

    threads = [threading.Thread(target=worker, args=(deliveries[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)

    assert outcomes.count("webhook") == 20 and outcomes.count("retry") == 4
    assert len(robots.hub.sent(key)) == 20


def test_a_long_push_is_split_on_lines_and_every_line_arrives(rt, demo, robots, channel):
    key = robots.key("幸福小区第1网格群")
    set_key(rt, "G01", key)
    text = "【新工单】\n" + "\n".join(f"第{n}条：居民反映楼道灯不亮、电梯异响、垃圾未清运。" for n in range(120))
    assert len(text.encode()) > 2 * MARKDOWN_LIMIT

    assert channel().send(push(rt, text)) == "webhook"

    parts = robots.contents(key)
    assert len(parts) == 3
    assert all(len(part.encode()) <= MARKDOWN_LIMIT for part in parts)
    assert "\n".join(parts) == markdown(text)
    assert all(f"第{n}条" in markdown(text) for n in range(120))


def test_a_line_longer_than_a_message_is_cut_between_characters():
    line = "灯" * 1500 + "🏮" * 200  # 4500 + 800 bytes, no newline to split on

    parts = split_message(line, MARKDOWN_LIMIT)

    assert len(parts) == 2 and "".join(parts) == line
    assert all(len(p.encode()) <= MARKDOWN_LIMIT for p in parts)


@given(st.text(alphabet=st.sampled_from(["a", "灯", "🏮", "\n", " ", "é"]), max_size=400), st.integers(4, 40))
def test_splitting_never_loses_a_character_nor_exceeds_the_limit(text, limit):
    parts = split_message(text, limit)

    assert all(0 < len(p.encode()) <= limit and p.strip() for p in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())
    if all(len(line.encode()) <= limit for line in text.split("\n")) and all(p.strip() for p in text.split("\n")):
        assert "\n".join(parts) == text


def test_tencents_45009_is_retryable_and_the_retry_sends_it_once(rt, demo, robots, channel):
    key = robots.key("幸福小区第1网格群")
    set_key(rt, "G01", key)
    delivery = push(rt, "【催办】居民催促处理\n工单 7｜路灯")
    robots.hub.fail_sends(45009, seconds=60)

    with pytest.raises(DeliveryError) as failure:
        channel().send(delivery)

    assert not failure.value.permanent and "45009" in str(failure.value)
    assert robots.hub.sent() == []
    robots.hub.reset()
    assert channel().send(delivery) == "webhook"
    assert len(robots.hub.sent(key)) == 1


def test_an_unknown_key_is_permanent_and_the_key_stays_out_of_the_error(rt, demo, robots, channel):
    set_key(rt, "G01", "0f0e-not-a-robot")

    with pytest.raises(DeliveryError) as failure:
        channel().send(push(rt, "【新工单】\n工单 7｜路灯"))

    assert failure.value.permanent and "93000" in str(failure.value)
    assert "0f0e-not-a-robot" not in str(failure.value)


def test_a_grid_without_a_key_is_permanent_and_the_error_names_the_grid(rt, demo, robots, channel):
    set_key(rt, "G01", "")  # the demo grids come with the simulator's robot keys
    with pytest.raises(DeliveryError) as failure:
        channel().send(push(rt, "【新工单】\n工单 7｜路灯"))

    assert failure.value.permanent
    assert "G01" in str(failure.value) and "幸福小区第1网格" in str(failure.value)
    assert robots.hub.received == []


def test_supervisor_notices_go_to_the_centres_robot_and_without_one_fail_for_good(rt, demo, robots, channel):
    centre = robots.key("指挥中心群")
    text = "【待派单】未能确定网格，请派单\n工单 9｜噪音\n请指挥中心确定网格后派单。"
    notice = push(rt, text, "supervisors", "supervisor_notice")

    assert channel(supervisor_key=centre).send(notice) == "webhook"
    assert robots.contents(centre) == ["**【待派单】未能确定网格，请派单**\n**工单 9｜噪音**\n" + text.splitlines()[-1]]

    with pytest.raises(DeliveryError) as failure:
        channel().send(push(rt, "【催办】待派单工单被催办", "supervisors", "supervisor_notice"))
    assert failure.value.permanent and "WECOM_SUPERVISOR_WEBHOOK_KEY" in str(failure.value)


def test_the_same_outbox_row_sent_twice_posts_once(rt, demo, robots, channel):
    key = robots.key("幸福小区第1网格群")
    set_key(rt, "G01", key)
    delivery = push(rt, "【新工单】\n工单 7｜路灯")

    # A worker sent it and died before marking the row; the sweep hands the row to another worker.
    assert channel().send(delivery) == "webhook"
    assert channel().send(delivery) == "webhook"

    assert len(robots.hub.sent(key)) == 1


def test_a_retry_after_a_partial_send_sends_only_the_parts_still_missing(rt, demo, robots, channel):
    key = robots.key("幸福小区第1网格群")
    set_key(rt, "G01", key)
    text = "【新工单】\n" + "\n".join(f"第{n}条：" + "楼道灯不亮。" * 20 for n in range(40))
    chan = channel(per_window=2)
    delivery = push(rt, text)

    with pytest.raises(DeliveryError) as failure:
        chan.send(delivery)  # two parts go out, the third finds the robot at its limit
    assert not failure.value.permanent and len(robots.hub.sent(key)) == 2
    time.sleep(OUR_WINDOW + 0.1)
    assert chan.send(delivery) == "webhook"
    assert chan.send(delivery) == "webhook"

    assert "\n".join(robots.contents(key)) == markdown(text)


def test_a_robot_slower_than_the_read_timeout_is_retryable(rt, demo, robots, channel):
    key = robots.key("幸福小区第1网格群")
    set_key(rt, "G01", key)
    robots.hub.slow(3)

    started = time.monotonic()
    with pytest.raises(DeliveryError) as failure:
        channel().send(push(rt, "【新工单】\n工单 7｜路灯"))

    assert not failure.value.permanent and key not in str(failure.value)
    assert time.monotonic() - started < 2  # the 0.5 s read timeout, not the stand-in's 3 s


def test_residents_words_are_not_read_as_markup():
    text = "【新工单】\n工单 7｜路灯｜紧急\n内容：点[这里](http://evil.example)领补贴 <font>**急**</font>\n# 标题"

    content = markdown(text)

    assert "](" not in content and "<font>" not in content and "**急**" not in content
    assert content.splitlines()[1] == '**工单 7｜路灯｜<font color="warning">紧急</font>**'
    assert not content.splitlines()[3].startswith("#")


# -- the stand-in keeps Tencent's rules -------------------------------------------------------------------------


def test_the_stand_in_refuses_what_tencent_refuses(robots):
    key = robots.key("群")
    url = f"{robots.url}/cgi-bin/webhook/send"

    def post(body: dict, robot: str = key) -> int:
        return requests.post(url, params={"key": robot}, json=body, timeout=2).json()["errcode"]

    assert post({"msgtype": "text", "text": {"content": "hi", "mentioned_list": ["wangwu"]}}) == 0
    assert post({"msgtype": "text", "text": {"content": "hi"}}, robot="nobody") == 93000
    assert post({"msgtype": "markdown", "markdown": {"content": "灯" * 1366}}) == 40058  # 4098 bytes
    assert post({"msgtype": "text", "text": {"content": "灯" * 683}}) == 40058  # 2049 bytes
    assert [post({"msgtype": "markdown", "markdown": {"content": "ok"}}) for _ in range(20)][-2:] == [0, 45009]


# -- the grids file carries each group's robot key ---------------------------------------------------------------

GRIDS = """code,name,community,aliases,chat_id,lat,lng,webhook_key
A01,和平里第1网格,和平里小区,和平里小区1-3栋,chat-a01,,,a1b2c3d4-0000-4000-8000-000000000001
A02,和平里第2网格,和平里小区,和平里小区4-6栋,,,,https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=a1b2-02
A03,和平里第3网格,和平里小区,和平里小区7栋,chat-a03,,,
"""


def import_grids(app, path: Path, text: str) -> str:  # type: ignore[no-untyped-def]
    path.write_text(text, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-grids", str(path)])
    assert result.exit_code == 0, result.output
    return result.output


def keys(session: Session) -> dict[str, str]:
    session.expire_all()
    return {g.code: g.webhook_key for g in session.exec(select(Grid).order_by(Grid.code)).all()}


def test_the_grids_file_may_carry_robot_keys_and_a_file_without_them_keeps_them(app, session, tmp_path):
    import_grids(app, tmp_path / "g.csv", GRIDS)
    assert keys(session) == {"A01": "a1b2c3d4-0000-4000-8000-000000000001", "A02": "a1b2-02", "A03": ""}

    older = "\n".join(line.rsplit(",", 1)[0] for line in GRIDS.splitlines()) + "\n"  # the template before keys
    assert "更新 3" in import_grids(app, tmp_path / "old.csv", older)
    assert keys(session)["A01"] == "a1b2c3d4-0000-4000-8000-000000000001"


def test_a_live_worker_without_an_ai_bot_sends_group_pushes_through_the_grids_robot(
    rt: Runtime, robots: Robots, resident, run_worker
):
    """The production routing: rq's deliver → the runtime's channel for group_push → the webhook."""

    key = robots.key("幸福小区第1网格")
    set_key(rt, "G01", key)
    resident.say(f"3号楼楼道灯坏了 电话{PHONE}")
    live = Runtime(replace(rt.settings, delivery="live", wecom_bot_id="", wecom_api_base=f"{robots.url}/cgi-bin/"))
    runtime.install(live)
    try:
        SimpleWorker([live.queue], connection=live.redis).work(burst=True)
    finally:
        runtime.install(rt)
        live.engine.dispose()
    contents = robots.contents(key)
    assert len(contents) == 1 and "楼道灯" in contents[0] and PHONE not in contents[0]


def test_a_reminder_mentions_the_grid_worker_so_their_phone_buzzes(rt, resident, robots, channel):
    key = robots.key("幸福小区第1网格群")
    set_key(rt, "G01", key)
    resident.say("3号楼楼道灯坏了")
    (card,) = rows(rt)
    with transaction(rt.engine) as s:
        notify.group(s, s.get(Ticket, card.ticket_id), "remind")
    reminder = rows(rt)[-1]

    channel().send(rendered(rt, reminder))

    content = robots.hub.sent(key)[-1]["content"]
    assert content.startswith("**【接单提醒】<@zhangwei>") and "张伟" not in content
    assert f"接单 {card.ticket_id}" in content
