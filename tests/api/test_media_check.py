"""WeChat's photo check end to end (mediaCheckAsync v2): the app on a real port asks the stand-in about each
mini-program photo with its public signed address; the stand-in pushes its verdict, signed, to the app's
/wechat/mp a moment later, as Tencent does; a risky photo then disappears from the resident's ticket."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from bot.runtime import Runtime
from simulator.server import serve_in_thread
from storage.models import Photo, PhotoCheck
from tests.api.conftest import MP_SECRET, Phone, Tencent, jpeg, sign_in
from tests.later import Later

MP_TOKEN = "an-mp-push-token-0123456789abcdef"


@pytest.fixture
def app_url_and_web() -> Iterator[tuple[str, Later]]:
    web = Later()
    url, stop = serve_in_thread(web, name="wanggetong-web")
    yield url, web
    stop()


@pytest.fixture
def app(make_app: Callable[..., Flask], tencent: Tencent, app_url_and_web: tuple[str, Later]) -> Iterator[Flask]:
    """The app at its public address, its mini-program's push pointed at by the stand-in (its console setting)."""
    url, web = app_url_and_web
    web.app = make_app(
        public_url=url,
        wechat_api_base=f"{tencent.url}/cgi-bin/",
        wechat_mp_secret=MP_SECRET,
        wechat_mp_token=MP_TOKEN,
    )
    tencent.api.mp_push_url = f"{url}/wechat/mp"
    tencent.api.mp_push_token = MP_TOKEN
    tencent.api.media_check_delay = 0.3
    yield web.app
    tencent.api.close()


def wait_for_verdict(tencent: Tencent, trace_id: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for push in list(tencent.api.pushed):
            if push["trace_id"] == trace_id and push["answer"] == "success":
                return push
        time.sleep(0.05)
    raise AssertionError(f"no verdict accepted for {trace_id}: {tencent.api.pushed}")


def checks_asked(tencent: Tencent) -> list[dict[str, Any]]:
    """The checks asked and taken (a token left in Redis by an earlier test is refused first, and asked again)."""
    return [r for r in tencent.api.received if r["path"] == "/wxa/media_check_async" and r["errcode"] == 0]


def trace_of(rt: Runtime, photo_id: int) -> tuple[str, str]:
    with Session(rt.engine) as session:
        photo = session.exec(select(Photo).where(Photo.id == photo_id)).one()
        return photo.trace_id, photo.check


def report_with_photo(phone: Phone) -> tuple[int, int]:
    uploaded = phone.upload(jpeg())
    assert uploaded.status_code == 201
    photo = uploaded.get_json()["id"]
    answer = phone.report("幸福小区3栋楼道灯坏了", photos=[photo])
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["ticket"]["id"], photo


def test_a_photo_judged_risky_disappears_from_the_ticket(
    client: FlaskClient, rt: Runtime, demo: None, tencent: Tencent, app_url_and_web: tuple[str, Later]
) -> None:
    phone = sign_in(client, tencent, "mp-wang")
    tencent.api.media_verdict("risky")

    number, photo = report_with_photo(phone)

    (asked,) = checks_asked(tencent)
    body = asked["body"]
    assert (body["version"], body["media_type"], body["openid"], body["scene"]) == (2, 2, "mp-wang", 3)
    # Tencent fetches the photo itself: an absolute, signed address that answers without a token.
    assert body["media_url"].startswith(f"{app_url_and_web[0]}/api/v1/photos/{photo}?")
    with urllib.request.urlopen(body["media_url"], timeout=5) as fetched:
        assert fetched.status == 200 and fetched.read(2) == b"\xff\xd8"
    trace_id, _ = trace_of(rt, photo)
    assert trace_id

    wait_for_verdict(tencent, trace_id)

    assert trace_of(rt, photo) == (trace_id, PhotoCheck.RISKY)
    assert phone.ticket(number).get_json()["photos"] == []


def test_a_photo_that_passes_stays(
    client: FlaskClient, rt: Runtime, demo: None, tencent: Tencent, app_url_and_web: tuple[str, Later]
) -> None:
    phone = sign_in(client, tencent, "mp-wang")
    number, photo = report_with_photo(phone)
    trace_id, _ = trace_of(rt, photo)

    wait_for_verdict(tencent, trace_id)

    assert trace_of(rt, photo) == (trace_id, PhotoCheck.PASS)
    assert [p["id"] for p in phone.ticket(number).get_json()["photos"]] == [photo]


def test_wechat_out_of_reach_keeps_the_photo_pending_and_shown(
    client: FlaskClient, rt: Runtime, demo: None, tencent: Tencent
) -> None:
    phone = sign_in(client, tencent, "mp-wang")
    tencent.api.inject(-1, "media_check_async")

    number, photo = report_with_photo(phone)

    assert trace_of(rt, photo) == ("", PhotoCheck.PENDING)
    assert [p["id"] for p in phone.ticket(number).get_json()["photos"]] == [photo]
    assert tencent.api.pushed == []


def test_the_page_m_asks_no_check(client: FlaskClient, rt: Runtime, demo: None, tencent: Tencent) -> None:
    """The page /m/ signs in through the Official Account: no mini-program openid, so no check to ask."""
    phone = sign_in(client, tencent, "oa-wang", web=True)
    _, photo = report_with_photo(phone)
    assert not any(r["path"] == "/wxa/media_check_async" for r in tencent.api.received)
    assert trace_of(rt, photo) == ("", PhotoCheck.PENDING)


def test_the_stand_in_refuses_what_tencent_refuses(tencent: Tencent) -> None:
    """v1 bodies, a path for a URL, another app's token: refused as Tencent does, and no verdict is pushed."""

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{tencent.url}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            found: dict[str, Any] = json.loads(answer.read())
            return found

    token = post(
        "/cgi-bin/stable_token",
        {"grant_type": "client_credential", "appid": tencent.api.mp_appid, "secret": MP_SECRET},
    )["access_token"]
    good = {"media_url": "https://grid.test/p.jpg", "media_type": 2, "version": 2, "scene": 3, "openid": "mp-wang"}
    check = f"/wxa/media_check_async?access_token={token}"
    assert post(check, {"media_url": good["media_url"], "media_type": 2})["errcode"] == 47001  # v1
    assert post(check, {**good, "media_url": "/api/v1/photos/1"})["errcode"] == 47001
    assert post(check, {**good, "scene": 9})["errcode"] == 40129
    assert post("/wxa/media_check_async?access_token=made-up", good)["errcode"] == 40001
    answer = post(check, good)
    assert answer["errcode"] == 0 and answer["trace_id"]
    assert tencent.api.pushed == []  # no push URL set: nothing goes anywhere
