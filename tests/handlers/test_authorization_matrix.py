"""Who may run which command: every registered command by every kind of sender, through the real callbacks
(residents and the centre's WeChat desk at /wechat, grid workers and the centre's WeCom desk at /wecom).

Refused: a Chinese refusal, and nothing written but the delivery's own dedupe record. Allowed: the command's
effect is there. Nobody but 王秀兰 herself ever sees her complaint's text, name or phone in the clear.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, select

from config import DEV_WECOM_AGENT_ID, DEV_WECOM_APP_AES_KEY, DEV_WECOM_APP_TOKEN, DEV_WECOM_CORP_ID
from handlers.conversation import REGISTRY
from storage.db import transaction
from storage.models import Grid, Person, Role, Status, Ticket, TicketEvent, utcnow
from tests.tables import DELIVERY_RECORD_ONLY, restore, snapshot, writes

# fmt: off
# The senders, as columns. "centre" is the command centre (指挥中心) of a deployment without a tree (it sees all),
# reached over WeChat or WeCom; "street" and "other_street" sit in one unit's centre (docs/organisation.md), and see
# and act inside it only; "department" is a department's staff member (区城管执法局), whom X was never given to.
PRINCIPALS = {
    #                  channel   sender id              role
    "stranger":       ("wechat", "o-matrix-stranger",   Role.RESIDENT),     # first contact, no address
    "reporter":       ("wechat", "o-demo-resident-1",   Role.RESIDENT),     # 王秀兰, who reported ticket X
    "neighbour":      ("wechat", "o-demo-resident-2",   Role.RESIDENT),     # 李建国, another resident
    "linked":         ("wechat", "o-matrix-linked",     Role.RESIDENT),     # a stranger whose like report joined X
    "worker":         ("wecom",  "zhangwei",            Role.GRID_WORKER),  # 张伟, X's grid (G01)
    "other_worker":   ("wecom",  "liuyang",             Role.GRID_WORKER),  # 刘洋, grid G02
    "centre_wechat":  ("wechat", "o-demo-supervisor",   Role.SUPERVISOR),
    "centre_wecom":   ("wecom",  "zhihui",              Role.SUPERVISOR),
    "unrostered":     ("wecom",  "nobody-on-roster",    None),              # in the corp, not on the roster
    "street":         ("wecom",  "centre-s01",          Role.SUPERVISOR),   # 朝阳街道's centre: X's street
    "other_street":   ("wecom",  "centre-s02",          Role.SUPERVISOR),   # 和平街道's centre: not X's
    "department":     ("wecom",  "cg-li",               Role.DEPARTMENT),   # 区城管执法局's staff; X is not theirs
}

# Y runs, with its effect · - refused, nothing written · ~ every word of it is another command for this role (the
# resident's 进度 is the worker's 进度 too; the centre's "查询" reads as 查 with "询"): that command's row covers it.
# A linked reporter follows X and rates it for themself (recorded apart); only its first reporter closes, reopens or
# cancels it.
# Columns, in PRINCIPALS order: stranger, reporter, neighbour, linked, worker, other_worker, centre_wechat,
# centre_wecom, unrostered, street, other_street, department.
#               str rep nei lnk wrk ow  cw  cc  unr st  ost dep
MATRIX = {
    "帮助":     "Y   Y   Y   Y   Y   Y   Y   Y   -   Y   Y   Y ",
    "进度":     "-   Y   -   Y   -   -   ~   ~   -   ~   ~   - ",
    "我的工单": "Y   Y   Y   Y   -   -   -   -   -   -   -   - ",
    "评价":     "-   Y   -   Y   -   -   -   -   -   -   -   - ",
    "催办":     "-   Y   -   Y   -   -   -   -   -   -   -   - ",
    "撤销":     "-   Y   -   -   -   -   -   -   -   -   -   - ",
    "绑定":     "Y   Y   Y   Y   -   -   -   -   -   -   -   - ",
    "接单":     "-   -   -   -   Y   -   Y   Y   -   Y   -   - ",
    "进展":     "-   -   -   -   Y   -   Y   Y   -   Y   -   - ",
    "办结":     "-   -   -   -   Y   -   Y   Y   -   Y   -   - ",
    "退回":     "-   -   -   -   Y   -   Y   Y   -   Y   -   - ",
    "待办":     "-   -   -   -   Y   Y   Y   Y   -   Y   -   Y ",
    "挂起":     "-   -   -   -   Y   -   Y   Y   -   Y   -   - ",
    "恢复":     "-   -   -   -   Y   -   Y   Y   -   Y   -   - ",
    "延期":     "-   -   -   -   Y   -   Y   Y   -   Y   -   - ",
    "巡查":     "-   -   -   -   Y   Y   -   -   -   -   -   - ",
    "统计":     "-   -   -   -   -   -   Y   Y   -   Y   Y   - ",
    "日报":     "-   -   -   -   -   -   Y   Y   -   Y   Y   - ",
    "超时":     "-   -   -   -   -   -   Y   Y   -   Y   Y   - ",
    "网格":     "-   -   -   -   -   -   Y   Y   -   Y   -   - ",
    "查":       "-   -   -   -   -   -   Y   Y   -   Y   -   - ",
    "派":       "-   -   -   -   -   -   Y   Y   -   Y   -   - ",
    "转派":     "-   -   -   -   -   -   Y   Y   -   Y   -   - ",
    "同意延期": "-   -   -   -   -   -   Y   Y   -   Y   -   - ",
    "驳回延期": "-   -   -   -   -   -   Y   Y   -   Y   -   - ",
    "督办":     "-   -   -   -   -   -   Y   Y   -   Y   -   - ",
    "回访":     "-   -   -   -   -   -   Y   Y   -   Y   -   - ",
    "拆分":     "-   -   -   -   -   -   Y   Y   -   Y   -   - ",
    "改类":     "-   -   -   -   -   -   Y   Y   -   Y   -   - ",
    "上报":     "-   -   -   -   Y   -   -   -   -   -   -   - ",
    "上报件":   "-   -   -   -   -   -   Y   Y   -   Y   Y   - ",
    "流转":     "-   -   -   -   -   -   Y   Y   -   Y   -   - ",
    "协办":     "-   -   -   -   -   -   Y   Y   -   Y   -   - ",
    "部门":     "-   -   -   -   -   -   Y   Y   -   Y   Y   - ",
    "巡查统计": "-   -   -   -   -   -   Y   Y   -   Y   Y   - ",
}
# fmt: on


@dataclass
class Seen:
    """What one command did, for its effect check."""

    principal: str
    reply: str
    ticket: Ticket  # X afterwards
    grid: str  # X's grid code afterwards
    actions: list[str]  # events recorded on X by the command
    written: dict[str, tuple[int, int, int]]
    sender: Person | None


@dataclass(frozen=True)
class Case:
    """How each command is tried: its arguments ({X} is 王秀兰's ticket), the state X is in first (so a refusal is
    for who asks, never for the ticket's status), and what an allowed run must have done."""

    args: str
    state: str
    effect: Callable[[Seen], bool]


CENTRES = ("centre_wechat", "centre_wecom", "street", "other_street")
STAFF = ("worker", *CENTRES, "department")


def centre(s: Seen) -> bool:
    return s.principal in CENTRES


CASES = {
    "帮助": Case("", "assigned", lambda s: "可用命令" in s.reply),
    "进度": Case("{X}", "assigned", lambda s: f"工单 {s.ticket.id}（" in s.reply and "已派单" in s.reply),
    "我的工单": Case(
        "",
        "assigned",
        lambda s: (
            f"\n{s.ticket.id} " in s.reply if s.principal in ("reporter", "linked") else "还没有提交过" in s.reply
        ),
    ),
    # A linked reporter's 满意 is kept apart and closes nothing: the ticket is the first reporter's to close.
    "评价": Case(
        "{X} 满意",
        "resolved",
        lambda s: (
            (s.ticket.status == Status.RESOLVED and s.ticket.rating is None and "linked_rating" in s.actions)
            if s.principal == "linked"
            else (s.ticket.status == Status.CLOSED and s.ticket.rating == 5)
        ),
    ),
    "催办": Case("{X}", "assigned", lambda s: "urge" in s.actions),
    "撤销": Case("{X}", "assigned", lambda s: s.ticket.status == Status.CANCELLED),
    "绑定": Case("幸福小区 5栋", "assigned", lambda s: s.sender is not None and s.sender.address == "幸福小区5栋"),
    "接单": Case("{X}", "assigned", lambda s: s.ticket.status == Status.ACCEPTED),
    "进展": Case("{X} 已联系物业，明天换灯", "accepted", lambda s: "progress" in s.actions),
    "办结": Case("{X} 已更换灯泡", "accepted", lambda s: s.ticket.status == Status.RESOLVED),
    "退回": Case("{X} 不属于本网格", "assigned", lambda s: s.ticket.status == Status.RETURNED),
    # Asked for G01, a worker of G02 still sees only G02's list.
    "待办": Case(
        "G01",
        "assigned",
        lambda s: (
            ("幸福小区第2网格" in s.reply and f" {s.ticket.id} " not in s.reply)
            if s.principal == "other_worker"
            else ("区城管执法局" in s.reply and f" {s.ticket.id} " not in s.reply)
            if s.principal == "department"
            else f" {s.ticket.id} " in s.reply
        ),
    ),
    "挂起": Case("{X} 请告知具体单元号", "accepted", lambda s: s.ticket.status == Status.SUSPENDED),
    "恢复": Case("{X}", "suspended", lambda s: s.ticket.status == Status.ACCEPTED),
    # A worker asks the centre; the centre grants at once.
    "延期": Case("{X} 3 等待配件", "accepted", lambda s: ("extend" if centre(s) else "extend_request") in s.actions),
    # A worker's own find: a new ticket of their own grid, not a move of X.
    "巡查": Case("3栋门口垃圾堆放未清运", "assigned", lambda s: "巡查工单" in s.reply and s.written["ticket"][0] == 1),
    "统计": Case("", "assigned", lambda s: "响应率" in s.reply),
    "日报": Case("", "assigned", lambda s: "【日报】" in s.reply),
    # Another street's centre is served its own list, which X is not on.
    "超时": Case(
        "",
        "overdue",
        lambda s: (f" {s.ticket.id} " not in s.reply) == (s.principal == "other_street") and "超时" in s.reply,
    ),
    "网格": Case("G01", "assigned", lambda s: "幸福小区第1网格（G01）" in s.reply and f" {s.ticket.id} " in s.reply),
    "查": Case("{X}", "assigned", lambda s: f"工单 {s.ticket.id}：" in s.reply and "139****5678" in s.reply),
    "派": Case("{X} G02", "returned", lambda s: s.ticket.status == Status.ASSIGNED and s.grid == "G02"),
    "转派": Case("{X} G02", "assigned", lambda s: s.ticket.status == Status.ASSIGNED and s.grid == "G02"),
    "同意延期": Case("{X}", "extension requested", lambda s: "extend" in s.actions),
    "驳回延期": Case("{X} 请按原时限办结", "extension requested", lambda s: "extend_refuse" in s.actions),
    "督办": Case("{X} 今天务必处理", "assigned", lambda s: "supervise" in s.actions),
    "回访": Case("{X} 已电话联系，居民表示满意", "assigned", lambda s: s.ticket.callback_at is not None),
    "拆分": Case("{X} 1", "linked", lambda s: "split" in s.actions and s.written["ticket"][0] == 1),
    "改类": Case("{X} 停车交通", "assigned", lambda s: s.ticket.category == "parking"),
    "上报": Case("{X} 需城管执法", "accepted", lambda s: "report_up" in s.actions and s.ticket.reported_up_at),
    # Another street's centre is served its own list, which X is not on.
    "上报件": Case(
        "",
        "reported up",
        lambda s: (f"\n{s.ticket.id} " not in s.reply) == (s.principal == "other_street") and "上报" in s.reply,
    ),
    "流转": Case("{X} CG01 请清理", "assigned", lambda s: "route" in s.actions and s.ticket.department_id is not None),
    "协办": Case("{X} G02 请协助", "assigned", lambda s: "assist" in s.actions),
    "部门": Case("", "assigned", lambda s: "CG01 区城管执法局" in s.reply),
    "巡查统计": Case("", "assigned", lambda s: "巡查" in s.reply),
}

# The states X is put in, as the people concerned would get it there.
STATES: dict[str, list[tuple[str, str]]] = {
    "assigned": [],
    "accepted": [("worker", "接单 {X}")],
    "suspended": [("worker", "接单 {X}"), ("worker", "挂起 {X} 请告知具体单元号")],
    "resolved": [("worker", "接单 {X}"), ("worker", "办结 {X} 已更换灯泡")],
    "returned": [("worker", "退回 {X} 不属于本网格")],
    "reported up": [("worker", "接单 {X}"), ("worker", "上报 {X} 需城管执法")],
    "extension requested": [("worker", "接单 {X}"), ("worker", "延期 {X} 3 等待配件")],
    "linked": [("neighbour", "幸福小区3栋楼道灯坏了好几天了")],
    "overdue": [],  # and its deadline moved 5 hours into the past
}

COMPLAINT = "3号楼楼道灯坏了好几天了，我叫王秀兰，电话13912345678"
PRIVATE = ("王秀兰", "13912345678", "139****5678", "楼道灯坏了好几天")
# Staff may see a masked phone and the masked text; nobody but the reporter sees her name or whole phone.
NEVER_SHOWN_TO_STAFF = ("王秀兰", "13912345678")
REFUSAL = re.compile(
    r"不对(居民|网格员|指挥中心|部门)开放|不在网格员名册|没有找到您的工单|您不能|由其他居民先反映，不能|不在您的管辖范围"
)
# Like 王秀兰's complaint (so it joins X as a linked report), in other words (so echoing it would show nothing of hers).
LINKED_REPORT = "幸福小区3栋楼道的灯坏了"
COMMANDS = {c.words[0]: c for role in Role for c in REGISTRY.commands_for(role)}


def marks(word: str) -> dict[str, str]:
    return dict(zip(PRINCIPALS, MATRIX[word].split(), strict=True))


def line_for(word: str, principal: str) -> str | None:
    """The first of the command's words that reaches this command for the principal's role; None if none does."""
    command, role = COMMANDS[word], PRINCIPALS[principal][2]
    for candidate in command.words:
        text = f"{candidate} {CASES[word].args}".strip()
        if role is None:
            return text  # refused before the registry is asked
        found = REGISTRY.match(text, role)
        if found is not None and found[0] is command:
            return text
    return None


class WeComMember:
    """Someone writing to the WeCom app in single chat, through the real encrypted /wecom callback."""

    def __init__(self, client: FlaskClient, userid: str) -> None:
        from simulator.wecomapp import WeComApp

        self.client, self.userid = client, userid
        self.app = WeComApp(DEV_WECOM_APP_TOKEN, DEV_WECOM_APP_AES_KEY, DEV_WECOM_CORP_ID, int(DEV_WECOM_AGENT_ID))

    def say(self, text: str) -> str:
        query, body = self.app.signed(self.app.text(self.userid, text))
        response = self.client.post(f"/wecom?{query}", data=body, content_type="text/xml")
        assert response.status_code == 200, response.get_data(as_text=True)
        return self.app.open_reply(response.get_data(as_text=True)).get("Content", "")


@pytest.fixture
def people(client, wechat_user, demo):  # type: ignore[no-untyped-def]
    """Every principal, ready to type; the stranger has written once (a greeting), so they exist as a resident."""
    drivers = {
        name: wechat_user(sender) if channel == "wechat" else WeComMember(client, sender)
        for name, (channel, sender, _) in PRINCIPALS.items()
    }
    drivers["stranger"].say("你好")
    return drivers


def ticket_x(rt, people, state: str) -> int:
    """王秀兰's complaint, with her name and phone in it, routed to G01 and then put in `state`."""
    people["reporter"].say(COMPLAINT)
    assert "已为您关联" in people["linked"].say(LINKED_REPORT)
    with Session(rt.engine) as s:
        x = s.exec(select(Ticket)).one()
        assert (x.status, s.get(Grid, x.grid_id).code) == (Status.ASSIGNED, "G01")
    for who, line in STATES[state]:
        reply = people[who].say(line.format(X=x.id))
        assert not REFUSAL.search(reply), reply
    if state == "overdue":
        with transaction(rt.engine) as s:
            s.get(Ticket, x.id).resolve_due_at = utcnow() - timedelta(hours=5)
    if state == "linked":
        assert "已为您关联" in reply
    return x.id


def seen(rt, principal: str, reply: str, x: int, before, after) -> Seen:
    with Session(rt.engine) as s:
        ticket = s.get(Ticket, x)
        grid = s.get(Grid, ticket.grid_id).code if ticket.grid_id else ""
        known = {key[0] for key in before["ticket_event"]}
        actions = [e.action for e in s.exec(select(TicketEvent).where(TicketEvent.ticket_id == x)) if e.id not in known]
        channel, sender, _ = PRINCIPALS[principal]
        column = Person.openid if channel == "wechat" else Person.wecom_userid
        person = s.exec(select(Person).where(column == sender)).first()
    return Seen(principal, reply, ticket, grid, actions, writes(before, after), person)


def leaked(principal: str, reply: str) -> list[str]:
    if principal == "reporter":
        return []
    private = NEVER_SHOWN_TO_STAFF if principal in STAFF else PRIVATE
    return [p for p in private if p in reply]


def test_every_registered_command_has_a_row_a_case_and_a_reachable_word():
    assert set(MATRIX) == set(COMMANDS) == set(CASES), "a command is missing from MATRIX or CASES (or is gone)"
    unreachable = {
        (word, who)
        for word in MATRIX
        for who, mark in marks(word).items()
        if (mark == "~") != (line_for(word, who) is None)
    }
    assert unreachable == set(), "~ must mark exactly the cells where no word of the command reaches it"
    for word, command in COMMANDS.items():
        allowed = {who for who, mark in marks(word).items() if mark != "~" and PRINCIPALS[who][2] in command.roles}
        assert allowed >= {who for who, mark in marks(word).items() if mark == "Y"}, word


def command_id(word: str) -> str:
    """ "worker.accept" for 接单: pytest escapes Chinese in test ids."""
    func = COMMANDS[word].func
    return f"{func.__module__.rpartition('.')[2]}.{func.__name__}"


@pytest.mark.parametrize("word", list(MATRIX), ids=command_id)
def test_each_sender_is_refused_or_served_as_the_matrix_says(rt, people, word):
    x = ticket_x(rt, people, CASES[word].state)
    start = snapshot(rt.engine)
    wrong: dict[str, object] = {}
    for principal, mark in marks(word).items():
        line = line_for(word, principal)
        if mark == "~" or line is None:
            continue
        reply = people[principal].say(line.format(X=x))
        after = snapshot(rt.engine)
        if leaked(principal, reply):
            wrong[principal] = ("showed", leaked(principal, reply), reply)
        elif mark == "-" and not (REFUSAL.search(reply) and writes(start, after) == DELIVERY_RECORD_ONLY):
            wrong[principal] = ("not refused cleanly", reply, writes(start, after))
        elif mark == "Y" and not CASES[word].effect(seen(rt, principal, reply, x, start, after)):
            wrong[principal] = ("no effect", reply, writes(start, after))
        restore(rt.engine, start)  # the next sender finds X as this one did
    assert wrong == {}


def test_a_resident_asking_about_another_residents_ticket_learns_nothing_of_it(rt, people):
    x = ticket_x(rt, people, "assigned")
    start = snapshot(rt.engine)
    for line in (f"进度 {x}", f"查询 {x}", f"查 {x}", f"查单 {x}", f"进度{x}", "我的工单", f"催办 {x}", f"拆分 {x}"):
        for principal in ("neighbour", "stranger"):
            reply = people[principal].say(line)
            assert reply and not leaked(principal, reply), (principal, line, reply)
            assert writes(start, snapshot(rt.engine)) == DELIVERY_RECORD_ONLY, (principal, line)
            restore(rt.engine, start)


def test_a_resident_linked_to_the_same_problem_sees_its_progress_but_not_the_first_reporters_words(rt, people):
    x = ticket_x(rt, people, "linked")
    reply = people["neighbour"].say(f"进度 {x}")
    assert f"工单 {x}（" in reply and "3位居民反映" in reply
    assert not leaked("neighbour", reply), reply
