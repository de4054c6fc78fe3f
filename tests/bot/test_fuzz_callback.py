"""Whatever arrives at /wechat, the answer is never a 500; whatever anyone types, handlers never crash."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.conversation import process
from handlers.types import Message

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
