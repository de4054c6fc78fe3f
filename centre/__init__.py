"""The command centre's screen at /centre/: sign-in, the page and its data, over HTTP only.

What a supervisor sees and may do is handlers/centre.py's (and, through it, handlers/scope.py's, as for the chat
commands). Here: the session cookie (signed with WGT_SESSION_SECRET; HttpOnly, SameSite=Lax, Secure in
production, scoped to /centre, WGT_SESSION_HOURS long), a CSRF token on every POST (Flask-WTF's), and a limit on
failed sign-ins (a Redis counter per username and per address: 5 and 30 in 15 minutes).

Two ways in: a local account (username and password, `flask add-user`), and 企业微信登录 for supervisors on the
roster (WeCom OAuth, snsapi_base; bot/wecomapi.py asks Tencent who came back). Either way the session names a
supervisor's Person, checked against the database on every request.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import tempfile
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    get_flashed_messages,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_wtf.csrf import generate_csrf, validate_csrf
from sqlmodel import Session
from wtforms import ValidationError

from bot import jobs, wecomapi
from handlers import centre, conversation
from storage import accounts
from storage.db import transaction
from storage.models import CentreAccount, Person, utcnow

log = logging.getLogger(__name__)
blueprint = Blueprint("centre", __name__, url_prefix="/centre", template_folder="templates", static_folder="static")

FAILURES_PER_USER, FAILURES_PER_ADDRESS, FAILURE_WINDOW_SECONDS = 5, 30, 15 * 60


def install(app: Flask) -> None:
    settings = app.extensions["wanggetong"].settings
    app.secret_key = settings.session_secret
    app.config.update(
        SESSION_COOKIE_NAME="wgt_centre",
        SESSION_COOKIE_PATH="/centre",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        WTF_CSRF_TIME_LIMIT=None,  # a token lives as long as its session
    )
    app.register_blueprint(blueprint)


def _rt() -> Any:
    return current_app.extensions["wanggetong"]


# ---- who is signed in ---------------------------------------------------------------------------------------------


def _fingerprint(account: CentreAccount) -> str:
    """Changes with the password: a new password signs out every session of the old one."""
    return hashlib.sha256(account.password_hash.encode()).hexdigest()[:16]


# session["via"]: how the browser signed in. Absent: a local account (session "account" and "v", the password's
# fingerprint). WECOM: 企业微信登录 (session "person" and "v", the WeCom userid it signed in with).
WECOM = "wecom"
WECOM_STATE = "wecom_state"


def _signed_in(session_db: Session) -> Person | None:
    """The supervisor this browser acts as, or None: a password changed since, a Person no longer a supervisor, or
    a WeCom userid moved to someone else or off the roster each sign it out on its next request."""
    if session.get("via") == WECOM:
        person_id, userid = session.get("person"), session.get("v")
        if not isinstance(person_id, int) or not isinstance(userid, str):
            return None
        return centre.wecom_supervisor(session_db, person_id, userid)
    account_id = session.get("account")
    account = session_db.get(CentreAccount, account_id) if isinstance(account_id, int) else None
    if account is None or session.get("v") != _fingerprint(account):
        return None
    return accounts.person_of(session_db, account)


@blueprint.before_request
def check_csrf() -> Any:
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token", ""))
        except ValidationError:
            return _page("login.html", 400, error="页面已过期，请重新登录后再试。")
    return None


def _page(template: str, status: int = 200, **values: Any) -> tuple[str, int]:
    values.setdefault("wecom_login", _rt().settings.wecom_login)
    return render_template(template, csrf_token=generate_csrf(), **values), status


# ---- sign-in ------------------------------------------------------------------------------------------------------


@blueprint.get("/login")
def login_page() -> Any:
    return _page("login.html")


@blueprint.post("/login")
def login() -> Any:
    username = request.form.get("username", "").strip()[: centre.USERNAME_MAX]
    password = request.form.get("password", "")[:256]
    keys = [f"wgt:centre:failed:user:{username}", f"wgt:centre:failed:addr:{request.remote_addr}"]
    if _too_many(keys):
        return _page("login.html", 429, error="登录失败次数太多，请 15 分钟后再试，或请管理员重设密码。")
    with transaction(_rt().engine) as db:
        account = centre.sign_in(db, username, password, utcnow()) if username and password else None
        fingerprint = _fingerprint(account) if account is not None else ""
        account_id = account.id if account is not None else None
    if account is None:
        _count_failure(keys)
        return _page("login.html", 401, error="用户名或密码不对，请再试一次。", username=username)
    session.clear()  # nothing of a session from before the sign-in survives it
    session.permanent = True
    session.update(account=account_id, v=fingerprint)
    return redirect(url_for("centre.screen_page"))


# ---- 企业微信登录 (WeCom OAuth) ---------------------------------------------------------------------------------

WECOM_OFF = "企业微信登录没有开通，请用账号密码登录。"
# Tencent's refusals that only an administrator can fix: wrong corp id, secret or agent id.
WECOM_MISCONFIGURED = frozenset({40001, 40013, 40056, 41004})


@blueprint.get("/login/wecom")
def wecom_login() -> Any:
    """Off to Tencent's authorize page, with a one-time state kept in the session (the callback checks it)."""
    settings = _rt().settings
    if not settings.wecom_login:
        return _page("login.html", 404, error=WECOM_OFF)
    state = secrets.token_hex(16)  # Tencent takes a-zA-Z0-9 only, up to 128 bytes
    session[WECOM_STATE] = state
    return redirect(wecomapi.authorize_url(settings, _wecom_callback_url(), state))


