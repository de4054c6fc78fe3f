"""Text into WeCom markdown (AI-bot pushes and replies, group robots) without letting anyone's words become markup.

Everything we put in WeCom markdown is our handlers' text, and that text carries residents' words (a complaint,
a 补充, a reason) but no markup of its own: so the whole text is escaped, and the only markup added afterwards is
ours (the one @-mention below, a robot push's bold and colours).
"""

from __future__ import annotations

import re

# What WeCom markdown reads as markup: links and images ([x](y)), tags (<font>, <@userid> mentions, autolinks),
# **bold**, `code`, > quotes, and &lt; entities that would spell a tag after decoding. '@' too, so nobody's
# "@张伟" can become a mention. Each is shown as its full-width look-alike, a fixed offset from ASCII; inbound
# text is NFKC-normalised, so a resident's own full-width <@userid>, typed on a phone, arrives as ASCII and is
# translated back.
_MARKUP = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "<>[]*`@&"})
# A heading is a '#' at a line's start (markdown allows up to three spaces before it); elsewhere '#' is text
# ("3#楼"), and stays as written.
_HEADING = re.compile(r"^( {0,3})#", re.MULTILINE)
_FULL_WIDTH_HASH = chr(ord("#") + 0xFEE0)
# A push's first-line 【headline】, bold in a robot's push; the worker's name, when it is mentioned, comes next.
_HEADLINE = re.compile(r"(?:\*\*)?【[^】\n]*】")


def escape_markdown(text: str) -> str:
    """The text as WeCom markdown that shows it as written and means nothing but text."""
    return _HEADING.sub(lambda m: m.group(1) + _FULL_WIDTH_HASH, text.translate(_MARKUP))


def mention(markdown: str, name: str, userid: str) -> str:
    """Escaped markdown whose worker's name, where the handlers put it, is a real mention (<@userid>).

    Group texts name the assigned worker as "@张伟 " right after the first line's 【headline】 (handlers.notices,
    {who}); only there does the name become a mention, so a resident's own "@张伟" further on can neither take the
    mention's place nor add one to a push that has none. The headline may be bold (the robot's "**【...】").
    """
    if not name or not userid:
        return markdown
    headline = _HEADLINE.match(markdown)
    who = escape_markdown(f"@{name} ")
    if headline is None or not markdown.startswith(who, headline.end()):
        return markdown
    return f"{headline.group()}<@{userid}> {markdown[headline.end() + len(who) :]}"
