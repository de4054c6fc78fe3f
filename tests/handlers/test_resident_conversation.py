"""What a resident experiences, through the real signed callback."""

from __future__ import annotations

from sqlmodel import select

from handlers import moves
from storage.db import transaction
from storage.models import Grid, Outbox, Person, Status, Ticket, utcnow


def only_ticket(session) -> Ticket:
    session.expire_all()
    return session.exec(select(Ticket)).one()


def grid_code(session, ticket: Ticket) -> str | None:
    grid = session.get(Grid, ticket.grid_id) if ticket.grid_id else None
    return grid.code if grid else None


def test_place_in_text_routes_without_a_bound_address(stranger, session):
    reply = stranger.say("阳光花园8栋门口的垃圾桶满了好几天没人清运臭死了")
    ticket = only_ticket(session)
    assert grid_code(session, ticket) == "G05"
    assert "阳光花园第2网格" in reply and "环境卫生" in reply


def test_landmark_alias_routes_to_its_grid(stranger, session):
    stranger.say("阳光花园菜市场门口垃圾堆了好几天")
    assert grid_code(session, only_ticket(session)) == "G04"


def test_unknown_location_is_asked_once_and_the_answer_completes_the_same_ticket(stranger, session):
    first = stranger.say("路灯坏了晚上黑漆漆的")
    assert "请告诉我具体位置" in first
    ticket = only_ticket(session)
    assert ticket.status == Status.NEW and ticket.awaiting == "location"

    second = stranger.say("幸福小区10栋")
    ticket = only_ticket(session)
    assert f"工单号 {ticket.id}" in second and "幸福小区第3网格" in second
    assert grid_code(session, ticket) == "G03" and ticket.status == Status.ASSIGNED


def test_building_without_compound_is_asked_and_the_compound_alone_completes_it(stranger, session):
    assert "请告诉我具体位置" in stranger.say("5号楼电梯坏了困了好几次人")
    stranger.say("幸福小区")
    assert grid_code(session, only_ticket(session)) == "G02"


def test_answer_naming_no_known_place_goes_to_the_dispatch_queue(stranger, session):
    stranger.say("路灯坏了")
    reply = stranger.say("就在那个大树下面")
    ticket = only_ticket(session)
    assert ticket.grid_id is None and ticket.status == Status.NEW and ticket.awaiting is None
    assert "指挥中心" in reply
    notice = session.exec(select(Outbox)).one()
    assert (notice.kind, notice.event) == ("supervisor_notice", "unrouted")


def test_shared_location_completes_a_waiting_ticket_by_nearest_grid(stranger, oa, session):
    stranger.say("路灯坏了")
    reply = stranger.send(oa.location(stranger.openid, 30.27230, 120.16130, "阳光花园附近"))
    ticket = only_ticket(session)
    assert grid_code(session, ticket) == "G05" and "工单号" in reply
    assert ticket.lat == 30.27230


def test_photo_after_a_complaint_is_attached_to_it(resident, oa, session):
    resident.say("3号楼楼道灯坏了")
    reply = resident.send(oa.image(resident.openid, "photo-42"))
    ticket = only_ticket(session)
    assert f"工单 {ticket.id}" in reply and "photo-42" in ticket.images


def test_voice_message_uses_the_recognised_text(resident, oa, session):
    reply = resident.send(oa.voice(resident.openid, "三号楼楼道灯坏了"))
    assert "工单号" in reply and only_ticket(session).category == "property"


def test_voice_without_recognition_asks_for_text(resident, oa, session):
    reply = resident.send(oa.voice(resident.openid, ""))
    assert "文字" in reply
    assert session.exec(select(Ticket)).first() is None


def test_greeting_opens_no_ticket_and_says_how_to_report(stranger, session):
    reply = stranger.say("你好")
    assert "直接描述" in reply
    assert session.exec(select(Ticket)).first() is None


def test_a_place_alone_opens_no_ticket_and_asks_what_is_wrong_there(stranger, session):
    reply = stranger.say("在幸福小区3栋2单元")
    assert "幸福小区3栋2单元" in reply and "什么问题" in reply
    assert session.exec(select(Ticket)).first() is None
    assert "工单号" in stranger.say("幸福小区3栋2单元楼道灯坏了")
    assert only_ticket(session).category == "property"


def test_urgent_report_tells_the_resident_to_call_emergency_services(resident, session):
    reply = resident.say("3号楼楼道里冒烟了好大的烟")
    assert "119" in reply and only_ticket(session).urgent


def test_progress_and_my_tickets(resident, session):
    resident.say("3号楼楼道灯坏了")
    ticket = only_ticket(session)
    assert f"工单 {ticket.id}" in resident.say("进度") and "已派单" in resident.say(f"进度 {ticket.id}")
    assert str(ticket.id) in resident.say("我的工单")


