"""The screen's map (/centre/api/map): a unit's grids drawn from their imported outlines, coloured by their open and
overdue tickets, and the open tickets as points, inside the signed-in centre's unit only."""

from __future__ import annotations

import uuid
from datetime import timedelta

import time_machine
from sqlmodel import select

from storage.models import Ticket
from tests.centre.test_signin_and_screen import add_user, sign_in

S01_GRIDS = {"G01", "G02", "G03", "G04", "G05", "G06", "G09", "G10"}  # 幸福社区 and 阳光社区 (demo/org.csv)


def test_a_streets_map_has_its_own_grids_outlined_and_a_new_complaint_on_its_grid(app, demo, wechat_user, session):
    assert add_user(app, "wall-s01", "S01").exit_code == 0
    client = app.test_client()
    assert client.get("/centre/api/map").status_code == 401
    sign_in(client, "wall-s01")

    empty = client.get("/centre/api/map").get_json()
    assert {g["code"] for g in empty["grids"]} == S01_GRIDS
    assert all(len(g["polygon"]) >= 3 for g in empty["grids"])
    g01 = next(g for g in empty["grids"] if g["code"] == "G01")
    assert g01["name"] == "幸福小区第1网格" and g01["worker"]
    assert empty["points"] == [] and empty["load"] == {}

    wechat_user("o-demo-resident-1").say("3号楼楼道灯坏了")  # 幸福小区3栋: G01
    wechat_user(f"o-new-{uuid.uuid4().hex[:6]}").say("建设新村5栋楼道灯坏了")  # 和平街道: not on this map
    (mine,) = session.exec(select(Ticket).where(Ticket.text == "3号楼楼道灯坏了")).all()
    now = client.get(f"/centre/api/map?version={empty['version']}").get_json()
    assert "grids" not in now  # the outlines came with the first answer; now only what changes
    assert now["load"] == {"G01": [1, 0]}
    (point,) = now["points"]
    assert (point["id"], point["grid"], point["exact"], point["late"]) == (mine.id, "G01", False, False)
    # No pin: drawn near the grid's centre, within about 30 m.
    assert abs(point["lat"] - g01["centre"][1]) < 0.0005 and abs(point["lng"] - g01["centre"][0]) < 0.0005


def test_a_pinned_complaint_is_drawn_where_it_was_pinned_and_turns_late_after_its_deadline(
    app, demo, stranger, oa, session
):
    assert add_user(app, "wall-s01", "S01").exit_code == 0
    client = app.test_client()
    sign_in(client, "wall-s01")
    stranger.say("路灯坏了")
    stranger.send(oa.location(stranger.openid, 30.27230, 120.16130, "阳光花园附近"))  # G05
    (point,) = client.get("/centre/api/map").get_json()["points"]
    assert (point["grid"], point["exact"], point["lat"], point["lng"]) == ("G05", True, 30.2723, 120.1613)

    ticket = session.exec(select(Ticket)).one()
    assert ticket.resolve_due_at is not None
    with time_machine.travel(ticket.resolve_due_at + timedelta(hours=1), tick=False):
        later = app.test_client()  # days on: the morning's session has run out
        sign_in(later, "wall-s01")
        late = later.get("/centre/api/map").get_json()
    assert late["load"] == {"G05": [1, 1]} and late["points"][0]["late"] is True


def test_another_street_sees_neither_the_grids_nor_the_points(app, demo, wechat_user):
    assert add_user(app, "wall-s02", "S02").exit_code == 0
    client = app.test_client()
    sign_in(client, "wall-s02")
    wechat_user("o-demo-resident-1").say("3号楼楼道灯坏了")  # S01's
    shown = client.get("/centre/api/map").get_json()
    assert S01_GRIDS.isdisjoint(g["code"] for g in shown["grids"]) and shown["grids"]
    assert shown["points"] == [] and shown["load"] == {}
