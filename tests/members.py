"""People in WeCom groups, as the AI-bot gateway hands their messages to handlers (shared by handler tests)."""

from __future__ import annotations

import itertools

from handlers.conversation import process
from handlers.types import Message

_ids = itertools.count(1)


class GroupMember:
    """Someone in a grid's WeCom group, as the AI-bot gateway hands their messages to handlers."""

    def __init__(self, rt, userid: str, chat_id: str = "wrk-chat-g01") -> None:
        self.rt, self.userid, self.chat_id = rt, userid, chat_id

    def say(self, text: str) -> str:
        msg = Message(
            channel="wecom",
            dedupe_key=f"m{next(_ids)}",
            sender=self.userid,
            kind="text",
            text=text,
            chat_id=self.chat_id,
        )
        return process(self.rt.engine, msg).reply.text

    def click(self, event_key: str, msgid: str | None = None) -> str:
        msg = Message(
            channel="wecom",
            dedupe_key=msgid or f"c{next(_ids)}",
            sender=self.userid,
            kind="event",
            event="template_card_event",
            event_key=event_key,
            chat_id=self.chat_id,
        )
        return process(self.rt.engine, msg).reply.text

    def photo(self, media_id: str) -> str:
        msg = Message(
            channel="wecom",
            dedupe_key=f"p{next(_ids)}",
            sender=self.userid,
            kind="image",
            media_id=media_id,
            chat_id=self.chat_id,
        )
        return process(self.rt.engine, msg).reply.text
