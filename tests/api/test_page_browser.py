"""The resident's page /m/ in a real browser (Debian's chromium through Playwright) at a phone's size: signed in
through the WeChat stand-in's authorize page, a report with a photo and a map pin, the grid worker's 接单 and 办结
by our own command path, and the resident's 满意; another resident's ticket is not found. The page may reach only
our server and the stand-in: anything else is refused and counted, and so are script and console errors."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from PIL import Image
from sqlmodel import Session, select

from handlers import conversation
from simulator.wechat_api import AUTHORIZE_PATH
from storage.models import Person, Status, Ticket
from tests.api.conftest import MP_SECRET, Tencent, sign_in
from tests.browser import ARGS, CHROMIUM, MARKS

SHOTS = Path("/tmp")  # m-page-new.png (writing), m-page-sent.png (sent) and m-page.png (to rate): the run's artefacts
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}

pytestmark = MARKS
playwright_sync = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")


@pytest.fixture
def app(make_app: Callable[..., Flask], tencent: Tencent) -> Flask:
    """The app with the Official Account's authorize page at the stand-in, as the dev server runs it."""
    return make_app(
        wechat_api_base=f"{tencent.url}/cgi-bin/",
        wechat_mp_secret=MP_SECRET,
        wechat_oauth_url=f"{tencent.url}{AUTHORIZE_PATH}",
    )


@pytest.fixture
def phone(app_url: str, tencent: Tencent) -> Iterator[tuple[object, list[str]]]:
    """A phone's browser page (390x844, touch) that may reach only the app and the stand-in, and what went wrong:
    the addresses it was refused, the script's errors and the console's (a Content-Security-Policy refusal too)."""
    trouble: list[str] = []

    def only_ours(route) -> None:  # type: ignore[no-untyped-def]
        url = route.request.url
        if url.startswith((app_url, tencent.url)):
            route.continue_()
        else:
            trouble.append(url)
            route.abort()

    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, timeout=30_000)
        try:
            context = browser.new_context(**PHONE)  # type: ignore[arg-type]
            context.route("**/*", only_ours)
            page = context.new_page()
            page.set_default_timeout(10_000)
            page.on("pageerror", lambda error: trouble.append(f"script: {error}"))
            page.on("console", lambda m: trouble.append(f"console: {m.text}") if _trouble(m) else None)
            yield page, trouble
        finally:
            browser.close()


def _trouble(message) -> bool:  # type: ignore[no-untyped-def]
    """A console error, except the browser's note of an API answer that refused (a 401 or 404 the page handles)."""
    from_api = "/api/v1/" in message.location.get("url", "") and message.text.startswith("Failed to load resource")
    return bool(message.type == "error" and not from_api)


def authorize_as(page, tencent: Tencent, openid: str) -> None:  # type: ignore[no-untyped-def]
    """On the stand-in's authorize page, sent there by /m/ with WeChat's parameters: be `openid`."""
    page.wait_for_url(f"{tencent.url}{AUTHORIZE_PATH}?*")
    query = parse_qs(urlsplit(page.url).query)
    assert query["response_type"] == ["code"] and query["scope"] == ["snsapi_base"] and query["state"][0]
    assert query["redirect_uri"][0].endswith("/m/")
    page.fill("#openid", openid)
    page.click("button.go")


def worker_does(rt, text: str) -> str:  # type: ignore[no-untyped-def]
    """张伟 (G01's worker) in his group, through the same command path as the AI bot's frames."""
    with Session(rt.engine) as s:
        zhangwei = s.exec(select(Person).where(Person.wecom_userid == "zhangwei")).one()
    assert zhangwei.id is not None
    return conversation.act_for(rt.engine, zhangwei.id, text, uuid.uuid4().hex).reply.text


def test_a_resident_reports_with_a_photo_and_a_pin_follows_it_and_rates_it(phone, app_url, tencent, rt, tmp_path):
    page, trouble = phone
    expect = playwright_sync.expect
    photo = tmp_path / "灯.jpg"
    Image.new("RGB", (800, 600), (90, 140, 200)).save(photo, "JPEG")

    page.goto(f"{app_url}/m/")
    authorize_as(page, tencent, "o-demo-resident-1")  # 王秀兰
    page.wait_for_url(f"{app_url}/m/")  # back, and the code is off the address
    expect(page.locator("#view-new")).to_be_visible()

    page.fill("#text", "楼道灯坏了好几天了，晚上上下楼很黑")
    expect(page.locator("#suggest")).to_contain_text("将由 幸福小区第1网格 办理")
    page.set_input_files("#photos", str(photo))
    expect(page.locator("#thumbs .thumb.ok")).to_have_count(1)
    expect(page.locator("#thumbs .thumb")).to_contain_text("已上传")
    expect(page.locator("#map text[data-code=G01]")).to_be_visible()  # the resident's own grid, named
    page.click("#zoom-in")
    page.locator("#map polygon[data-code=G01]").tap()
    expect(page.locator("#where")).to_have_text("位置在 幸福小区第1网格")
    expect(page.locator("#map .pin")).to_have_count(1)
    page.evaluate("window.scrollTo(0, 0)")  # the sticky header at the top of the full-page picture
    page.screenshot(path=str(SHOTS / "m-page-new.png"), full_page=True)

    page.click("#send")
    page.wait_for_url(re.compile(r"#/t/\d+$"))
    number = int(page.url.rsplit("/", 1)[1])
    flash = page.locator("#flash")
    expect(flash).to_contain_text(str(number))
    expect(flash).to_contain_text("幸福小区第1网格")
    expect(page.locator("#t-handler")).to_contain_text("幸福小区第1网格")
    page.screenshot(path=str(SHOTS / "m-page-sent.png"), full_page=True)
    with Session(rt.engine) as s:
        ticket = s.get(Ticket, number)
        assert ticket is not None and ticket.lat is not None and ticket.channel == "h5"

    worker_does(rt, f"接单 {number}")
    worker_does(rt, f"办结 {number} 已更换灯泡")

    page.click("#tab-mine")
    item = page.locator(f"#tickets li[data-ticket='{number}']")
    expect(item).to_contain_text("已办结")
    expect(item.locator(".badge.rate")).to_have_text("待评价")
    item.locator("a").click()
    expect(page.locator("#t-status")).to_have_text("已办结")
    expect(page.locator("#t-timeline")).to_contain_text("已更换灯泡")
    page.wait_for_function(
        "() => { const i = document.querySelector('#t-photos img'); return i && i.complete && i.naturalWidth > 0; }"
    )
    expect(page.locator("#rate")).to_be_visible()
    page.screenshot(path=str(SHOTS / "m-page.png"), full_page=True)

    page.click("#rate button[data-score='5']")
    expect(page.locator("#act-note")).to_be_visible()
    expect(page.locator("#t-status")).to_have_text("已评价")
    expect(page.locator("#rate")).to_be_hidden()
    with Session(rt.engine) as s:
        rated = s.get(Ticket, number)
        assert rated is not None and rated.status == Status.CLOSED and rated.rating == 5
    assert trouble == []


