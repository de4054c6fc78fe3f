"""What one resident can do to others: floods from one openid, copies of an emergency, identical reports nobody can
route, and a stranger linked to someone else's ticket. Every message goes through the real signed /wechat callback.
"""

from __future__ import annotations

import re
import uuid

import pytest
from sqlmodel import Session, col, select

from handlers import notices
from storage import outbox
from storage.models import Outbox, Status, Ticket, TicketReporter, utcnow
from tests.conftest import WeChatUser
from tests.members import GroupMember

# Twelve different problems in different places: none is a duplicate of another.
DISTINCT = [
    "幸福小区1栋楼道灯坏了",
    "幸福小区2栋门口垃圾好几天没人清运",
    "幸福小区3栋楼上装修噪音太吵",
    "幸福小区4栋门口有车乱停堵住了路",
    "阳光花园1栋电梯坏了",
    "阳光花园2栋有人私搭乱建",
    "阳光花园3栋下水道堵了污水外溢",
    "幸福小区5栋晚上广场舞太吵",
    "幸福小区6栋停水了",
    "阳光花园5栋楼下有人摆摊占道经营",
    "幸福小区7栋墙上小广告贴满了",
    "阳光花园6栋有人飞线充电",
]
FIRE = "幸福小区3栋着火了，好大的烟"


def number(reply: str) -> int:
    found = re.search(r"工单号? ?(\d+)", reply)
    assert found, reply
    return int(found.group(1))


def rows(session: Session, **where: object) -> list[Outbox]:
    query = select(Outbox)
    for name, value in where.items():
        query = query.where(getattr(Outbox, name) == value)
    return list(session.exec(query.order_by(col(Outbox.id))).all())


def newcomer(wechat_user):  # type: ignore[no-untyped-def]
    return wechat_user("o-" + uuid.uuid4().hex[:12])


# --- a flood from one sender ------------------------------------------------------------------------------------


def test_beyond_ten_an_hour_a_senders_complaints_wait_for_the_centre_which_hears_once(wechat_user, demo, session):
    flooder = newcomer(wechat_user)
    replies = [flooder.say(text) for text in DISTINCT]
    tickets = {number(r): r for r in replies}
    assert len(tickets) == 12, "each distinct problem is a ticket, kept"
    held = [n for n, reply in tickets.items() if "较多" in reply]
    assert held == sorted(tickets)[10:], "the 11th and 12th wait for the centre"
    for n in held:
        ticket = session.get(Ticket, n)
        assert (ticket.status, ticket.grid_id, ticket.awaiting) == (Status.NEW, None, "centre")
        assert rows(session, ticket_id=n, kind="group_push") == []
    assert len(rows(session, kind="group_push", event="assigned")) + len(rows(session, event="unsure")) == 10
    alerts = rows(session, event="flooding")
    assert len(alerts) == 1 and alerts[0].kind == "supervisor_notice"
    text = notices.render(session, alerts[0])
    assert "1小时内反映超过限额" in text and f"查 {held[0]}" in text

    # Other residents are not held back: a neighbour's report still goes straight to the grid.
    neighbour = newcomer(wechat_user)
    assert "已派给" in neighbour.say("建设新村2栋楼道灯不亮")


def test_the_limit_is_a_setting_and_counts_tickets_not_links(make_app, oa, demo, wechat_user):
    client = make_app(sender_limit_hour=2, sender_limit_day=3).test_client()
    who = WeChatUser(client, oa, "o-" + uuid.uuid4().hex[:12])
    assert "已派给" in who.say(DISTINCT[0])
    assert "您已反映过" in who.say(DISTINCT[0] + "！")  # the same problem again: no second ticket, not counted
    assert "已派给" in who.say(DISTINCT[4])
    assert "较多" in who.say(DISTINCT[5])


def test_urgent_cards_go_out_before_a_chats_backlog(wechat_user, demo, session):
    backlog = newcomer(wechat_user)
    for text in DISTINCT[:4]:  # G01's chat gets a queue of cards
        backlog.say(text)
    fire = number(newcomer(wechat_user).say(FIRE))
    pending = outbox.pending(session, ["group_push"], utcnow())
    first = session.get(Outbox, pending[0][0])
    assert first.ticket_id == fire


