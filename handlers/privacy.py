"""Masking what a group chat must not show: residents' phone numbers, ID numbers and names."""

from __future__ import annotations

import re
from collections.abc import Iterable

# A digit as people type it in a phone number: ASCII, or Chinese numerals read out (幺 and 两 for 1 and 2).
_NUMERALS = "零〇一幺二两三四五六七八九"
_DIGIT = f"[0-9{_NUMERALS}]"
_AS_DIGITS = str.maketrans(_NUMERALS, "0011223456789")
# What people put between groups of digits: "139 1234 5678", "139.1234.5678", "139-1234-5678".
_SEP = r"[ .\-]?"

# 18-digit ID (last may be X), also grouped 6-8-4 or 6-4-4-4: masked before phones, so a grouped ID is not half-masked
# as a phone. The old 15-digit ID (6-6-3) after phones: "0086" and a mobile are 15 digits too.
_ID = re.compile(rf"(?<!\d)(\d{{6}}){_SEP}\d{{4}}{_SEP}\d{{4}}{_SEP}(\d{{3}}[\dXx])(?![\dXx])")
_OLD_ID = re.compile(rf"(?<!\d)(\d{{6}}){_SEP}\d{{6}}{_SEP}(\d{{3}})(?!\d)")
# A mobile: 1[3-9] and nine more digits, any of them grouped, maybe after +86 / 0086 / 86.
_MOBILE = re.compile(
    rf"(?<!{_DIGIT})(?:(?:\+|00)?86{_SEP})?(?P<number>[1一幺][3-9三四五六七八九](?:{_SEP}{_DIGIT}){{9}})(?!{_DIGIT})"
)
_LANDLINE = re.compile(rf"(?<!\d)(\(?0\d{{2,3}}\)?{_SEP})(\d(?:{_SEP}\d){{6,7}})(?!\d)")

# A name is introduced by a cue and is two or three characters; a third character that is 的, 了, 住, 在 or 是 is the
# sentence going on ("我是张三的邻居", "我叫李四住3栋").
_NAME = "[\u4e00-\u9fa5]{2}(?:(?![的了住在是])[\u4e00-\u9fa5])?"
# Cues that always introduce a name.
_CUES = r"我的名字(?:是|叫)|名字(?:是|叫)|名叫|姓名[:：]?\s*|联系人[:：]?\s*"
# Cues that also start ordinary sentences ("我是业主", "我叫了物业", "本人多次反映"): a name only when it starts
# with a common surname.
_LOOSE_CUES = "我叫|我是|本人"
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔"
    "钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵钱严覃武戴莫孔汤温康施牛樊葛邢"
    "齐易乔伍庞颜倪庄聂章鲁岳翟殷詹欧耿兰焦俞左柳甘祝包宁尚舒阮柯纪梅童凌毕季裴霍涂苗谷盛曲翁冉骆蓝游辛靳柴"
    "蒙鲍喻祁蒲滕屈饶艾尤穆卓吉缪褚娄窦戚岑景费卜冷晏席卫米柏瞿桂佟臧闵苟邬卞姬仇栾隋刁巫寇桑甄虞敖巩佘"
)
# Words that start with a surname's character but are no name: "本人严重不满", "我是周边居民".
_COMMON_WORDS = "马上|严重|曾经|曾多次|周边|周围|任何|方便"
# A place, not a name, when one of these words starts within or right after the characters the cue is followed by:
# "我是幸福小区3栋的老住户", "联系人：阳光花园物业".
_PLACE_WORDS = (
    "小区|花园|家园|社区|公寓|大厦|广场|新村|新城|物业|号楼|单元|村|路|街|巷|弄|栋|幢|楼|层"
    "|的老住户|的住户|的居民|的业主"
)
_SELF_NAME = re.compile(
    rf"(?P<cue>{_CUES}|(?:{_LOOSE_CUES})(?=[{_SURNAMES}])(?!{_COMMON_WORDS}))"
    rf"(?![\u4e00-\u9fa5]{{0,3}}(?:{_PLACE_WORDS}))(?P<name>{_NAME})"
)
# "我姓王，名小明" / "我姓王叫小明": the surname shows (as in every masked name), the given name does not.
_GIVEN_NAME = re.compile(
    r"(?P<cue>我姓[\u4e00-\u9fa5][，,、\s]*(?:名字?叫|名字是|名|叫)(?!我))(?P<name>[\u4e00-\u9fa5]{1,2})"
)


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
    text = _MOBILE.sub(_mask_mobile, text)
    text = _OLD_ID.sub(lambda m: m.group(1) + "******" + m.group(2), text)
    text = _LANDLINE.sub(lambda m: m.group(1) + "****" + re.sub(r"\D", "", m.group(2))[4:], text)
    for name in sorted({n for n in names if len(n) >= 2}, key=len, reverse=True):
        text = text.replace(name, mask_name(name))
    text = _GIVEN_NAME.sub(lambda m: m.group("cue") + "*" * len(m.group("name")), text)
    text = _SELF_NAME.sub(lambda m: m.group("cue") + mask_name(m.group("name")), text)
    return text


def _mask_mobile(found: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", found.group("number").translate(_AS_DIGITS))
    return digits[:3] + "****" + digits[-4:]
