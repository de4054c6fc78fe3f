"""A newcomer in a real browser (Debian's chromium through Playwright) plays the loop on the simulator page."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from flask import Flask
from PIL import Image
from rq import SimpleWorker

from bot import runtime
from bot.gateway import Gateway
from bot.runtime import Runtime
from config import Settings
from simulator import server
from simulator.wechat_api import AUTHORIZE_PATH
from tests.browser import ARGS, CHROMIUM, MARKS
from tests.gateways import simulator_gateways
from tests.later import Later

SCREENSHOT = Path("/tmp/sim.png")  # the loop at its end; sim-reply, sim-accepted, sim-narrow, sim-phone.png too
WAIT_MS = 10_000

pytestmark = MARKS
playwright_sync = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")


@dataclass
class StandIns:
    app_url: str
    running: server.Running
    web: Later


@pytest.fixture
def stand_ins(settings: Settings) -> Iterator[StandIns]:
    """The app's web server (its app still to come) and the simulator pointed at it: each knows the other's address,
    as `make run` gives both fixed ports."""
    web = Later()
    app_url, stop_app = server.serve_in_thread(web, name="wanggetong-web")
    running = server.start(app_url, settings=settings)
    yield StandIns(app_url, running, web)
    running.stop()
    stop_app()


@pytest.fixture
def app(make_app: Callable[..., Flask], stand_ins: StandIns) -> Flask:
    """The app as devserver.py sets it up: Tencent's APIs and the authorize page (the phone's sign-in) at the
    simulator, whose page may frame /m/ (the phone), and its own public address (the card's 照片 link)."""
    stand_ins.web.app = make_app(
        public_url=stand_ins.app_url,
        wechat_api_base=f"{stand_ins.running.url}/cgi-bin/",
        wechat_oauth_url=f"{stand_ins.running.url}{AUTHORIZE_PATH}",
        frame_ancestors=stand_ins.running.url,
    )
    return stand_ins.web.app


@pytest.fixture
def sim(app: Flask, demo: None, stand_ins: StandIns) -> server.Running:
    return stand_ins.running


@pytest.fixture
def page(sim: server.Running) -> Iterator[object]:
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, timeout=30_000)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 760}, locale="zh-CN")
            page.set_default_timeout(WAIT_MS)
            # Loopback only: anything else the page might ask for is refused, and shows up as a failure.
            ours = (sim.url, sim.sim.app_url)  # the simulator, and the app the phone frame shows
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(ours) else route.abort())
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
    page.screenshot(path=str(SCREENSHOT.with_name("sim-narrow.png")))


@pytest.fixture
def gateway(sim: server.Running, rt: Runtime) -> Iterator[Gateway]:
    """Our gateways, one per bot the simulator serves, connected to its stand-in; the default bot's. They have the
    app's settings, as in production (the card's 照片 link is made from WGT_PUBLIC_URL)."""
    with simulator_gateways(sim, rt.settings) as default:
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


def test_a_resident_reports_from_the_phone_with_a_photo_the_card_links_it_and_the_resident_rates_it(
    sim, gateway, page, tmp_path
):
    """The issue's done-when: 王秀兰 opens the phone (/m/ at a phone's width) from the simulator page, signed in
    by the stand-in's authorize page without a question (snsapi_base, as in WeChat), reports with a photo and a pin
    in G01; the card in 幸福小区第1网格's chat links the photo; 张伟 takes and resolves it in the group; back on the
    phone she sees it resolved with her photo, and rates it."""
    expect = playwright_sync.expect
    app_url = sim.sim.app_url
    photo = tmp_path / "灯.jpg"
    Image.new("RGB", (800, 600), (90, 140, 200)).save(photo, "JPEG")
    authorize: list[int] = []
    page.on("response", lambda r: authorize.append(r.status) if AUTHORIZE_PATH in r.url else None)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_viewport_size({"width": 1280, "height": 1000})  # room for the phone at its full height

    expect(page.locator("#resident-picker")).to_have_value("o-demo-resident-1")  # 王秀兰, the picker's default
    page.click("#phone-toggle")
    expect(page.locator("#phone-toggle")).to_have_attribute("aria-pressed", "true")
    phone = page.frame_locator("#phone-frame")
    expect(phone.locator("#view-new")).to_be_visible()
    assert authorize == [302]  # one trip to the authorize page, which went straight back: nothing was asked
    assert phone.locator("body").evaluate("() => window.innerWidth") == 390  # a phone's width

    phone.locator("#text").fill("楼道灯坏了好几天了，晚上上下楼很黑")
    expect(phone.locator("#suggest")).to_contain_text("将由 幸福小区第1网格 办理")
    phone.locator("#photos").set_input_files(str(photo))
    expect(phone.locator("#thumbs .thumb.ok")).to_have_count(1)
    phone.locator("#zoom-in").click()
    phone.locator("#map polygon[data-code=G01]").click()
    expect(phone.locator("#where")).to_have_text("位置在 幸福小区第1网格")

    phone.locator("#send").click()
    expect(phone.locator("#t-number")).to_have_text(re.compile(r"^\d+号$"))
    number = int(phone.locator("#t-number").inner_text().removesuffix("号"))
    expect(phone.locator("#flash")).to_contain_text(str(number))
    expect(phone.locator("#flash")).to_contain_text("幸福小区第1网格")

    group = page.get_by_test_id("group-chat")
    page.locator("#chat-tabs button", has_text="幸福小区第1网格").click()
    card = group.locator(f".card[data-task^='ticket-{number}-']")
    expect(card.locator(".title")).to_contain_text(f"工单 {number}")
    expect(card.locator("dt", has_text="照片")).to_have_count(1)
    link = card.locator("dd a")
    expect(link).to_have_text("1张，点击查看")
    expect(link).to_have_attribute("href", re.compile(rf"^{re.escape(app_url)}/api/v1/shared/"))
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener")
    with page.context.expect_page() as opening:  # what a worker sees who taps the row
        link.click()
    photos = opening.value
    photos.wait_for_load_state()
    assert photos.locator("img").first.evaluate("i => i.decode().then(() => i.naturalWidth)") > 0
    photos.close()

    expect(page.locator("#member-picker")).to_have_value("zhangwei")
    card.get_by_role("button", name="接单").click()
    expect(card.get_by_role("button", name="办结")).to_be_visible()
    page.fill("#group-input", f"办结 {number} 已更换灯泡")
    page.press("#group-input", "Enter")
    # Typed, not tapped: the card stays as it was (WeCom updates a card only in answer to its own button).
    expect(group.locator(".msg.bot .bubble").last).to_contain_text(f"工单 {number} 已办结")

    phone.locator("#tab-mine").click()
    item = phone.locator(f"#tickets li[data-ticket='{number}']")
    expect(item).to_contain_text("已办结")
    item.locator("a").click()
    expect(phone.locator("#t-status")).to_have_text("已办结")
    expect(phone.locator("#t-timeline")).to_contain_text("已更换灯泡")
    assert phone.locator("#t-photos img").first.evaluate("i => i.decode().then(() => i.naturalWidth)") > 0
    phone.get_by_role("button", name="满意", exact=True).click()
    expect(phone.locator("#t-status")).to_have_text("已评价")
    expect(phone.locator("#rate")).to_be_hidden()
    assert errors == []
    page.screenshot(path=str(SCREENSHOT.with_name("sim-phone.png")), full_page=True)  # the phone beside the card
