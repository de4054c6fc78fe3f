"""The AI bot's frames, read: a callback body becomes a handlers.types.Message; an ack's errcode says what failed."""

from __future__ import annotations

import re
from typing import Any

from bot.channels import retryable
from bot.wechat import MAX_DEDUPE_KEY
from handlers.types import Message

MENTION = re.compile(r"^\s*@\S+\s*")


def from_frame(body: dict[str, Any], kind: str, **fields: Any) -> Message | None:
    """The Message for a callback body: who, which chat, which delivery (msgid); None without a sender or msgid."""
    source = body.get("from")
    sender = source.get("userid") if isinstance(source, dict) else None
    msgid, chat_id = body.get("msgid"), body.get("chatid") or sender
    if not isinstance(sender, str) or not 0 < len(sender) <= 64 or not isinstance(chat_id, str):
        return None  # a WeCom userid is at most 64 characters; anything else is not a person on the roster
    if not isinstance(msgid, str | int) or not str(msgid):
        return None
    return Message(
        channel="wecom", dedupe_key=str(msgid)[:MAX_DEDUPE_KEY], sender=sender, kind=kind, chat_id=chat_id, **fields
    )


def message_from_text(body: dict[str, Any]) -> Message | None:
    """An aibot_msg_callback text body; in a group the text starts with "@botname ", which is no part of it."""
    text = str(_field(body, "text").get("content", ""))
    if body.get("chattype") == "group":
        text = MENTION.sub("", text, count=1)
    return from_frame(body, "text", text=text)


def message_from_image(body: dict[str, Any]) -> Message | None:
    """An aibot_msg_callback image body: a worker's after-photo (its url is encrypted with image.aeskey)."""
    return from_frame(body, "image", pic_url=str(_field(body, "image").get("url", ""))[:512])


def message_from_click(body: dict[str, Any]) -> Message | None:
    """An aibot_event_callback template_card_event body."""
    event = _field(_field(body, "event"), "template_card_event")
    return from_frame(body, "event", event="template_card_event", event_key=str(event.get("event_key", "")))


def clicked_task_id(body: dict[str, Any]) -> object:
    """The task_id of the card a template_card_event was clicked on (unchecked: whatever the frame says)."""
    return _field(_field(body, "event"), "template_card_event").get("task_id")


def _field(body: dict[str, Any], name: str) -> dict[str, Any]:
    """A nested object of a frame, or {} when it is missing or not an object."""
    value = body.get(name)
    return value if isinstance(value, dict) else {}


def ticket_number(event_key: str) -> int | None:
    """ "accept:12" -> 12."""
    number = event_key.rpartition(":")[2]
    return int(number) if number.isdecimal() and number.isascii() else None


ERRCODE = re.compile(r"errcode=(-?\d+)")


def errcode_of(failure: BaseException) -> int | None:
    """The SDK reports a refused ack as RuntimeError("... errcode=N ..."); None for the transport's failures."""
    found = ERRCODE.search(str(failure))
    return None if found is None else int(found.group(1))


def is_retryable(failure: BaseException) -> bool:
    """A refused ack with an errcode of bot/channels.RETRYABLE_ERRCODES, or the transport's own failure."""
    return retryable(errcode_of(failure))
