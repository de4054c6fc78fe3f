"""A complaint the classifier is not sure about waits for a person, who fixes the category (改类) and dispatches it;
the corrections come back out as training labels."""

from __future__ import annotations

import csv
import io
import json

from sqlmodel import select

from handlers import admin
from storage.models import Outbox, Status, Ticket
from tests.members import GroupMember

VAGUE = "幸福小区3栋楼下那个东西又弄得乱七八糟的没人管"


def newest(session) -> Ticket:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.exec(select(Ticket).order_by(Ticket.id.desc())).first()


def test_an_unsure_complaint_waits_for_the_centre_with_a_suggested_grid(resident, session, run_worker) -> None:
    reply = resident.say(VAGUE)
    ticket = newest(session)
    assert ticket.status == Status.NEW and ticket.grid_id is None
    assert "社区指挥中心将尽快派给所属网格" in reply
    run_worker()
    notice = session.exec(select(Outbox).where(Outbox.kind == "supervisor_notice")).one()
    assert notice.event == "unsure" and json.loads(notice.payload)["grid_code"] == "G01"
    assert not session.exec(select(Outbox).where(Outbox.kind == "group_push")).all()  # no grid acts on a guess


def test_a_sure_complaint_is_routed_straight_away(resident, session) -> None:
    resident.say("3号楼楼道灯坏了")
    assert newest(session).status == Status.ASSIGNED


def test_an_urgent_complaint_never_waits_for_a_category(resident, session) -> None:
    resident.say("幸福小区3栋楼下冒烟了")
    ticket = newest(session)
    assert ticket.urgent and ticket.status == Status.ASSIGNED


def test_the_centre_corrects_the_category_and_dispatches_it(resident, rt, demo, session) -> None:
    resident.say(VAGUE)
    ticket = newest(session)
    centre = GroupMember(rt, "zhihui", "sup-chat")
    assert "类别有" in centre.say(f"改类 {ticket.id} 火星")
    reply = centre.say(f"改类 {ticket.id} 环境卫生")
    assert "已改为环境卫生" in reply and f"派 {ticket.id}" in reply
    assert "已派给" in centre.say(f"派 {ticket.id} G01")
    after = newest(session)
    assert after.category == "sanitation" and after.status == Status.ASSIGNED

    rows = list(csv.DictReader(io.StringIO(admin.export_corrections(session))))
    assert rows == [
        {
            "text": VAGUE,
            "label": "sanitation",
            "name": "环境卫生",
            "ticket": str(ticket.id),
            "corrected_at": rows[0]["corrected_at"],
        }
    ]


def test_a_resident_cannot_reclassify(resident, session) -> None:
    resident.say("3号楼楼道灯坏了")
    ticket = newest(session)
    assert "不对居民开放" in resident.say(f"改类 {ticket.id} 停车交通")
    assert newest(session).category == ticket.category


def test_corrections_export_from_the_cli_for_training(resident, rt, demo, app, session, tmp_path) -> None:
    resident.say(VAGUE)
    ticket = newest(session)
    GroupMember(rt, "zhihui", "sup-chat").say(f"改类 {ticket.id} 环境卫生")
    out = tmp_path / "labels.csv"
    result = app.test_cli_runner().invoke(args=["nlp", "export-labels", str(out)])
    assert result.exit_code == 0 and "已导出 1 条" in result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [(r["text"], r["label"]) for r in rows] == [(VAGUE, "sanitation")]