# --- copies of an emergency -------------------------------------------------------------------------------------


def test_copies_of_one_fire_report_are_one_ticket_and_one_alert(wechat_user, demo, session):
    caller = newcomer(wechat_user)
    first = caller.say(FIRE)
    x = number(first)
    for _ in range(4):  # the same caller, again and again (new MsgIds: these are not WeChat's retries)
        again = caller.say(FIRE)
        assert "119" in again and f"工单 {x}" in again and "已反映过" in again
    for text in ("幸福小区3栋冒烟了着火了快来人", FIRE, "幸福小区3栋着火了！！有人被困吗", FIRE, FIRE):
        joined = newcomer(wechat_user).say(text)
        assert "119" in joined and f"工单 {x}" in joined, joined
    assert session.exec(select(Ticket)).all() == [session.get(Ticket, x)]
    assert session.get(Ticket, x).reporter_count == 6
    pushes = [(r.event) for r in rows(session, kind="group_push")]
    assert pushes == ["assigned", "linked_urgent"], "one card, one 又有居民报警 alert for the burst"
    alert = notices.render(session, rows(session, event="linked_urgent")[0])
    assert "共6位居民报警" in alert, "the alert says the total when it goes out"


def test_a_different_emergency_in_the_same_building_is_its_own_ticket(wechat_user, demo, session):
    x = number(newcomer(wechat_user).say(FIRE))
    other = newcomer(wechat_user).say("幸福小区3栋电梯困人了，里面有老人")
    assert number(other) != x


def test_identical_reports_of_a_place_we_do_not_serve_make_one_ticket_and_one_centre_notice(wechat_user, demo, session):
    text = "红星小区3栋门口的路灯坏了"
    numbers = {number(newcomer(wechat_user).say(text)) for _ in range(30)}
    assert len(numbers) == 1
    assert len(rows(session, kind="supervisor_notice")) == 1
    assert session.get(Ticket, numbers.pop()).reporter_count == 30


# --- a stranger linked to someone else's ticket -----------------------------------------------------------------

COMPLAINT = "3号楼楼道灯坏了好几天了，我叫王秀兰，电话13912345678"
LINKED_REPORT = "幸福小区3栋楼道的灯坏了"


@pytest.fixture
def linked(resident, wechat_user, rt):  # type: ignore[no-untyped-def]
    """王秀兰's ticket X, with a stranger's like report linked to it; (X, stranger)."""
    x = number(resident.say(COMPLAINT))
    stranger = newcomer(wechat_user)
    assert "已为您关联" in stranger.say(LINKED_REPORT)
    return x, stranger


def resolve(rt, x: int, note: str = "已更换灯泡") -> None:
    worker = GroupMember(rt, "zhangwei")
    assert "已接单" in worker.say(f"接单 {x}")
    assert "办结" in worker.say(f"办结 {x} {note}")


def test_a_linked_stranger_cannot_close_or_reopen_the_first_reporters_ticket(linked, resident, rt, session):
    x, stranger = linked
    resolve(rt, x)
    for line in ("满意", f"评价 {x} 满意", "不满意", f"评价 {x} 1 没修好"):
        reply = stranger.say(line)
        assert "最先反映的居民" in reply, reply
        session.expire_all()
        assert session.get(Ticket, x).status == Status.RESOLVED
    link = session.exec(select(TicketReporter).where(TicketReporter.ticket_id == x)).one()
    assert (link.rating, link.rating_note) == (1, "没修好"), "kept apart, for the centre's 回访"
    assert [r.event for r in rows(session, kind="supervisor_notice")] == ["linked_unhappy", "linked_unhappy"]
    assert "已结束" in resident.say("满意")
    session.expire_all()
    assert (session.get(Ticket, x).status, session.get(Ticket, x).rating) == (Status.CLOSED, 5)


