"""The browser simulator's process, in-process: our app served on a loopback port, the simulator in front of it."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from flask import Flask
from sqlmodel import select

from bot.cards import ticket_of
from bot.gateway import Gateway
from config import Settings
from simulator import server
from storage.models import Ticket
from tests.gateways import simulator_gateways

T = TypeVar("T")
G01 = "wrk-chat-g01"


def call(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """GET (or POST JSON) on loopback; (status, decoded JSON)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw.startswith(b"{") else raw.decode()


@pytest.fixture
def sim(app_url: str, settings: Settings) -> Iterator[server.Running]:
    running = server.start(app_url, settings=settings)
    yield running
    running.stop()


def wait_until(check: Callable[[], T], timeout: float = 15.0) -> T:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout} s")
        time.sleep(0.05)
    return result


@pytest.fixture
def gateway(sim: server.Running, settings: Settings) -> Iterator[Gateway]:
    """Our gateways, one per bot the simulator serves, connected to its stand-in; the default bot's."""
    with simulator_gateways(sim, settings) as default:
        yield default


def card_in(sim: server.Running, chat: str, number: int) -> Callable[[], list[dict]]:
    """The ticket's cards in the chat's pane, as members see them now."""

    def cards() -> list[dict]:
        entries = call(f"{sim.url}/sim/chat?chat_id={chat}")[1]["entries"]
        return [e["card"] for e in entries if ticket_of(e.get("card", {}).get("task_id", "")) == number]

    return cards


def bot_texts(sim: server.Running, chat: str) -> list[str]:
    return [
        e["text"] for e in call(f"{sim.url}/sim/chat?chat_id={chat}")[1]["entries"] if e["who"] == "bot" and "text" in e
    ]


def test_resident_complaint_gets_the_passive_reply_with_ticket_number(sim, session):
    status, answer = call(f"{sim.url}/sim/oa/say", {"openid": "o-demo-resident-1", "text": "3号楼楼道灯坏了好几天了"})

    assert status == 200 and not answer["error"]
    ticket = session.exec(select(Ticket)).one()
    assert f"工单号 {ticket.id}" in answer["reply"]
    _, chat = call(f"{sim.url}/sim/oa?openid=o-demo-resident-1")
    assert [(e["who"], e["text"]) for e in chat["entries"]] == [
        ("me", "3号楼楼道灯坏了好几天了"),
        ("bot", answer["reply"]),
    ]


def test_safe_mode_round_trip_and_a_newcomer_is_asked_where(sim):
    _, answer = call(f"{sim.url}/sim/oa/say", {"openid": "o-new-page", "text": "路灯不亮", "safe": True})

    assert not answer["error"]
    assert "工单号" in answer["reply"] and "具体位置" in answer["reply"]


def test_supervisor_quick_button_gets_the_numbers(sim):
    _, answer = call(f"{sim.url}/sim/oa/say", {"openid": "o-demo-supervisor", "text": "统计"})

    assert not answer["error"] and answer["reply"]


def test_directory_lists_demo_people_and_grid_chats(sim):
    _, directory = call(f"{sim.url}/sim/directory")

    resident = {"id": "o-demo-resident-1", "name": "王秀兰", "grid": "G01", "address": "幸福小区3栋", "post": ""}
    assert resident in directory["residents"]
    assert directory["supervisor"]["id"] == "o-demo-supervisor"
    chats = {c["code"]: c for c in directory["chats"]}
    assert chats["G01"] == {
        "code": "G01",
        "name": "幸福小区第1网格",
        "chat_id": "wrk-chat-g01",
        "worker": "zhangwei",
        "bot": "",  # the default bot's group
    }
    # 和平街道 runs its own bot (org.csv bot_id): it is in the groups under it, its grids' and its centre's.
    assert chats["G07"]["bot"] == chats["G16"]["bot"] == chats["S02"]["bot"] == "sim-bot-s02"
    assert chats["CG01"]["bot"] == ""  # a district department: the default bot
    # A centre with a group of its own, and a department's group, each played by its own people.
    assert chats["S01"] == {
        "code": "S01",
        "name": "朝阳街道指挥中心群",
        "chat_id": "centre-chat-s01",
        "worker": "centre-s01",
        "bot": "",
    }
    assert chats["CG01"]["name"] == "区城管执法局工作群" and chats["CG01"]["worker"] == "cg-li"
    members = {m["id"]: m for m in directory["members"]}
    assert members["centre-s01"]["post"] == "朝阳街道指挥中心" and members["cg-li"]["post"] == "区城管执法局"
    _, listed = call(f"{sim.url}/sim/chats")
    assert [c["chat_id"] for c in listed["chats"]][:8] == [f"wrk-chat-g0{i}" for i in range(1, 9)]


