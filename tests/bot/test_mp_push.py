"""The mini-program's message push `/wechat/mp`: WeChat's verdict on a photo (wxa_media_check), signed as WeChat signs
it; a risky photo disappears from the ticket's detail, its shared page and the card, and the centre sees why."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from bot import photolinks
from bot.runtime import Runtime
from config import DEV_MP_APPID, DEV_MP_TOKEN
from handlers import selfservice
from storage.db import transaction
from storage.models import Photo, PhotoCheck, Ticket, TicketEvent

PUBLIC = "http://grid.test"


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(public_url=PUBLIC)


def signed_query(token: str = DEV_MP_TOKEN, timestamp: int | None = None, nonce: str | None = None) -> str:
    ts, nonce = str(timestamp or int(time.time())), nonce or str(secrets.randbelow(10**10))
    signature = hashlib.sha1("".join(sorted((token, ts, nonce))).encode()).hexdigest()
    return f"signature={signature}&timestamp={ts}&nonce={nonce}"


def verdict(trace_id: str, suggest: str, **extra: Any) -> dict[str, Any]:
    """The event as Tencent sends it (label a string, as seen in the wild)."""
    return {
        "ToUserName": "gh_7bf1f1389686",
        "FromUserName": "o-mp-resident",
        "CreateTime": int(time.time()),
        "MsgType": "event",
        "Event": "wxa_media_check",
        "appid": DEV_MP_APPID,
        "trace_id": trace_id,
        "version": 2,
        "result": {"suggest": suggest, "label": "20002" if suggest == "risky" else "100"},
        "detail": [{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": "100", "prob": 90}],
        **extra,
    }


def push(client: FlaskClient, event: Any, query: str | None = None) -> tuple[int, str]:
    body = event if isinstance(event, bytes) else json.dumps(event, ensure_ascii=False).encode()
    response = client.post(f"/wechat/mp?{query or signed_query()}", data=body, content_type="application/json")
    return response.status_code, response.get_data(as_text=True)


@pytest.fixture
def photo_on_ticket(rt: Runtime, resident) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """(ticket number, the resident's person id, photo id): a ticket with a photo whose check is pending."""
    assert resident.say("3号楼楼道灯坏了好几天了")
    with transaction(rt.engine) as session:
        ticket = session.exec(select(Ticket).order_by(col(Ticket.id).desc())).first()
        assert ticket is not None and ticket.id is not None and ticket.resident_id is not None
        photo = Photo(key="2026/12/03/abc.jpg", person_id=ticket.resident_id, ticket_id=ticket.id, sha256="0" * 64)
        photo.trace_id = "690b03d2-301f6111-35ffbd44"
        session.add(photo)
        session.flush()
        assert photo.id is not None
        return ticket.id, ticket.resident_id, photo.id


def shown(rt: Runtime, number: int, person_id: int) -> list[int]:
    return [p["id"] for p in selfservice.ticket_of(rt.engine, person_id, number)["photos"]]


def shared_page(client: FlaskClient, rt: Runtime, number: int) -> str:
    page = photolinks.ticket_page(rt.settings, number).removeprefix(PUBLIC)
    response = client.get(page)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def photo_state(rt: Runtime, photo_id: int) -> str:
    with Session(rt.engine) as session:
        photo = session.get(Photo, photo_id)
        assert photo is not None
        return photo.check


def events_of(rt: Runtime, number: int, action: str) -> list[TicketEvent]:
    with Session(rt.engine) as session:
        query = select(TicketEvent).where(TicketEvent.ticket_id == number, TicketEvent.action == action)
        return list(session.exec(query).all())


def test_the_console_url_check_echoes_echostr(client: FlaskClient) -> None:
    response = client.get(f"/wechat/mp?{signed_query()}&echostr=4711")
    assert response.status_code == 200 and response.get_data(as_text=True) == "4711"
    forged = client.get(f"/wechat/mp?{signed_query(token='not-ours')}&echostr=4711")
    assert forged.status_code == 403 and "4711" not in forged.get_data(as_text=True)


def test_a_risky_verdict_hides_the_photo_and_the_ticket_says_so(client, rt, photo_on_ticket) -> None:  # type: ignore[no-untyped-def]
    number, person_id, photo_id = photo_on_ticket
    assert shown(rt, number, person_id) == [photo_id]
    assert f"/api/v1/photos/{photo_id}?" in shared_page(client, rt, number)

    assert push(client, verdict("690b03d2-301f6111-35ffbd44", "risky")) == (200, "success")

    assert photo_state(rt, photo_id) == PhotoCheck.RISKY
    assert shown(rt, number, person_id) == []
    page = shared_page(client, rt, number)
    assert f"/api/v1/photos/{photo_id}?" not in page and "没有可显示的照片" in page
    # The photo's own signed link answers nothing either.
    assert client.get(photolinks.photo_path(rt.settings, photo_id)).status_code == 404
    (hidden,) = events_of(rt, number, "photo_hidden")
    assert hidden.note == "微信内容安全：照片已隐藏"


def test_a_retried_event_changes_nothing_more(client, rt, photo_on_ticket) -> None:  # type: ignore[no-untyped-def]
    number, _, photo_id = photo_on_ticket
    event = verdict("690b03d2-301f6111-35ffbd44", "risky")
    assert push(client, event) == (200, "success")
    assert push(client, event) == (200, "success")  # WeChat's retry: a new query, the same event
    # And a later, different verdict for the same trace is not taken either: the first one counts.
    assert push(client, verdict("690b03d2-301f6111-35ffbd44", "pass")) == (200, "success")

    assert photo_state(rt, photo_id) == PhotoCheck.RISKY
    assert len(events_of(rt, number, "photo_hidden")) == 1


def test_a_pass_keeps_the_photo_shown(client, rt, photo_on_ticket) -> None:  # type: ignore[no-untyped-def]
    number, person_id, photo_id = photo_on_ticket
    assert push(client, verdict("690b03d2-301f6111-35ffbd44", "pass")) == (200, "success")
    assert photo_state(rt, photo_id) == PhotoCheck.PASS
    assert shown(rt, number, person_id) == [photo_id]
    assert events_of(rt, number, "photo_hidden") == []


def test_an_unknown_trace_id_is_answered_and_changes_nothing(client, rt, photo_on_ticket) -> None:  # type: ignore[no-untyped-def]
    number, person_id, photo_id = photo_on_ticket
    assert push(client, verdict("ffffffff-00000000-11111111", "risky")) == (200, "success")
    assert photo_state(rt, photo_id) == PhotoCheck.PENDING
    assert shown(rt, number, person_id) == [photo_id]


def test_other_events_are_answered_success(client, rt, photo_on_ticket) -> None:  # type: ignore[no-untyped-def]
    _, _, photo_id = photo_on_ticket
    event = {"ToUserName": "gh_1", "FromUserName": "o-1", "MsgType": "event", "Event": "user_enter_tempsession"}
    assert push(client, event) == (200, "success")
    # A verdict for another mini-program's trace is not ours to take.
    assert push(client, verdict("690b03d2-301f6111-35ffbd44", "risky", appid="wx-someone-else")) == (200, "success")
    assert photo_state(rt, photo_id) == PhotoCheck.PENDING


def test_a_forged_signature_is_refused(client, rt, photo_on_ticket) -> None:  # type: ignore[no-untyped-def]
    _, _, photo_id = photo_on_ticket
    status, _ = push(client, verdict("690b03d2-301f6111-35ffbd44", "risky"), signed_query(token="guessed-token"))
    assert status == 403
    unsigned = client.post("/wechat/mp", json=verdict("690b03d2-301f6111-35ffbd44", "risky"))
    assert unsigned.status_code == 403
    assert photo_state(rt, photo_id) == PhotoCheck.PENDING


def test_an_old_timestamp_is_a_replay(client, rt, photo_on_ticket) -> None:  # type: ignore[no-untyped-def]
    _, _, photo_id = photo_on_ticket
    old = signed_query(timestamp=int(time.time()) - 3600)
    status, _ = push(client, verdict("690b03d2-301f6111-35ffbd44", "risky"), old)
    assert status == 403
    assert photo_state(rt, photo_id) == PhotoCheck.PENDING


def test_a_signed_query_cannot_carry_another_body(client, rt, photo_on_ticket) -> None:  # type: ignore[no-untyped-def]
    _, _, photo_id = photo_on_ticket
    query = signed_query()
    assert push(client, {"MsgType": "event", "Event": "user_enter_tempsession"}, query) == (200, "success")
    status, _ = push(client, verdict("690b03d2-301f6111-35ffbd44", "risky"), query)
    assert status == 403
    assert photo_state(rt, photo_id) == PhotoCheck.PENDING


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe",
        b"[1, 2]",
        json.dumps({"MsgType": "event", "Event": "wxa_media_check", "trace_id": "t"}).encode(),
        json.dumps(verdict("690b03d2-301f6111-35ffbd44", "maybe")).encode(),
    ],
    ids=["broken", "not-utf8", "not-an-object", "no-result", "unknown-suggest"],
)
def test_malformed_bodies_are_400(client, rt, photo_on_ticket, body: bytes) -> None:  # type: ignore[no-untyped-def]
    _, _, photo_id = photo_on_ticket
    assert push(client, body)[0] == 400
    assert photo_state(rt, photo_id) == PhotoCheck.PENDING


def test_an_encrypted_push_is_refused_as_not_supported(client: FlaskClient) -> None:
    assert push(client, {"ToUserName": "gh_1", "Encrypt": "c2VjcmV0"})[0] == 400


def test_a_body_over_the_cap_is_413(client: FlaskClient) -> None:
    assert push(client, b"{" + b" " * (70 * 1024) + b"}")[0] == 413


def test_production_keeps_it_off_with_the_development_token(make_app: Callable[..., Flask]) -> None:
    client = make_app(production=True).test_client()
    assert client.get(f"/wechat/mp?{signed_query()}&echostr=1").status_code == 404
    assert push(client, verdict("t", "risky"))[0] == 404
