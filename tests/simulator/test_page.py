"""A newcomer in a real browser (Debian's chromium through Playwright) plays the loop on the simulator page."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from rq import SimpleWorker

from bot import runtime
from bot.gateway import Gateway
from bot.runtime import Runtime
from config import Settings
from simulator import server
from tests.browser import ARGS, CHROMIUM, MARKS
from tests.gateways import simulator_gateways

SCREENSHOT = Path("/tmp/sim.png")  # the loop at its end; sim-reply.png, sim-accepted.png, sim-phone.png too
WAIT_MS = 10_000

pytestmark = MARKS
playwright_sync = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")


@pytest.fixture
def sim(app: Flask, demo: None, settings: Settings) -> Iterator[server.Running]:
    app_url, stop_app = server.serve_in_thread(app, name="wanggetong-web")
    running = server.start(app_url, settings=settings)
    yield running
    running.stop()
    stop_app()


@pytest.fixture
def page(sim: server.Running) -> Iterator[object]:
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, timeout=30_000)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 760}, locale="zh-CN")
            page.set_default_timeout(WAIT_MS)
            # Loopback only: anything else the page might ask for is refused, and shows up as a failure.
            page.route(
                "**/*", lambda route: route.continue_() if route.request.url.startswith(sim.url) else route.abort()
            )
            page.goto(sim.url)
            # The page's script has run (it fills the pickers): typing before that submits the bare form, reloading
            # the page with the message lost (a CI run on a busy machine did).
            playwright_sync.expect(page.locator("#resident-picker option")).not_to_have_count(0)
            yield page
        finally:
            browser.close()


def test_resident_types_a_complaint_and_sees_the_ticket_number(page):
    expect = playwright_sync.expect
    chat = page.get_by_test_id("resident-chat")
    expect(page.locator("#resident-picker")).to_contain_text("王秀兰（幸福小区3栋）")
    expect(page.locator("#chat-tabs button").first).to_contain_text("幸福小区第1网格")

    page.fill("#resident-input", "3号楼楼道灯坏了好几天了")
    page.press("#resident-input", "Enter")

    expect(chat.locator(".msg.me .bubble")).to_have_text("3号楼楼道灯坏了好几天了")
    expect(chat.locator(".msg.bot .bubble")).to_contain_text("工单号")
    expect(chat.locator(".msg.bot .bubble")).to_contain_text("幸福小区第1网格")

    page.get_by_test_id("centre-chat").page.locator("#centre-chips button", has_text="统计").first.click()
    expect(page.get_by_test_id("centre-chat").locator(".msg.bot .bubble")).not_to_have_count(0)
    expect(page.locator("#status-app")).to_have_class("dot up")
    page.screenshot(path=str(SCREENSHOT.with_name("sim-reply.png")), full_page=True)


def test_phone_width_shows_one_pane_at_a_time(page):
    expect = playwright_sync.expect
    page.set_viewport_size({"width": 390, "height": 800})

    expect(page.locator("#pane-resident")).to_be_visible()
    expect(page.locator("#pane-group")).to_be_hidden()
    page.click("#switch button[data-pane=group]")
    expect(page.locator("#pane-group")).to_be_visible()
    expect(page.locator("#pane-resident")).to_be_hidden()
    page.screenshot(path=str(SCREENSHOT.with_name("sim-phone.png")))


@pytest.fixture
def gateway(sim: server.Running, settings: Settings) -> Iterator[Gateway]:
    """Our gateways, one per bot the simulator serves, connected to its stand-in; the default bot's."""
    with simulator_gateways(sim, settings) as default:
        yield default


def test_the_loop_complaint_card_accept_resolve_rate(gateway, page):
    """群众点单 → 社区派单 → 网格员接单 → 居民评单, every step in the page, with our real gateway."""
    expect = playwright_sync.expect
    resident, group = page.get_by_test_id("resident-chat"), page.get_by_test_id("group-chat")
    expect(page.locator("#status-gateway")).to_have_class("dot up")

    page.fill("#resident-input", "3号楼楼道灯坏了好几天了")
    page.press("#resident-input", "Enter")
    expect(resident.locator(".msg.bot .bubble")).to_contain_text("工单号")
    number = resident.locator(".msg.bot .bubble").inner_text().split("工单号")[1].split("（")[0].strip()

    card = group.locator(f".card[data-task^='ticket-{number}-']")
    expect(card.locator(".title")).to_contain_text(f"工单 {number}")
    expect(card.locator(".source")).to_have_text("【新工单】")
    expect(page.locator("#member-picker")).to_have_value("zhangwei")

    page.select_option("#member-picker", "liuyang")  # another grid's worker: refused
    card.get_by_role("button", name="接单").click()
    expect(group.locator(".msg.bot .bubble").last).to_contain_text("不能接单")

    page.select_option("#member-picker", "zhangwei")
    card.get_by_role("button", name="接单").click()
    expect(card.get_by_role("button", name="办结")).to_be_visible()  # the same card, updated in place
    expect(card.locator(".note")).to_contain_text("张伟 已接单")
    expect(group.locator(f".card[data-task^='ticket-{number}-']")).to_have_count(1)

    page.fill("#group-input", "待办")
    page.press("#group-input", "Enter")
    expect(group.locator(".msg.me .bubble").last).to_have_text("@网格通 待办")
    expect(group.locator(".msg.bot .bubble").last).not_to_contain_text("不能接单")
    page.screenshot(path=str(SCREENSHOT.with_name("sim-accepted.png")), full_page=True)

    card.get_by_role("button", name="办结").click()
    expect(card.locator(".desc")).to_contain_text("已办结")

    page.fill("#resident-input", f"评价 {number} 满意")
    page.press("#resident-input", "Enter")
    expect(resident.locator(".msg.bot .bubble").last).to_contain_text(f"感谢您的评价（5分）。工单 {number} 已结束")
    page.screenshot(path=str(SCREENSHOT), full_page=True)


