"""The foundation's promise end to end: a resident's signed WeChat message becomes a routed, queued ticket."""

from __future__ import annotations

from sqlmodel import select

from storage.models import Grid, Outbox, Ticket


def test_bound_resident_gets_ticket_number_and_category(resident, session):
    reply = resident.say("3号楼楼道灯坏了好几天了")

    ticket = session.exec(select(Ticket)).one()
    assert f"工单号 {ticket.id}" in reply
    assert "物业房屋" in reply or "市政设施" in reply
    grid = session.get(Grid, ticket.grid_id)
    assert grid is not None and grid.code == "G01"
    assert "幸福小区第1网格" in reply and "张网格员" in reply and "前办结" in reply
    assert ticket.status == "assigned"


def test_assignment_reaches_the_grid_channel_through_the_worker(resident, session, run_worker, delivered):
    resident.say("3号楼楼道灯坏了好几天了 我电话13912345678")
    assert delivered() == []

    run_worker()

    sent = delivered()
    assert len(sent) == 1
    assert sent[0]["recipient"] == "wrk-chat-g01"
    assert "139****5678" in sent[0]["text"] and "13912345678" not in sent[0]["text"]
    assert session.exec(select(Outbox)).one().status == "sent"
