"""The command centre's screen (/centre/): local sign-ins from `flask add-user`, the session and its CSRF token,
the limit on failed sign-ins, and numbers and lists that are the chat commands' own for the same unit."""

from __future__ import annotations

import io
import re
import uuid
from datetime import timedelta

import openpyxl
import pytest
import time_machine
from flask.testing import FlaskClient
from sqlmodel import select

from storage.models import CentreAccount, Outbox, Person, Ticket, TicketEvent, utcnow
from tests.members import GroupMember

PASSWORD = "correct-horse-battery"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_user(app, username: str, org: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["add-user", username, "--org", org], input=password + "\n")


def token(client: FlaskClient, path: str = "/centre/login") -> str:
    found = TOKEN.search(client.get(path).get_data(as_text=True))
    assert found, "the page carries no CSRF token"
    return found.group(1)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/centre/login", data={"username": username, "password": password, "csrf_token": token(client)})


@pytest.fixture
def street(app, demo) -> str:  # type: ignore[no-untyped-def]
    """朝阳街道's wall screen (S01)."""
    name = f"s01-{uuid.uuid4().hex[:6]}"
    assert add_user(app, name, "S01").exit_code == 0
    return name


def test_add_user_reads_the_password_from_standard_input_and_stores_only_a_strong_hash(app, session, demo):
    result = add_user(app, "wall-s01", "S01")
    assert result.exit_code == 0, result.output
    assert "已开通指挥中心大屏账号 wall-s01：S01" in result.output
    account = session.exec(select(CentreAccount).where(CentreAccount.username == "wall-s01")).one()
    assert PASSWORD not in account.password_hash and account.password_hash.startswith("scrypt:")
    person = session.get(Person, account.person_id)
    assert (person.role, person.name) == ("supervisor", "朝阳街道指挥中心")

    short = add_user(app, "wall-s02", "S02", "short")
    assert short.exit_code != 0 and "密码至少 10 个字符" in short.output
    unknown = add_user(app, "wall-s09", "S09")
    assert unknown.exit_code != 0 and "没有编号为 S09 的单位" in unknown.output
    assert session.exec(select(CentreAccount).where(CentreAccount.username != "wall-s01")).all() == []


def test_signing_in_opens_the_screen_of_the_accounts_unit_and_a_wrong_password_does_not(app, street):
    client = app.test_client()
    assert client.get("/centre/").headers["Location"].endswith("/centre/login")
    wrong = sign_in(client, street, "not-the-password")
    assert wrong.status_code == 401 and "用户名或密码不对" in wrong.get_data(as_text=True)
    assert client.get("/centre/").status_code == 302
    assert client.get("/centre/api/screen").status_code == 401

    right = sign_in(client, street)
    assert right.status_code == 302 and right.headers["Location"].endswith("/centre/")
    cookie = right.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/centre" in cookie
    page = client.get("/centre/").get_data(as_text=True)
    assert "朝阳街道 指挥中心" in page and "办结率" in page


def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(app, street):
    client = app.test_client()
    refused = client.post("/centre/login", data={"username": street, "password": PASSWORD})
    assert refused.status_code == 400 and "页面已过期" in refused.get_data(as_text=True)
    assert client.get("/centre/").status_code == 302  # not signed in

    sign_in(client, street)
    assert client.post("/centre/logout", data={"csrf_token": "forged"}).status_code == 400
    assert client.get("/centre/").status_code == 200  # still signed in
    assert client.post("/centre/logout", data={"csrf_token": token(client, "/centre/")}).status_code == 302
    assert client.get("/centre/").status_code == 302


def test_five_wrong_passwords_lock_the_username_for_a_while(app, street):
    client = app.test_client()
    for _ in range(5):
        assert sign_in(client, street, "guess-guess-guess").status_code == 401
    locked = sign_in(client, street)  # even the right password now
    assert locked.status_code == 429 and "15 分钟后再试" in locked.get_data(as_text=True)
    assert client.get("/centre/").status_code == 302


def _fail_from(client: FlaskClient, address: str, times: int) -> None:
    for n in range(times):  # a different unknown name each time: only the per-address count grows
        response = client.post(
            "/centre/login",
            data={"username": f"guess-{address}-{n}", "password": "guess-guess-guess", "csrf_token": token(client)},
            headers={"X-Forwarded-For": address},
        )
        assert response.status_code == 401


def test_behind_nginx_thirty_failures_lock_that_visitors_address_not_everyones(make_app, demo):
    app = make_app(proxy_hops=1)
    assert add_user(app, "wall", "S01").exit_code == 0
    _fail_from(app.test_client(), "203.0.113.7", 30)
    right = {"username": "wall", "password": PASSWORD}
    locked, other = app.test_client(), app.test_client()
    refused = locked.post(
        "/centre/login", data=right | {"csrf_token": token(locked)}, headers={"X-Forwarded-For": "203.0.113.7"}
    )
    assert refused.status_code == 429
    welcome = other.post(
        "/centre/login", data=right | {"csrf_token": token(other)}, headers={"X-Forwarded-For": "198.51.100.2"}
    )
    assert welcome.status_code == 302


