"""Location words in a complaint: community, building, unit, room and road."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from nlp.convert import simplified


@dataclass(frozen=True)
class Place:
    """Where the resident says the problem is; fields are None when not mentioned."""

    text: str
    community: str | None = None
    building: str | None = None
    unit: str | None = None
    room: str | None = None
    road: str | None = None


# \u3007 is the circle-shaped zero some people write in room numbers
_CN_DIGITS = {ch: value for value, ch in enumerate("零一二三四五六七八九")} | {"\u3007": 0, "两": 2}
_CN_UNITS = {"十": 10, "百": 100}
_CN_NUM = "零\u3007一二三四五六七八九十百两"

_NUMBER = rf"(?:[A-Za-z]{{0,2}}\d+|[A-Za-z]|[{_CN_NUM}]+)"
_BUILDING = re.compile(rf"({_NUMBER})\s*(?:号楼|栋|幢|座|号院)")
_UNIT = re.compile(rf"(\d+|[{_CN_NUM}]+)\s*单元")
# A room number only counts right after a building or unit ("3栋301", "2单元 1202室").
_ROOM = re.compile(r"[\s\-－—]*(\d{3,4})(?:室|房|号)?")
_COMMUNITY_SUFFIX = "小区|花园|家园|新村|公寓|大厦|广场|社区|苑|庭|府|城|村|里"
_COMMUNITY = re.compile(rf"([\u4e00-\u9fa5\d]{{1,12}}?)({_COMMUNITY_SUFFIX})")
_ROAD = re.compile(r"([\u4e00-\u9fa5]{1,12}?)(大道|大街|胡同|路|街|巷)(口)?")

# Weak suffixes are also ordinary words (家里, 进城, 政府, 家庭): only accept them before a place-like continuation.
_WEAK_SUFFIXES = frozenset("里城府庭")
_STRONG_SUFFIX = re.compile("小区|社区|花园|家园|公寓")
_PLACE_FOLLOWS = re.compile(rf"$|[\s,，。!！?？\d{_CN_NUM}]|小区|社区|门口|[东南西北]门|的")
# Words before a name that are not part of it ("我住在幸福小区" -> 幸福小区); cut after the last one.
_LEADING_WORDS = (
    r"(?:住在|家在|位于|就在|街道|我们|咱们|你们|他们|这个|那个|这边|那边|这里|那里|隔壁|旁边|对面|附近|门口"
    r"|反映|投诉|举报|一下|[在到从往去住近过的了是个我这那和与跟])"
)
_LEADING = re.compile(_LEADING_WORDS + "$")
_ONLY_LEADING = re.compile(_LEADING_WORDS + "+")
_ADMIN_PREFIX = re.compile(r".*[省市区县镇乡](?=[\u4e00-\u9fa5]{2})")
_NOT_COMMUNITY = frozenset({"市政府", "区政府", "县政府", "镇政府", "人民政府", "新农村", "县城", "城中村", "老城"})
_GENERIC_NAME = re.compile(r"小区|社区|楼下|楼上|楼道|电梯|家里|每天|晚上|早上|天天")
_NOT_ROAD_ENDINGS = tuple(
    "马路 公路 铁路 道路 水路 电路 线路 网路 小路 思路 一路 半路 迷路 带路 出路 走路 上路 小巷 上街 逛街 过路 修路 堵路"
    " 挡路 让路 开路 路路".split()
)


# Things named with 路 that are no road: 路灯, 路牌, 路障, 路面 (a road's own name is followed by them with its 路:
# 幸福路路灯).
_ROAD_THINGS = ("灯", "牌", "障", "面")


def chinese_to_int(numeral: str) -> int | None:
    """Convert 三 / 十二 / 二十 / 一百零五 / 两 to an int; None when it is not a numeral."""
    if not numeral or any(ch not in _CN_DIGITS and ch not in _CN_UNITS for ch in numeral):
        return None
    if all(ch in _CN_DIGITS for ch in numeral) and len(numeral) > 1:
        # digit-by-digit spelling such as 三零一
        return int("".join(str(_CN_DIGITS[ch]) for ch in numeral))
    total, current = 0, 0
    for ch in numeral:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        else:
            total += (current or 1) * _CN_UNITS[ch]
            current = 0
    return total + current


def _number(raw: str) -> str:
    value = chinese_to_int(raw)
    return str(value) if value is not None else raw.upper()


def _clean_name(name: str) -> str:
    if _ONLY_LEADING.fullmatch(name):
        return ""  # 我们小区, 这个小区: no name at all
    # cut after the last leading word that leaves a name of two characters or more: 和平里 keeps its 和
    for end in range(len(name) - 2, 0, -1):
        if _LEADING.search(name, 0, end):
            name = name[end:]
            break
    # 长沙市开福区幸福小区 -> 幸福小区, but 城市花园 keeps its 市: only cut when a real name is left
    admin = _ADMIN_PREFIX.match(name)
    return name[admin.end() :] if admin else name


def _find_community(text: str) -> tuple[str, int, int] | None:
    for match in _COMMUNITY.finditer(text):
        name = _clean_name(match.group(1))
        suffix = match.group(2)
        if len(name) < 2 or _GENERIC_NAME.search(name) or name.isdigit():
            continue
        if suffix in _WEAK_SUFFIXES and not _PLACE_FOLLOWS.match(text, match.end()):
            continue
        if suffix == "广场" and text.startswith("舞", match.end()):
            continue
        full = name + suffix
        if full in _NOT_COMMUNITY:
            continue
        start, end = match.end() - len(full), match.end()
        strong = _STRONG_SUFFIX.match(text, end)
        if strong:
            # 阳光城小区: the weak suffix was part of the name
            full, end = full + strong.group(), strong.end()
        return full, start, end
    return None


def _find_road(text: str) -> tuple[str, int, int] | None:
    for match in _ROAD.finditer(text):
        name = _clean_name(match.group(1))
        road = name + match.group(2)
        if len(name) < 2 or road.endswith(_NOT_ROAD_ENDINGS) or _GENERIC_NAME.search(name):
            continue
        if match.group(2) == "街" and text.startswith(("道", "坊"), match.end(2)):
            continue
        if match.group(2) == "路" and text.startswith(_ROAD_THINGS, match.end(2)):
            continue  # 家门口路灯不亮: the lamp, not a road called 家门口路
        return road, match.end(2) - len(road), match.end()
    return None


@lru_cache(maxsize=1024)
def extract_place(text: str) -> Place | None:
    """Location words found in the text (in simplified characters: 幸福小區3棟 gives 幸福小区3栋), or None.

    Remembered (a Place is frozen): a complaint's text is read for its place by routing, the duplicate search and
    the intake, and a resident's bound address with every message they send."""
    text = simplified(text)
    spans: list[tuple[int, int]] = []
    community = _find_community(text)
    if community:
        spans.append(community[1:])
    road = _find_road(text)
    if road:
        spans.append(road[1:])
    building = unit = room = None
    building_match = _BUILDING.search(text)
    after = -1
    if building_match:
        building = _number(building_match.group(1))
        spans.append(building_match.span())
        after = building_match.end()
    unit_match = _UNIT.search(text, max(after, 0)) if building_match else _UNIT.search(text)
    if unit_match and unit_match.group(1):
        unit = _number(unit_match.group(1))
        spans.append(unit_match.span())
        after = unit_match.end()
    if after >= 0:
        room_match = _ROOM.match(text, after)
        if room_match:
            room = room_match.group(1)
            spans.append((room_match.start(1), room_match.end()))
    if not spans:
        return None
    return Place(
        text=_main_span(text, spans),
        community=community[0] if community else None,
        building=building,
        unit=unit,
        room=room,
        road=road[0] if road else None,
    )


def _main_span(text: str, spans: list[tuple[int, int]]) -> str:
    """The longest run of adjacent location parts ("幸福小区3栋2单元301"), so unrelated words between are left out."""
    spans.sort()
    groups: list[list[int]] = []
    for start, end in spans:
        if groups and start - groups[-1][1] <= 1 and not text[groups[-1][1] : start].strip("的 -"):
            groups[-1][1] = max(groups[-1][1], end)
            groups[-1][2] += 1
        else:
            groups.append([start, end, 1])
    best = max(groups, key=lambda g: (g[2], g[1] - g[0]))
    return text[best[0] : best[1]].strip()