def test_another_residents_ticket_is_not_found_and_a_stale_state_or_token_is_handled(
    phone, app_url, tencent, client, rt
):
    page, trouble = phone
    expect = playwright_sync.expect
    wang = sign_in(client, tencent, "o-demo-resident-1", web=True)
    number = wang.report("幸福小区3栋楼道灯坏了好几天了").get_json()["ticket"]["id"]

    # 李建国 opens 王秀兰's ticket's address: signed in, he comes back to it, and it is not his.
    page.goto(f"{app_url}/m/#/t/{number}")
    authorize_as(page, tencent, "o-demo-resident-2")
    page.wait_for_url(f"{app_url}/m/#/t/{number}")
    expect(page.locator("#ticket-missing")).to_contain_text("没有找到")
    expect(page.locator("#ticket")).to_be_hidden()
    expect(page.locator("body")).not_to_contain_text("楼道灯")

    # A token the server no longer takes: signed in again through WeChat (once), back on the same ticket.
    page.evaluate("sessionStorage.setItem('wgt.m.token', 'expired-token')")
    page.reload()
    authorize_as(page, tencent, "o-demo-resident-2")
    page.wait_for_url(f"{app_url}/m/#/t/{number}")
    expect(page.locator("#ticket-missing")).to_contain_text("没有找到")

    # Back from WeChat with a state this page did not send: refused, with the way back in.
    page.goto(f"{app_url}/m/?code=stolen-code&state=not-mine")
    expect(page.locator("#fatal-text")).to_contain_text("登录校验没有通过")
    expect(page.locator("#again")).to_have_text("重新进入")
    assert "code=" not in page.url
    assert trouble == []


def test_my_location_places_the_pin_and_a_refusal_to_share_it_is_said(phone, app_url, tencent):
    page, trouble = phone
    expect = playwright_sync.expect
    page.goto(f"{app_url}/m/")
    authorize_as(page, tencent, "o-demo-resident-1")
    expect(page.locator("#map polygon[data-code=G01]")).to_have_count(1)
    page.click("#locate")  # no permission given: the browser refuses
    expect(page.locator("#where")).to_contain_text("没有允许定位")
    page.context.grant_permissions(["geolocation"], origin=app_url)
    page.context.set_geolocation({"latitude": 30.2738, "longitude": 120.1550})  # inside G01's outline
    page.click("#locate")
    expect(page.locator("#where")).to_have_text("位置在 幸福小区第1网格")
    expect(page.locator("#map g.grid.chosen")).to_have_attribute("data-code", "G01")
    assert trouble == []


def test_a_sign_in_the_api_keeps_refusing_is_tried_again_once_and_then_said(phone, app_url, tencent):
    page, trouble = phone
    expect = playwright_sync.expect
    trips: list[str] = []
    page.on("request", lambda r: trips.append(r.url) if AUTHORIZE_PATH in r.url and r.method == "GET" else None)
    # The centre's supervisor is no resident: the sign-in itself is refused, and said.
    page.goto(f"{app_url}/m/")
    authorize_as(page, tencent, "o-demo-supervisor")
    expect(page.locator("#fatal-text")).to_contain_text("工作人员请在企业微信群里处理工单")
    assert len(trips) == 1

    # A server that refuses every token it gave (as after a change of WGT_SESSION_SECRET between two web
    # workers): the page signs in again once, then says so instead of going round.
    refusal = {"error": "signed_out", "message": "登录已失效，请重新进入。"}
    page.route("**/api/v1/map*", lambda route: route.fulfill(status=401, json=refusal))
    page.click("#again")
    authorize_as(page, tencent, "o-demo-resident-1")
    authorize_as(page, tencent, "o-demo-resident-1")  # the 401's one more try
    expect(page.locator("#fatal-text")).to_have_text("登录已失效，请重新进入。")
    page.wait_for_timeout(500)  # and it stays: no third trip to WeChat
    assert len(trips) == 3 and page.url.startswith(f"{app_url}/m/")
    assert trouble == []
