"""Whatever arrives at /wechat or /wecom, the answer is never a 500; whatever anyone types, handlers never crash,
change only what the sender may change, and show nobody another resident's words, name or phone."""

from __future__ import annotations

import base64
import itertools
import secrets
import time
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, SQLModel, select

from config import (
    DEV_WECHAT_AES_KEY,
    DEV_WECHAT_APPID,
    DEV_WECHAT_TOKEN,
    DEV_WECOM_APP_AES_KEY,
    DEV_WECOM_APP_TOKEN,
    DEV_WECOM_CORP_ID,
)
from handlers.conversation import REGISTRY, process
from handlers.types import Message
from simulator.officialaccount import OfficialAccount, message_xml, signature
from simulator.wecomapp import WeComApp
from storage.models import Person, Role, Status, Ticket, TicketSource
from tests.tables import DELIVERY_RECORD_ONLY, restore, snapshot, writes
from tests.tencent import seal

FIELDS = [
    "ToUserName",
    "FromUserName",
    "CreateTime",
    "MsgType",
    "Content",
    "MsgId",
    "Event",
    "EventKey",
    "Recognition",
    "MediaId",
    "PicUrl",
    "Location_X",
    "Location_Y",
    "Label",
    "Encrypt",
]
MSG_TYPES = ["text", "voice", "image", "location", "event", "link", "video", "", "TEXT"]
EVENTS = ["subscribe", "unsubscribe", "SCAN", "CLICK", "LOCATION", "VIEW", "template_card_event", ""]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_n = itertools.count()

text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=80)
field_values = st.one_of(text, st.integers(-(2**63), 2**63).map(str), st.sampled_from(MSG_TYPES + EVENTS))


@FUZZ
@given(body=st.binary(max_size=2000))
def test_any_bytes_with_a_valid_signature_get_a_4xx_or_an_answer(client, oa, demo, body):
    query, _ = oa.signed({"FromUserName": "o-fuzz"})
    status = client.post(f"/wechat?{query}", data=body).status_code
    assert status < 500


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(FIELDS), field_values, max_size=10), safe=st.booleans())
def test_any_well_formed_message_gets_a_4xx_or_an_answer(client, oa, demo, fields, safe):
    query, body = oa.signed(fields, safe=safe)
    response = client.post(f"/wechat?{query}", data=body)
    assert response.status_code < 500
    if response.status_code == 200:
        oa.open_reply(response.get_data(as_text=True), safe=safe)  # a reply WeChat can read


@FUZZ
@given(
    who=st.sampled_from(
        [
            ("wechat", "o-demo-resident-1"),
            ("wechat", "o-demo-supervisor"),
            ("wechat", "o-fuzz"),
            ("wecom", "zhangwei"),
            ("wecom", "zhihui"),
            ("wecom", "nobody"),
        ]
    ),
    word=st.sampled_from(
        [
            "",
            "/",
            "进度",
            "评价",
            "催办",
            "撤销",
            "绑定",
            "统计",
            "超时",
            "网格",
            "查",
            "接单",
            "办结",
            "退回",
            "进展",
            "待办",
            "帮助",
            "我的工单",
        ]
    ),
    rest=text,
)
def test_any_command_line_from_anyone_gets_an_answer(rt, demo, who, word, rest):
    channel, sender = who
    msg = Message(channel=channel, dedupe_key=f"fuzz-{next(_n)}", sender=sender, kind="text", text=word + rest)
    outcome = process(rt.engine, msg)
    assert isinstance(outcome.reply.text, str)


# --- the command parser from every kind of sender, each example on a fresh copy of one community ---------------