def test_without_a_proxy_a_forged_forwarded_for_does_not_escape_the_limit(app, demo):
    assert add_user(app, "wall", "S01").exit_code == 0
    client = app.test_client()
    for n in range(30):
        _fail_from(client, f"203.0.113.{n}", 1)
    refused = client.post(
        "/centre/login",
        data={"username": "wall", "password": PASSWORD, "csrf_token": token(client)},
        headers={"X-Forwarded-For": "198.51.100.2"},
    )
    assert refused.status_code == 429


def test_a_new_password_signs_out_the_sessions_of_the_old_one(app, street):
    client = app.test_client()
    sign_in(client, street)
    assert client.get("/centre/").status_code == 200
    assert add_user(app, street, "S01", "a-brand-new-password").exit_code == 0
    assert client.get("/centre/").status_code == 302


def test_a_session_runs_out_after_its_hours(make_app, demo):
    app = make_app(session_hours=1)
    assert add_user(app, "wall", "S01").exit_code == 0
    client = app.test_client()
    with time_machine.travel(utcnow(), tick=False) as clock:
        sign_in(client, "wall")
        assert client.get("/centre/").status_code == 200
        clock.shift(timedelta(minutes=61))
        assert client.get("/centre/").headers["Location"].endswith("/centre/login")


def test_the_screen_shows_what_统计_shows_the_same_unit(app, rt, street, wechat_user, session):
    wechat_user("o-demo-resident-1").say("3号楼楼道灯坏了")  # 幸福小区: 朝阳街道
    wechat_user("o-demo-resident-2").say("2栋楼下广场舞太吵了")  # 阳光花园: 朝阳街道
    wechat_user(f"o-new-{uuid.uuid4().hex[:6]}").say("建设新村5栋楼道灯坏了")  # 和平街道: not S01's
    client = app.test_client()
    sign_in(client, street)
    data = client.get("/centre/api/screen?period=今日").get_json()
    said = GroupMember(rt, "centre-s01", "centre-chat-s01").say("统计 今日")
    assert data["unit"] == "朝阳街道" and data["period"] == "今日"
    assert f"工单 {data['numbers']['total']} 件" in said and data["numbers"]["total"] == 2
    for key, word in (("closure", "办结率"), ("response", "响应率"), ("on_time", "按期办结率")):
        assert f"{word} {data['numbers'][key]['text']}" in said
    # Its communities side by side, in 统计's order, and the period's categories.
    ranked = [
        re.match(r"\d+\. (\S+) ", line).group(1)  # type: ignore[union-attr]
        for line in said.split("排名（办结率｜按期办结率｜满意率）：\n")[1].splitlines()
    ]
    assert [u["name"] for u in data["units"]] == ranked == ["幸福社区", "阳光社区"]
    assert [u["total"] for u in data["units"]] == [1, 1]
    assert sorted(c["count"] for c in data["categories"]) == [1, 1]


def test_another_units_tickets_are_not_listed(app, rt, demo, wechat_user, session):
    assert add_user(app, "wall-d01", "D01").exit_code == 0
    assert add_user(app, "wall-s01", "S01").exit_code == 0
    wechat_user(f"o-new-{uuid.uuid4().hex[:6]}").say("楼道里有人乱堆杂物堵住了消防通道")  # no place: the queue
    (waiting,) = session.exec(select(Ticket)).all()
    district, street = app.test_client(), app.test_client()
    sign_in(district, "wall-d01")
    sign_in(street, "wall-s01")
    assert [t["id"] for t in district.get("/centre/api/screen").get_json()["awaiting"]] == [waiting.id]
    assert street.get("/centre/api/screen").get_json()["awaiting"] == []  # not routed: the district's to dispatch


# ---- a ticket and its buttons -------------------------------------------------------------------------------------


def command(client: FlaskClient, number: int, word: str, args: str = "", key: str = "k1"):  # type: ignore[no-untyped-def]
    csrf = token(client, "/centre/")
    return client.post(
        f"/centre/tickets/{number}/command", data={"csrf_token": csrf, "word": word, "args": args, "key": key}
    )