def test_commands_typed_in_traditional_characters_work_as_simplified(resident, session, rt):
    resident.say("3號樓樓道燈壞了")
    ticket = only_ticket(session)
    assert "已派单" in resident.say(f"進度 {ticket.id}")
    assert str(ticket.id) in resident.say("我的工單")
    resolve(rt, ticket.id)
    assert "感谢" in resident.say(f"評價 {ticket.id} 滿意")
    session.expire_all()
    assert only_ticket(session).rating == 5


def to_full_width(text: str) -> str:
    """What a phone's full-width keyboard produces: ASCII shifted to U+FF01…, space to U+3000."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text)


def test_full_width_command_works(resident, session):
    resident.say("3号楼楼道灯坏了")
    assert "已派单" in resident.say(to_full_width(f"/进度 {only_ticket(session).id}"))


def test_resident_cannot_see_someone_elses_ticket(resident, wechat_user, session):
    resident.say("3号楼楼道灯坏了")
    ticket = only_ticket(session)
    other = wechat_user("o-demo-resident-2")
    reply = other.say(f"进度 {ticket.id}")
    assert "没有找到您的工单" in reply and "楼道灯" not in reply


def resolve(rt, ticket_id: int) -> None:
    """What the grid worker's 接单 and 办结 will do (their WeCom commands are the next issue)."""
    with transaction(rt.engine) as s:
        ticket = s.get(Ticket, ticket_id)
        moves.do(s, ticket, "accept", None, utcnow())
        moves.do(s, ticket, "resolve", None, utcnow(), "已更换灯泡")


def test_satisfied_rating_closes_the_ticket(resident, session, rt):
    resident.say("3号楼楼道灯坏了")
    ticket = only_ticket(session)
    assert "办结后才能评价" in resident.say(f"评价 {ticket.id} 满意")
    resolve(rt, ticket.id)
    reply = resident.say(f"评价 {ticket.id} 满意 修得很快")
    ticket = only_ticket(session)
    assert "感谢" in reply and ticket.status == Status.CLOSED and ticket.rating == 5


def test_unsatisfied_rating_reopens_and_tells_group_and_centre(resident, session, rt):
    resident.say("3号楼楼道灯坏了")
    ticket = only_ticket(session)
    resolve(rt, ticket.id)
    reply = resident.say(f"评价{ticket.id}不满意 灯还是不亮")
    ticket = only_ticket(session)
    assert ticket.status == Status.REOPENED and ticket.rating == 1 and "重新" in reply
    events = {(o.kind, o.event) for o in session.exec(select(Outbox)).all()}
    assert {("group_push", "reopened"), ("supervisor_notice", "reopened")} <= events


def test_urge_reaches_the_group_once_per_interval(resident, session):
    resident.say("3号楼楼道灯坏了")
    ticket = only_ticket(session)
    assert "已催办" in resident.say(f"催办 {ticket.id}")
    assert "刚催办过" in resident.say(f"催办 {ticket.id}")
    urges = session.exec(select(Outbox).where(Outbox.event == "urged")).all()
    assert len(urges) == 1


def test_cancel_withdraws_the_ticket_and_tells_the_group(resident, session):
    resident.say("3号楼楼道灯坏了")
    ticket = only_ticket(session)
    assert "已撤销" in resident.say(f"撤销 {ticket.id}")
    assert only_ticket(session).status == Status.CANCELLED
    assert "已撤销" in resident.say(f"撤销 {ticket.id}")  # second time: refused with the reason
    assert len(session.exec(select(Outbox).where(Outbox.event == "cancelled")).all()) == 1


def test_bind_then_report_without_saying_the_place(stranger, session):
    assert "已绑定" in stranger.say("绑定 阳光花园 9栋")
    person = session.exec(select(Person).where(Person.openid == stranger.openid)).one()
    assert person.address == "阳光花园9栋"
    stranger.say("楼下有人天天占用消防通道停车")
    assert grid_code(session, only_ticket(session)) == "G05"


def test_bind_to_unknown_place_says_how_to_fix_it(stranger):
    assert "没有找到" in stranger.say("绑定 不存在小区 1栋")


def test_building_qr_code_binds_on_subscribe(stranger, oa, session):
    reply = stranger.send(oa.event(stranger.openid, "subscribe", "qrscene_G07:建设新村4栋"))
    assert "欢迎" in reply and "建设新村网格" in reply
    stranger.say("楼道里堆满了杂物")
    assert grid_code(session, only_ticket(session)) == "G07"


def test_menu_click_shows_my_tickets(resident, oa):
    resident.say("3号楼楼道灯坏了")
    assert "您最近的工单" in resident.send(oa.event(resident.openid, "CLICK", "MY_TICKETS"))


def test_help_lists_resident_commands_only(resident):
    reply = resident.say("帮助")
    assert "进度" in reply and "评价" in reply and "统计" not in reply


def test_complaint_starting_with_a_command_word_is_still_a_complaint(resident, session):
    reply = resident.say("统计局门口的路灯坏了")
    assert "工单号" in reply and "不对居民开放" not in reply
