"""Masking what a group chat must not show: residents' phone numbers, ID numbers and names."""

from __future__ import annotations

import re
from collections.abc import Iterable

# 18-digit ID (last may be X), before phones so an ID is not half-masked as a phone.
_ID = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)[ -]?\d{4}[ -]?(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3}-?)\d{4}(\d{3,4})(?!\d)")
# "我叫王小明" / "我是李四" / "联系人张三": the two or three characters after the cue are a name.
_SELF_NAME = re.compile(r"(我叫|我是|本人|联系人[:：]?|姓名[:：]?)([\u4e00-\u9fa5])([\u4e00-\u9fa5]{1,2})")


def mask_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    if len(digits) >= 7:
        return digits[:3] + "****" + digits[-4:]
    return "****" if digits else ""


def mask_name(name: str) -> str:
    return name[0] + "*" * (len(name) - 1) if name else ""


def mask(text: str, names: Iterable[str] = ()) -> str:
    """Mask ID numbers, phone numbers and names (known ones, and ones the text introduces) for a group chat."""
    text = _ID.sub(lambda m: m.group(1) + "********" + m.group(2), text)
    text = _MOBILE.sub(lambda m: m.group(1) + "****" + m.group(2), text)
    text = _LANDLINE.sub(lambda m: m.group(1) + "****" + m.group(2), text)
    for name in sorted({n for n in names if len(n) >= 2}, key=len, reverse=True):
        text = text.replace(name, mask_name(name))
    text = _SELF_NAME.sub(lambda m: m.group(1) + m.group(2) + "*" * len(m.group(3)), text)
    return text