def test_a_ticket_page_shows_it_masked_and_another_unit_is_told_it_is_not_theirs(app, demo, wechat_user, session):
    for name, org in (("wall-s01", "S01"), ("wall-s02", "S02")):
        assert add_user(app, name, org).exit_code == 0
    wechat_user("o-demo-resident-1").say("3号楼楼道灯坏了，我电话13912345678")
    (ticket,) = session.exec(select(Ticket)).all()
    mine, theirs = app.test_client(), app.test_client()
    sign_in(mine, "wall-s01")
    sign_in(theirs, "wall-s02")

    page = mine.get(f"/centre/tickets/{ticket.id}").get_data(as_text=True)
    assert "139****5678" in page and "13912345678" not in page
    assert "王**" in page and "王秀兰" not in page  # the resident masked, in the timeline too
    assert "立案" in page and "派单" in page
    refused = theirs.get(f"/centre/tickets/{ticket.id}")
    assert refused.status_code == 404 and "不在您的管辖范围" in refused.get_data(as_text=True)
    assert "13912345678" not in refused.get_data(as_text=True) and "139****" not in refused.get_data(as_text=True)
    assert mine.get("/centre/tickets/abc").status_code == 404
    assert mine.get("/centre/tickets/999999").status_code == 404
    assert mine.get("/centre/tickets/5559761728174232174592").status_code == 404  # past any id: no query runs


def test_a_button_runs_the_chat_command_once_with_its_rules(app, demo, wechat_user, session):
    for name, org in (("wall-d01", "D01"), ("wall-s02", "S02")):
        assert add_user(app, name, org).exit_code == 0
    wechat_user(f"o-new-{uuid.uuid4().hex[:6]}").say("楼道里有人乱堆杂物堵住了消防通道")  # no place: the queue
    (ticket,) = session.exec(select(Ticket)).all()
    district, street = app.test_client(), app.test_client()
    sign_in(district, "wall-d01")
    sign_in(street, "wall-s02")

    # Another street's centre: the command's own refusal, nothing changed.
    command(street, ticket.id, "派", "G07")
    session.expire_all()
    assert session.get(Ticket, ticket.id).status == "new"
    # Not a button the screen has, and a form without its CSRF token: refused, nothing changed.
    assert command(district, ticket.id, "办结", "已处理").status_code == 400
    forged = district.post(f"/centre/tickets/{ticket.id}/command", data={"word": "派", "args": "G02", "key": "x"})
    assert forged.status_code == 400
    session.expire_all()
    assert session.get(Ticket, ticket.id).status == "new"

    done = command(district, ticket.id, "派", "G02", key="same")
    assert done.status_code == 302
    answered = district.get(done.headers["Location"]).get_data(as_text=True)
    assert "幸福小区第2网格" in answered and 'role="status"' in answered  # the command's own answer, shown once
    again = command(district, ticket.id, "派", "G02", key="same")  # pressed twice: one command
    assert again.status_code == 302
    session.expire_all()
    events = session.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)).all()
    assert [e.action for e in events] == ["open", "assign"]
    pushed = session.exec(select(Outbox).where(Outbox.ticket_id == ticket.id, Outbox.kind == "group_push")).all()
    assert [row.recipient for row in pushed] == ["wrk-chat-g02"]  # the grid's group gets the card


# ---- the export ---------------------------------------------------------------------------------------------------


def test_the_export_opens_as_a_workbook_of_the_units_tickets_masked_and_formula_free(app, street, wechat_user):
    wechat_user("o-demo-resident-1").say('=HYPERLINK("http://evil.example","点我") 3号楼楼道灯坏了')  # 幸福小区
    wechat_user("o-demo-resident-2").say("2栋楼下广场舞太吵了")  # 阳光花园: 朝阳街道 too
    wechat_user(f"o-new-{uuid.uuid4().hex[:6]}").say("建设新村5栋楼道灯坏了")  # 和平街道: not S01's
    client = app.test_client()
    assert client.get("/centre/export.xlsx").headers["Location"].endswith("/centre/login")
    sign_in(client, street)

    response = client.get("/centre/export.xlsx")  # this month so far
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in response.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    response.close()  # as the WSGI server does once it has sent the file: the temporary file goes
    tickets_sheet, units_sheet = book["工单"], book["各单位指标"]
    rows = list(tickets_sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("工单号", "受理时间", "分类") and len(rows) == 3  # the street's two, not 和平街道's
    assert {row[5] for row in rows[1:]} == {"幸福小区第1网格", "阳光花园第1网格"}
    phones = {row[12] for row in rows[1:]}
    assert phones == {"139****5678", "136****4321"}  # masked
    formula = next(cell for cell in tickets_sheet["D"] if str(cell.value).startswith("=HYPERLINK"))
    assert formula.data_type == "s"  # text, not a formula Excel would run
    units = list(units_sheet.iter_rows(values_only=True))
    assert [u[0] for u in units[1:]] == ["朝阳街道", "幸福社区", "阳光社区"] and units[1][1] == 2


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("from=2016-01-01&to=2026-01-01", "一次最多导出 366 天"),
        ("from=2026-13-01", "日期应写成 2026-12-01"),
        ("from=2026-12-02&to=2026-12-01", "结束日期早于开始日期"),
    ],
    ids=["ten years", "not a date", "backwards"],
)
def test_a_bad_export_range_is_told_plainly(app, street, query: str, said: str):
    client = app.test_client()
    sign_in(client, street)
    response = client.get(f"/centre/export.xlsx?{query}")
    assert response.status_code == 400 and said in response.get_data(as_text=True)