@pytest.fixture
def live_worker(sim: server.Running, settings: Settings, rt: Runtime) -> Iterator[object]:
    """An rq worker configured as production's: resident notices go to the (stand-in) WeChat API."""
    live = Runtime(
        replace(settings, delivery="live", wechat_api_base=f"{sim.url}/cgi-bin/", wechat_notice_template_id="t1")
    )

    def work() -> None:
        runtime.install(live)
        try:
            SimpleWorker([live.queue], connection=live.redis).work(burst=True)
        finally:
            runtime.install(rt)

    yield work
    live.engine.dispose()


def test_the_resident_sees_accepted_and_resolved_notices(gateway, page, live_worker):
    expect = playwright_sync.expect
    resident, group = page.get_by_test_id("resident-chat"), page.get_by_test_id("group-chat")
    page.fill("#resident-input", "3号楼楼道灯坏了好几天了")
    page.press("#resident-input", "Enter")
    expect(resident.locator(".msg.bot .bubble")).to_contain_text("工单号")
    group.locator(".card").get_by_role("button", name="接单").click()
    expect(group.locator(".card").get_by_role("button", name="办结")).to_be_visible()

    live_worker()

    expect(resident.locator(".msg.notice .bubble")).to_contain_text("已由张网格员接单")


def test_a_supervisor_sees_the_complaint_on_the_map_and_transfers_it_into_another_groups_chat(app, gateway, page):
    """The issue's path: a complaint typed in the resident pane, watched on the centre's map (the pane's link), its
    grid clicked, the ticket sent on with a click, and its card arriving in the other grid's group."""
    expect = playwright_sync.expect
    password = "correct-horse-battery"
    assert (
        app.test_cli_runner().invoke(args=["add-user", "wall-d01", "--org", "D01"], input=password + "\n").exit_code
        == 0
    )
    resident, group = page.get_by_test_id("resident-chat"), page.get_by_test_id("group-chat")

    with page.context.expect_page() as opening:
        page.click("#centre-screen")
    screen = opening.value
    screen.set_default_timeout(WAIT_MS)
    screen.set_viewport_size({"width": 1920, "height": 1080})
    screen.fill("input[name=username]", "wall-d01")
    screen.fill("input[name=password]", password)
    screen.click("button[type=submit]")
    expect(screen.locator("#map g.grid[data-code=G01]")).to_have_class("grid idle")

    page.fill("#resident-input", "3号楼楼道灯坏了好几天了")
    page.press("#resident-input", "Enter")
    expect(resident.locator(".msg.bot .bubble")).to_contain_text("工单号")
    number = resident.locator(".msg.bot .bubble").inner_text().split("工单号")[1].split("（")[0].strip()

    # Within a few seconds, without reloading: 幸福小区第1网格 has work, and the ticket is a point on it.
    expect(screen.locator("#map g.grid[data-code=G01]")).to_have_class("grid busy", timeout=12_000)
    expect(screen.locator(f"#map a[data-ticket='{number}']")).to_have_count(1)
    screen.click("#map g.grid[data-code=G01]")
    expect(screen.locator("#grid-title")).to_contain_text("幸福小区第1网格")
    expect(screen.locator("#grid-facts")).to_contain_text("在办 1 件")
    screen.screenshot(path=str(SCREENSHOT.with_name("centre-map.png")))

    screen.locator("#grid-tickets a", has_text=number).click()
    screen.fill("input[aria-label^='转派：']", "G02")
    screen.click("form.action button:text-is('转派')")
    expect(screen.get_by_role("status")).to_contain_text("幸福小区第2网格")

    page.locator("#chat-tabs button", has_text="幸福小区第2网格").click()
    card = group.locator(f".card[data-task^='ticket-{number}-']")
    expect(card.locator(".title")).to_contain_text(f"工单 {number}")