COMPLAINT = "3号楼楼道灯坏了好几天了，我叫王秀兰，电话13912345678"
PRIVATE = ("王秀兰", "13912345678", "139****5678", "楼道灯坏了好几天")
SENDERS = {
    # name: (channel, sender, chat) — the chat a WeCom sender writes in: the grid's group, or single chat
    "reporter": ("wechat", "o-demo-resident-1", ""),  # 王秀兰, whose ticket X is
    "neighbour": ("wechat", "o-demo-resident-2", ""),
    "stranger": ("wechat", "o-fuzz-stranger", ""),
    "centre_wechat": ("wechat", "o-demo-supervisor", ""),
    "worker": ("wecom", "zhangwei", "wrk-chat-g01"),
    "other_worker": ("wecom", "liuyang", "liuyang"),
    "centre_wecom": ("wecom", "zhihui", "zhihui"),
    "unrostered": ("wecom", "nobody-on-roster", "wrk-chat-g01"),
}
WORDS = sorted({w for role in Role for c in REGISTRY.commands_for(role) for w in c.words})
# What phones and keyboards put around and inside commands: full-width and ideographic forms, zero-width and
# direction marks, combining marks, emoji with modifiers, and digits of every kind (some int() cannot read).
ODD = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u200e", "\u200f", "\u202e", "\u2066", "\u0301", "🔥", "👍🏻", "👨‍👩‍👧"]
DIGITS = [
    "1",
    "\uff11",  # full-width
    "\u2776",  # dingbat negative circled: a digit to str.isdigit, not to int()
    "\u1369",  # Ethiopic: likewise
    "\u00b9",  # superscript: likewise, until NFKC
    "\u0661",  # Arabic-Indic: a decimal digit int() reads
    "\U0001d7d9",  # mathematical double-struck
    "\u2474",  # parenthesized
    "\u2488",  # with a full stop
    "\u2167",  # Roman numeral eight
    "\u3007",  # ideographic zero
    "一",
    "\u19da",  # New Tai Lue: a digit int() cannot read, untouched by NFKC
]
PREFIXES = ["", "/", "\uff0f", "@网格通 ", "\u200b", " ", "\u3000"]
SEPARATORS = [" ", "", "\u3000", "\u200b", "\t", "  "]
ARGS = [
    "G01",
    "G02",
    "g01",
    "满意",
    "不满意",
    "3",
    "天",
    "#",
    "号",
    "幸福小区",
    "5栋",
    "停车交通",
    "]]>",
    "<xml>",
    "%s",
]

number = st.one_of(
    st.integers(0, 4).map(str),
    st.lists(st.sampled_from(DIGITS), min_size=1, max_size=4).map("".join),
    st.integers(10**11, 10**40).map(str),
)
piece = st.one_of(
    number,
    st.sampled_from(ODD + ARGS + SEPARATORS),
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=12),
    st.text(st.characters(blacklist_categories=["Cs"]), min_size=1000, max_size=4000),  # very long arguments
)
command_line = st.builds(
    lambda prefix, word, sep, pieces: prefix + word + sep + "".join(pieces),
    st.sampled_from(PREFIXES),
    st.sampled_from(WORDS),
    st.sampled_from(SEPARATORS),
    st.lists(piece, max_size=6),
)
PARSER_FUZZ = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@pytest.fixture
def community(rt, demo, wechat_user):  # type: ignore[no-untyped-def]
    """王秀兰's ticket X in G01 (a third resident linked to it), the stranger known; `fresh()` puts it all back."""
    wechat_user("o-demo-resident-1").say(COMPLAINT)
    assert "已为您关联" in wechat_user("o-demo-resident-3").say("幸福小区3栋楼道灯坏了好几天了")
    wechat_user("o-fuzz-stranger").say("你好")
    base = snapshot(rt.engine)
    with Session(rt.engine) as s:
        x = s.exec(select(Ticket)).one()
    assert x.status == Status.ASSIGNED
    return x.id, lambda: restore(rt.engine, base), base


KEPT = ("status", "rating", "category", "grid_id", "resident_id", "text", "callback_at", "extension_request")


def column(tables, table: str, key: tuple, names: tuple[str, ...]) -> tuple:  # type: ignore[no-untyped-def]
    """Some columns of one row of a snapshot."""
    row = tables[table][key]
    order = [c.name for c in SQLModel.metadata.tables[table].columns]
    return tuple(row[order.index(name)] for name in names)