@blueprint.get("/login/wecom/callback")
def wecom_callback() -> Any:
    """Back from Tencent with code and state: sign in the roster's supervisor with that WeCom userid, or say why
    not and what to do. Nothing is written either way."""
    settings = _rt().settings
    expected = session.pop(WECOM_STATE, None)  # good for one return only
    state, code = request.args.get("state", ""), request.args.get("code", "")[:512]
    if not settings.wecom_login:
        return _page("login.html", 404, error=WECOM_OFF)
    if not isinstance(expected, str) or not secrets.compare_digest(state.encode(), expected.encode()):
        return _page("login.html", 400, error="这次企业微信登录已失效或不是从本页发起的，请重新点“企业微信登录”。")
    if not code:
        return _page("login.html", 400, error="企业微信没有确认你的身份，请重新点“企业微信登录”。")
    try:
        visitor = wecomapi.WeComApi(settings, _rt().redis).member_of_code(code)
    except wecomapi.WeComError as failure:
        log.warning("wecom login refused: %s", failure)
        status, words = _wecom_failure(failure)
        return _page("login.html", status, error=words)
    if not visitor.userid:
        return _page("login.html", 403, error="你不是本单位企业微信的成员，请在企业微信里打开本页，或用账号密码登录。")
    with Session(_rt().engine) as db:
        found = centre.sign_in_wecom(db, visitor.userid)
        refusal, person_id = (found, None) if isinstance(found, str) else ("", found.id)
    if refusal:
        log.info("wecom login refused for %s: not a supervisor on the roster", visitor.userid)
        return _page("login.html", 403, error=refusal)
    session.clear()  # nothing of a session from before the sign-in survives it
    session.permanent = True
    session.update(via=WECOM, person=person_id, v=visitor.userid)
    log.info("wecom login: %s as person %s", visitor.userid, person_id)
    return redirect(url_for("centre.screen_page"))


def _wecom_callback_url() -> str:
    """Where Tencent sends the browser back: on WGT_PUBLIC_URL when set (behind a proxy), else this request's host."""
    public = _rt().settings.public_url.rstrip("/")
    if public:
        return public + url_for("centre.wecom_callback")
    return url_for("centre.wecom_callback", _external=True)


def _wecom_failure(failure: wecomapi.WeComError) -> tuple[int, str]:
    """The login page's status and words for a login Tencent refused or that could not reach Tencent."""
    if failure.unreachable:
        return 200, "企业微信暂时连不上，请稍后再试或用账号密码登录。"
    if failure.errcode == wecomapi.CODE_REFUSED:
        return 400, "企业微信登录码已失效（5 分钟内有效、只能用一次），请重新点“企业微信登录”。"
    if failure.errcode in WECOM_MISCONFIGURED:
        return 200, (
            f"企业微信登录的设置不对（错误码 {failure.errcode}），请告诉管理员检查企业 ID、应用 Secret 和 AgentId；"
            "现在请用账号密码登录。"
        )
    return 200, f"企业微信暂时不能登录（错误码 {failure.errcode}），请稍后再试或用账号密码登录。"


@blueprint.post("/logout")
def logout() -> Any:
    session.clear()
    return redirect(url_for("centre.login_page"))


def _too_many(keys: list[str]) -> bool:
    try:
        user, address = _rt().redis.mget(keys)
    except Exception as error:  # Redis away: sign-in goes on without the limit rather than locking the centre out
        log.warning("sign-in limit unavailable: %s", error)
        return False
    return int(user or 0) >= FAILURES_PER_USER or int(address or 0) >= FAILURES_PER_ADDRESS


def _count_failure(keys: list[str]) -> None:
    try:
        pipe = _rt().redis.pipeline()
        for key in keys:  # the window starts at the first failure (INCR keeps the TTL SET gave it)
            pipe.set(key, 0, ex=FAILURE_WINDOW_SECONDS, nx=True)
            pipe.incr(key)
        pipe.execute()
    except Exception as error:
        log.warning("sign-in failure not counted: %s", error)


