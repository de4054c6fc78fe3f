"""The command centre's screen in a real browser (Debian's chromium through Playwright): sign in, watch a new
complaint reach the numbers without reloading, at the wall screen's size and a laptop's."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from flask import Flask

from simulator import server
from tests.browser import ARGS, CHROMIUM, MARKS

SHOTS = Path("/tmp")  # centre-wall.png (1920x1080) and centre-laptop.png, kept as the run's artefacts
PASSWORD = "correct-horse-battery"

pytestmark = MARKS
playwright_sync = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")


@pytest.fixture
def app_url(app: Flask, demo: None) -> Iterator[str]:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["add-user", "wall-d01", "--org", "D01"], input=PASSWORD + "\n").exit_code == 0
    url, stop = server.serve_in_thread(app, name="wanggetong-web")
    yield url
    stop()


@pytest.mark.parametrize(("size", "shot"), [((1920, 1080), "centre-wall.png"), ((1280, 800), "centre-laptop.png")])
def test_the_district_sees_new_complaints_within_seconds_and_dispatches_one_with_a_click(
    app_url, wechat_user, size, shot
):
    expect = playwright_sync.expect
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, timeout=30_000)
        try:
            page = browser.new_page(viewport={"width": size[0], "height": size[1]}, locale="zh-CN")
            page.set_default_timeout(10_000)
            # Offline: the screen must need nothing but our own server.
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(app_url) else r.abort())
            page.goto(f"{app_url}/centre/")
            page.fill("input[name=username]", "wall-d01")
            page.fill("input[name=password]", "wrong-password-here")
            page.click("button[type=submit]")
            expect(page.get_by_role("alert")).to_contain_text("用户名或密码不对")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page.locator("h1")).to_contain_text("城东区 指挥中心")
            expect(page.locator("[data-key=total]")).to_have_text("0")

            wechat_user(f"o-new-{uuid.uuid4().hex[:6]}").say("幸福小区3栋楼道灯坏了好几天了")
            wechat_user(f"o-new-{uuid.uuid4().hex[:6]}").say("楼道里有人乱堆杂物堵住了消防通道")  # no place
            expect(page.locator("[data-key=total]")).to_have_text("2", timeout=12_000)  # no reload: it polls
            waiting = page.locator("#list-awaiting li a")
            expect(waiting).to_have_count(1)
            page.screenshot(path=str(SHOTS / shot), full_page=True)

            waiting.click()  # its page: what it is, what happened, the buttons
            expect(page.locator("h1")).to_contain_text("工单")
            page.fill("input[aria-label^='派：']", "G02")
            page.click("form.action button:text-is('派')")
            expect(page.get_by_role("status")).to_contain_text("幸福小区第2网格")
            page.screenshot(path=str(SHOTS / shot.replace(".png", "-ticket.png")), full_page=True)

            page.click("header h1 a")  # back to the screen, and the month to Excel
            with page.expect_download() as downloading:
                page.click("form.export button")
            download = downloading.value
            name = download.suggested_filename
            assert name.startswith("网格通工单_") and name.endswith(".xlsx")
            book = openpyxl.load_workbook(io.BytesIO(download.path().read_bytes()))
            assert [row[0] for row in book["工单"].iter_rows(min_row=2, values_only=True)] == [1, 2]
        finally:
            browser.close()


def test_another_streets_centre_is_refused_the_ticket_and_the_grid(app, app_url, wechat_user):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["add-user", "wall-s02", "--org", "S02"], input=PASSWORD + "\n").exit_code == 0
    wechat_user("o-demo-resident-1").say("3号楼楼道灯坏了，电话13912345678")  # 幸福小区: 朝阳街道's, ticket 1
    expect = playwright_sync.expect
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, timeout=30_000)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
            page.set_default_timeout(10_000)
            page.goto(f"{app_url}/centre/")
            page.fill("input[name=username]", "wall-s02")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page.locator("h1")).to_contain_text("和平街道 指挥中心")
            expect(page.locator("#map g.grid[data-code=G07]")).to_have_count(1)  # its own grids are drawn
            expect(page.locator("#map g.grid[data-code=G01]")).to_have_count(0)  # 朝阳街道's are not
            expect(page.locator("#map a[data-ticket]")).to_have_count(0)

            response = page.goto(f"{app_url}/centre/tickets/1")
            assert response is not None and response.status == 404
            expect(page.locator("body")).to_contain_text("不在您的管辖范围")
            expect(page.locator("body")).not_to_contain_text("楼道灯")
        finally:
            browser.close()