@PARSER_FUZZ
@given(who=st.sampled_from(list(SENDERS)), line=command_line)
@example(who="reporter", line="进度 ❶")
@example(who="reporter", line="催办 ፩")
@example(who="worker", line="接单 ❶")
@example(who="worker", line="延期 1 ❶ 等待配件")
@example(who="centre_wecom", line="拆分 1 ❶")
@example(who="centre_wechat", line="查 ¹")
@example(who="stranger", line="取消 #1")  # X is ticket 1 on either database
@example(who="neighbour", line="催办 1")
@example(who="other_worker", line="巡查 幸福小区5栋停车交通")  # a find of their own grid: theirs to open
def test_any_command_line_from_any_sender_is_answered_and_touches_only_what_they_may(rt, community, who, line):
    x, fresh, base = community
    fresh()
    channel, sender, chat = SENDERS[who]
    msg = Message(channel=channel, dedupe_key=f"fuzz-{next(_n)}", sender=sender, kind="text", text=line, chat_id=chat)
    reply = process(rt.engine, msg).reply.text
    assert reply  # a command line always gets an answer, if only "没有这个命令"
    after = snapshot(rt.engine)
    if who == "unrostered":
        # On no roster: nothing they type can change anything.
        assert writes(base, after) == DELIVERY_RECORD_ONLY
    if who == "other_worker":
        # Their grid has no ticket: all they may write is a 巡查 of their own grid, a new ticket they found and hold
        # (its events with it); nothing that was there changes.
        changed = writes(base, after)
        assert set(changed) <= {"inbound_message", "ticket", "ticket_event"}, changed
        assert all(removed == edited == 0 for _, removed, edited in changed.values()), changed
        with Session(rt.engine) as s:
            worker = s.exec(select(Person).where(Person.wecom_userid == sender)).one()
        for key in after["ticket"].keys() - base["ticket"].keys():
            found = column(after, "ticket", key, ("source", "grid_id", "found_by_id", "assignee_id"))
            assert found == (TicketSource.PATROL, worker.grid_id, worker.id, worker.id), (line, found)
    if who in ("neighbour", "stranger"):
        # Another resident may open tickets of their own, or be linked to X as reporting the same problem; X is not
        # theirs to rate, urge, cancel or change.
        assert column(after, "ticket", (x,), KEPT) == column(base, "ticket", (x,), KEPT)
        on_x = [
            column(after, "ticket_event", k, ("ticket_id", "action"))
            for k in after["ticket_event"].keys() - base["ticket_event"].keys()
        ]
        assert {action for ticket_id, action in on_x if ticket_id == x} <= {"link"}
    if who != "reporter":
        shown = PRIVATE if who in ("neighbour", "stranger", "other_worker", "unrostered") else PRIVATE[:2]
        assert not [p for p in shown if p in reply], reply


# --- /wecom and /wechat: any bytes that get past the signature and the cipher, any query string ---------------

CALLBACK_FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
WECOM_KEY = base64.b64decode(DEV_WECOM_APP_AES_KEY + "=")
WECHAT_KEY = base64.b64decode(DEV_WECHAT_AES_KEY + "=")


def sealed_query(token: str, encrypted: str, safe_wechat: bool) -> str:
    ts, nonce = str(int(time.time())), str(secrets.randbelow(10**10))
    query = {"timestamp": ts, "nonce": nonce, "msg_signature": signature(token, ts, nonce, encrypted)}
    if safe_wechat:
        query |= {"signature": signature(token, ts, nonce), "encrypt_type": "aes"}
    return urlencode(query)


message_bytes = st.one_of(
    st.binary(max_size=3000),
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=600).map(str.encode),
    st.dictionaries(st.sampled_from([*FIELDS, "AgentID"]), field_values, max_size=9).map(
        lambda fields: message_xml(fields).encode()
    ),
)


@CALLBACK_FUZZ
@given(payload=message_bytes, wecom=st.booleans())
def test_any_bytes_sealed_and_signed_get_a_4xx_or_a_reply_that_opens(client, rt, community, payload, wecom):
    _, fresh, base = community
    fresh()
    if wecom:
        encrypted = seal(WECOM_KEY, DEV_WECOM_CORP_ID.encode(), payload)
        path, query = "/wecom", sealed_query(DEV_WECOM_APP_TOKEN, encrypted, safe_wechat=False)
    else:
        encrypted = seal(WECHAT_KEY, DEV_WECHAT_APPID.encode(), payload)
        path, query = "/wechat", sealed_query(DEV_WECHAT_TOKEN, encrypted, safe_wechat=True)
    body = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    response = client.post(f"{path}?{query}", data=body)
    assert response.status_code < 500
    if response.status_code != 200:
        assert writes(base, snapshot(rt.engine)) == {}
    elif wecom:
        WeComApp(DEV_WECOM_APP_TOKEN, DEV_WECOM_APP_AES_KEY, DEV_WECOM_CORP_ID).open_reply(
            response.get_data(as_text=True)
        )
    else:
        OfficialAccount(DEV_WECHAT_TOKEN, DEV_WECHAT_AES_KEY, DEV_WECHAT_APPID).open_reply(
            response.get_data(as_text=True), safe=True
        )


QUERY_KEYS = ["signature", "msg_signature", "timestamp", "nonce", "encrypt_type", "echostr", "openid"]


@CALLBACK_FUZZ
@given(
    params=st.dictionaries(st.sampled_from(QUERY_KEYS), st.one_of(text, st.sampled_from([*DIGITS, "aes", "raw"]))),
    path=st.sampled_from(["/wechat", "/wecom"]),
    method=st.sampled_from(["GET", "POST"]),
)
def test_any_query_string_gets_a_4xx_and_writes_nothing(client, rt, community, params, path, method):
    _, fresh, base = community
    fresh()
    response = client.open(f"{path}?{urlencode(params)}", method=method, data=b"<xml><Encrypt>x</Encrypt></xml>")
    assert 400 <= response.status_code < 500
    assert writes(base, snapshot(rt.engine)) == {}