def test_app_down_is_told_in_the_chat_not_a_crash(settings):
    url, stop = server.serve_in_thread(Flask("nothing"))
    stop()  # a port nobody listens on any more
    running = server.start(url, settings=settings)
    try:
        status, answer = call(f"{running.url}/sim/oa/say", {"openid": "o-demo-resident-1", "text": "你好"})
        _, state = call(f"{running.url}/sim/status")
    finally:
        running.stop()

    assert status == 200 and "连不上网格通" in answer["error"] and "make run" in answer["error"]
    assert state["app"] is False


def test_bad_requests_are_refused(sim):
    assert call(f"{sim.url}/sim/oa/say", {"openid": "o-demo-resident-1"})[0] == 400
    assert call(f"{sim.url}/sim/oa")[0] == 400
    status, answer = call(f"{sim.url}/sim/inject", {"target": "aibot", "action": "__init__"})
    assert status == 400 and not answer["ok"]


def test_the_page_and_its_assets_are_served_locally(sim):
    with urllib.request.urlopen(f"{sim.url}/", timeout=5) as response:
        html = response.read().decode()
    assert "居民" in html and "网格群" in html and "指挥中心" in html
    assert "http://" not in html and "https://" not in html  # nothing fetched from the internet
    for asset in ("app.js", "style.css"):
        with urllib.request.urlopen(f"{sim.url}/static/{asset}", timeout=5) as response:
            body = response.read().decode()
        assert "http://" not in body and "https://" not in body


def test_the_loop_in_the_group_pane_card_refusal_accept_resolve_then_rating(sim, gateway, session):
    call(f"{sim.url}/sim/oa/say", {"openid": "o-demo-resident-1", "text": "3号楼楼道灯坏了好几天了"})
    number = session.exec(select(Ticket)).one().id
    (card,) = wait_until(card_in(sim, G01, number))
    task = card["task_id"]
    assert card["title"].startswith(f"工单 {number}") and card["source"] == "【新工单】"
    assert [b["key"] for b in card["buttons"]] == [f"accept:{number}", f"return:{number}"]
    assert {"key": "地点", "value": "幸福小区3号楼"} in card["fields"]

    # Another grid's worker is refused, and the card stays as it was.
    refusal = {"chat_id": G01, "userid": "liuyang", "event_key": f"accept:{number}", "task_id": task}
    assert call(f"{sim.url}/sim/chat/click", refusal)[0] == 200
    wait_until(lambda: any("不能接单" in t for t in bot_texts(sim, G01)))

    accept = refusal | {"userid": "zhangwei"}
    call(f"{sim.url}/sim/chat/click", accept)
    (card,) = wait_until(
        lambda: [c for c in card_in(sim, G01, number)() if c["buttons"][0]["key"].startswith("resolve")]
    )
    assert "张伟 已接单" in card["note"]  # updated in place: still one card for the ticket

    call(f"{sim.url}/sim/chat/say", {"chat_id": G01, "userid": "zhangwei", "text": "待办"})
    wait_until(
        lambda: any(e.get("text") == "@网格通 待办" for e in call(f"{sim.url}/sim/chat?chat_id={G01}")[1]["entries"])
    )

    call(f"{sim.url}/sim/chat/click", accept | {"event_key": f"resolve:{number}"})
    wait_until(lambda: [c for c in card_in(sim, G01, number)() if "已办结" in c["desc"]])

    _, rated = call(f"{sim.url}/sim/oa/say", {"openid": "o-demo-resident-1", "text": f"评价 {number} 满意"})
    assert not rated["error"] and rated["reply"]


def test_a_member_typing_without_a_gateway_is_told_to_start_it(sim):
    call(f"{sim.url}/sim/chat/say", {"chat_id": G01, "userid": "zhangwei", "text": "待办"})

    entries = call(f"{sim.url}/sim/chat?chat_id={G01}")[1]["entries"]
    assert [e["who"] for e in entries] == ["me", "system"]
    assert entries[0]["text"] == "@网格通 待办" and entries[0]["sender"] == "zhangwei"
    assert "python -m bot.gateway" in entries[-1]["text"]


def test_error_injection_reaches_the_stand_ins(sim):
    assert call(f"{sim.url}/sim/inject", {"target": "aibot", "action": "slow", "seconds": 0})[1] == {"ok": True}
    assert call(f"{sim.url}/sim/inject", {"target": "wechat_api", "action": "fail_sends", "count": 1})[0] == 200
    status, body = call(f"{sim.url}/cgi-bin/token?grant_type=client_credential&appid=x&secret=y")
    assert status == 200 and body["errcode"] == 40013  # the stand-in answers under /cgi-bin/, as Tencent does
    assert call(f"{sim.url}/sim/inject", {"target": "aibot", "action": "slow", "bogus": 1})[0] == 400
