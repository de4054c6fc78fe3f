"""A ticket card (handlers.cards.Card) as WeCom's button_interaction template card (document/path/101032)."""

from __future__ import annotations

from typing import Any

from handlers.cards import Card

# WeCom's suggested limits; longer text is cut by the client anyway, but a card must stay within 6 rows / 6 buttons.
MAX_ROWS = 6
MAX_BUTTONS = 6
PRIMARY, SECONDARY = 1, 2


def template_card(card: Card, headline: str = "") -> dict[str, Any]:
    """The template_card object for aibot_send_msg and aibot_respond_update_msg.

    button_interaction requires a button list. A card with nothing left to do (resolved, closed, cancelled) keeps
    one button that names the state; its key ("status:12") is no command, so a tap only refreshes the card.
    """
    number = card.task_id.rpartition("-")[2]
    buttons = [
        {"text": label, "style": PRIMARY if i == 0 else SECONDARY, "key": key}
        for i, (key, label) in enumerate(card.buttons[:MAX_BUTTONS])
    ] or [{"text": card.description.split("，")[0] or "查看", "style": SECONDARY, "key": f"status:{number}"}]
    data: dict[str, Any] = {
        "card_type": "button_interaction",
        "main_title": {"title": card.title, "desc": card.description},
        "horizontal_content_list": [{"keyname": name, "value": value} for name, value in card.fields[:MAX_ROWS]],
        "button_list": buttons,
        "task_id": card.task_id,
    }
    if headline:
        data["source"] = {"desc": headline}
    if card.note:
        data["sub_title_text"] = card.note
    return data


def card_message(card: Card, headline: str = "") -> dict[str, Any]:
    """The body of an aibot_send_msg carrying this card (chatid is added by the sender)."""
    return {"msgtype": "template_card", "template_card": template_card(card, headline)}


def markdown_message(text: str) -> dict[str, Any]:
    return {"msgtype": "markdown", "markdown": {"content": text}}


def with_mention(text: str, name: str, userid: str) -> str:
    """Markdown whose first "@name" is a real WeCom mention (<@userid>), so the worker's phone buzzes."""
    if not name or not userid:
        return text
    return text.replace(f"@{name}", f"<@{userid}>", 1)