def test_a_linked_stranger_gets_fixed_status_lines_never_the_workers_notes(linked, rt, session, resident):
    x, stranger = linked
    worker = GroupMember(rt, "zhangwei")
    worker.say(f"接单 {x}")
    worker.say(f"进展 {x} 已联系王秀兰13912345678，3栋502明天换灯")
    worker.say(f"办结 {x} 已给王秀兰家门口换灯")
    seen: dict[str, list[str]] = {}
    for row in rows(session, kind="resident_notice"):
        seen.setdefault(row.recipient, []).append(notices.render(session, row))
    theirs, hers = seen[stranger.openid], seen[resident.openid]
    assert len(theirs) == len(hers) == 3
    assert not [t for t in theirs if "王秀兰" in t or "139" in t or "502" in t], theirs
    assert any("已办结" in t and f"评价 {x}" in t for t in theirs)
    assert any("13912345678" in t for t in hers), "the first reporter still reads the worker's words"


def test_a_linked_strangers_next_message_is_not_taken_as_the_answer_to_a_question_for_her(linked, rt, session):
    x, stranger = linked
    worker = GroupMember(rt, "zhangwei")
    worker.say(f"接单 {x}")
    worker.say(f"挂起 {x} 请告知是几单元")
    reply = stranger.say("建设新村5栋门口路灯不亮")
    assert number(reply) != x
    session.expire_all()
    assert session.get(Ticket, x).status == Status.SUSPENDED


def test_a_bare_1_or_2_asks_before_reopening(resident, rt, session):
    x = number(resident.say("幸福小区2栋门口路灯不亮"))
    resolve(rt, x)
    for digit in ("1", "2"):
        reply = resident.say(digit)
        assert f"评价 {x} {digit}" in reply and "确认" in reply
        session.expire_all()
        assert session.get(Ticket, x).status == Status.RESOLVED
    assert "重新交给网格员" in resident.say(f"评价 {x} 1")


def test_a_residents_answer_shown_in_the_group_has_her_phone_masked(resident, rt, session):
    x = number(resident.say("幸福小区2栋门口路灯不亮"))
    worker = GroupMember(rt, "zhangwei")
    worker.say(f"接单 {x}")
    worker.say(f"挂起 {x} 请告知是哪个门口")
    assert "转给网格员" in resident.say("南边那个门，有事打我电话 139 1234 5678")
    [row] = rows(session, event="supplemented")
    shown = notices.render(session, row)
    assert "南边那个门" in shown and "1234" not in shown, shown


def test_two_fires_reported_without_a_place_are_never_joined(wechat_user, demo, session):
    """Each caller is asked where; their fires may be a street apart, and a wrong link would hide the second."""
    first, second = newcomer(wechat_user), newcomer(wechat_user)
    a = number(first.say("着火了快来人啊"))
    first.say("红星小区5栋")  # a place no grid serves: the ticket waits in the centre's queue, no longer asking
    b = number(second.say("着火了快来人啊"))
    assert a != b


def test_one_resident_sending_the_same_words_again_without_a_place_gets_one_ticket(wechat_user, demo, session):
    """A second tap, or a resident who has not seen the reply yet: the same problem, wherever it is. (Found in the
    newcomer trial: a complaint the centre places, sent twice, made two tickets.)"""
    resident = wechat_user("o-demo-resident-1")  # 幸福小区3栋; this complaint names no place and waits for the centre
    complaint = "燃气公司上门查了说管子好好的没漏 那股味是楼下饭馆排的废气 能不能让他们改改"
    x = number(resident.say(complaint))
    again = resident.say(complaint)
    assert f"工单 {x}" in again and "已反映过" in again, again
    caller = newcomer(wechat_user)
    fire = number(caller.say("着火了快来人啊"))
    assert number(caller.say("着火了快来人啊！！")) == fire  # taken as the answer to "where": the same ticket
    # someone else's same words are still their own ticket (test_two_fires_reported_without_a_place_are_never_joined)
    assert number(newcomer(wechat_user).say(complaint)) not in (x, fire)
    assert len(session.exec(select(Ticket)).all()) == 3