# ---- the screen ---------------------------------------------------------------------------------------------------


@blueprint.get("/")
def screen_page() -> Any:
    with Session(_rt().engine) as db:
        person = _signed_in(db)
        if person is None:
            return redirect(url_for("centre.login_page"))
        data = centre.screen(db, person, request.args.get("period", "今日"), utcnow())
    return _page("screen.html", data=data, periods=centre.PERIODS)


@blueprint.get("/api/screen")
def screen_data() -> Response | tuple[Response, int]:
    return _as_json(lambda db, person: centre.screen(db, person, request.args.get("period", "今日"), utcnow()))


@blueprint.get("/api/map")
def map_data() -> Response | tuple[Response, int]:
    """The map's load and points; the grids' outlines too unless `?version=` names the ones the page has."""
    return _as_json(lambda db, person: centre.grid_map(db, person, utcnow(), request.args.get("version", "")[:64]))


def _as_json(build: Callable[[Session, Person], Any]) -> Response | tuple[Response, int]:
    """What `build` makes for the signed-in supervisor, as JSON; a 401 naming the sign-in page (the page's script
    goes there) when nobody is signed in."""
    with Session(_rt().engine) as db:
        person = _signed_in(db)
        if person is None:
            return jsonify(error="请重新登录", login=url_for("centre.login_page")), 401
        return jsonify(build(db, person))


# ---- a ticket, and its buttons --------------------------------------------------------------------------------------


@blueprint.get("/tickets/<id:number>")
def ticket_page(number: int) -> Any:
    with Session(_rt().engine) as db:
        person = _signed_in(db)
        if person is None:
            return redirect(url_for("centre.login_page"))
        detail = centre.ticket_detail(db, person, number, utcnow())
    if isinstance(detail, str):  # not there, or not theirs: said plainly, nothing shown
        return _page("ticket.html", 404, refusal=detail, number=number)
    # A fresh key per form: a button pressed twice runs its command once (handlers/conversation.act_for).
    said = get_flashed_messages()
    return _page("ticket.html", t=detail, said=said[-1] if said else "", key=secrets.token_urlsafe(12))


@blueprint.post("/tickets/<id:number>/command")
def ticket_command(number: int) -> Any:
    with Session(_rt().engine) as db:
        person = _signed_in(db)
    if person is None or person.id is None:
        return redirect(url_for("centre.login_page"))
    text = centre.command_text(request.form.get("word", ""), number, request.form.get("args", ""))
    key = request.form.get("key", "")[:64]
    if text is None or not key:
        return _page("ticket.html", 400, refusal="没有这个操作，请回到工单页面再试。", number=number)
    outcome = conversation.act_for(_rt().engine, person.id, text, f"{person.id}:{key}", utcnow())
    jobs.enqueue(_rt(), outcome.queued)  # the cards and notices the command wrote, as after a chat message
    flash(outcome.reply.text[:500])  # the command's own answer, shown once on the page it returns to
    return redirect(url_for("centre.ticket_page", number=number))


# ---- the export -----------------------------------------------------------------------------------------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What Excel or WPS would read as the start of a formula (or of a DDE command) when a cell is edited: kept as text.
FORMULA_STARTS = ("=", "+", "-", "@")


@blueprint.get("/export.xlsx")
def export() -> Any:
    """The tickets created in the range (one row each) and the period's numbers per unit, as an .xlsx that Excel
    and WPS open. openpyxl's write-only workbook writes rows to a temporary file as they come: a year of a
    district is never in memory."""
    with Session(_rt().engine) as db:
        person = _signed_in(db)
        if person is None:
            return redirect(url_for("centre.login_page"))
        now = utcnow()
        span = centre.export_range(request.args.get("from", ""), request.args.get("to", ""), now)
        if isinstance(span, str):
            return _page("ticket.html", 400, refusal=span, number="")
        since, until, name = span
        # Imported here: openpyxl (and numpy, which it loads) would add about 30 MB to every web worker for a page
        # a supervisor opens a few times a month.
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("工单")
        sheet.append(centre.TICKET_COLUMNS)
        for row in centre.export_tickets(db, person, since, until):
            sheet.append([_cell(sheet, value) for value in row])
        units = book.create_sheet("各单位指标")
        units.append(centre.UNIT_COLUMNS)
        for row in centre.export_units(db, person, since, until, now):
            units.append([_cell(units, value) for value in row])
    out = tempfile.TemporaryFile()
    book.save(out)
    out.seek(0)
    response = send_file(out, mimetype=XLSX, as_attachment=True, download_name=f"网格通工单_{name}.xlsx")
    response.call_on_close(out.close)  # the temporary file goes once sent (or the client went away)
    return response


def _cell(sheet: Any, value: Any) -> Any:
    """A string that starts like a formula is stored as text, never as a formula (no formula injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value
