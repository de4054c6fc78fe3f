"""A ticket card (handlers.cards.Card) as WeCom's button_interaction template card (document/path/101032)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from handlers.cards import Card

# WeCom's suggested limits; longer text is cut by the client anyway, but a card must stay within 6 rows / 6 buttons.
MAX_ROWS = 6
MAX_BUTTONS = 6
PRIMARY, SECONDARY = 1, 2
# WeCom: "任务id，同一个机器人任务id不能重复，只能由数字、字母和“_-@”组成，最长128字节". A repeated, empty or longer
# one is refused with 42014 ("taskid has existed or empty or exceed max len").
TASK_ID = re.compile(r"[0-9A-Za-z_\-@]{1,128}")
TASK_ID_REFUSED = 42014


def task_id_for(ticket_id: int, outbox_id: int, created_at: datetime) -> str:
    """The task_id of one card push: "ticket-12-345-261123104233".

    Unique for the bot for ever, as WeCom requires: each push is its own message in the chat, and a second card with
    a ticket-only id would be refused. The same on every attempt of one push, so when an attempt arrived but its ack
    was lost, Tencent refuses the repeat (42014) instead of showing the card twice. The outbox row's creation time
    keeps ids unique when a pilot database is wiped and its ids start again at 1 with the same bot.
    """
    task_id = f"ticket-{ticket_id}-{outbox_id}-{created_at:%y%m%d%H%M%S}"
    assert TASK_ID.fullmatch(task_id), task_id
    return task_id


def ticket_of(task_id: str) -> int | None:
    """ "ticket-12-345-261123104233" -> 12; None for anything else."""
    kind, _, rest = task_id.partition("-")
    number = rest.partition("-")[0]
    return int(number) if kind == "ticket" and number.isdecimal() and number.isascii() else None


def template_card(card: Card, task_id: str, headline: str = "", photos_url: str = "") -> dict[str, Any]:
    """The template_card object for aibot_send_msg and aibot_respond_update_msg.

    button_interaction requires a button list. A card with nothing left to do (resolved, closed, cancelled) keeps
    one button that names the state; its key ("status:12") is no command, so a tap only refreshes the card. The
    resident's photos are a row that opens their page (type 1, a link) when there is an address for it.
    """
    number = card.number
    buttons = [
        {"text": label, "style": PRIMARY if i == 0 else SECONDARY, "key": key}
        for i, (key, label) in enumerate(card.buttons[:MAX_BUTTONS])
    ] or [{"text": card.description.split("，")[0] or "查看", "style": SECONDARY, "key": f"status:{number}"}]
    rows: list[dict[str, Any]] = [{"keyname": name, "value": value} for name, value in card.fields]
    if card.photos:
        row: dict[str, Any] = {"keyname": "照片", "value": f"{card.photos}张" + ("，点击查看" if photos_url else "")}
        rows.insert(2, row | ({"type": 1, "url": photos_url} if photos_url else {}))
    data: dict[str, Any] = {
        "card_type": "button_interaction",
        "main_title": {"title": card.title, "desc": card.description},
        "horizontal_content_list": rows[:MAX_ROWS],
        "button_list": buttons,
        "task_id": task_id,
    }
    if headline:
        data["source"] = {"desc": headline}
    if card.note:
        data["sub_title_text"] = card.note
    return data


def card_message(card: Card, task_id: str, headline: str = "", photos_url: str = "") -> dict[str, Any]:
    """The body of an aibot_send_msg carrying this card (chatid is added by the sender)."""
    return {"msgtype": "template_card", "template_card": template_card(card, task_id, headline, photos_url)}


def markdown_message(text: str) -> dict[str, Any]:
    return {"msgtype": "markdown", "markdown": {"content": text}}
