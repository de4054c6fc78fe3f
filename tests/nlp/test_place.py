"""Location words pulled out of complaints."""

from __future__ import annotations

import pytest

from nlp import Place, extract_place
from nlp.place import chinese_to_int


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "幸福小区3栋2单元301漏水了",
            Place(text="幸福小区3栋2单元301", community="幸福小区", building="3", unit="2", room="301", road=None),
        ),
        (
            "我住在幸福小区3栋2单元301室",
            Place(text="幸福小区3栋2单元301室", community="幸福小区", building="3", unit="2", room="301", road=None),
        ),
        ("3号楼楼道灯坏了", Place(text="3号楼", community=None, building="3", unit=None, room=None, road=None)),
        ("三号楼门口好多垃圾", Place(text="三号楼", community=None, building="3", unit=None, room=None, road=None)),
        (
            "我家在阳光花园5幢电梯又坏了",
            Place(text="阳光花园5幢", community="阳光花园", building="5", unit=None, room=None, road=None),
        ),
        (
            "人民路口有个大坑",
            Place(text="人民路口", community=None, building=None, unit=None, room=None, road="人民路"),
        ),
        (
            "建设大街上天天有人摆摊",
            Place(text="建设大街", community=None, building=None, unit=None, room=None, road="建设大街"),
        ),
        (
            "十二栋一单元1202家里停水",
            Place(text="十二栋一单元1202", community=None, building="12", unit="1", room="1202", road=None),
        ),
        ("王家村有人偷鸡", Place(text="王家村", community="王家村", building=None, unit=None, room=None, road=None)),
        (
            "阳光城小区门口乱停车",
            Place(text="阳光城小区", community="阳光城小区", building=None, unit=None, room=None, road=None),
        ),
        (
            "长沙市开福区幸福小区3栋",
            Place(text="幸福小区3栋", community="幸福小区", building="3", unit=None, room=None, road=None),
        ),
        (
            "城市花园2栋",
            Place(text="城市花园2栋", community="城市花园", building="2", unit=None, room=None, road=None),
        ),
        (
            "ｂ２９栋２单元电梯坏了",
            Place(text="b29栋2单元", community=None, building="B29", unit="2", room=None, road=None),
        ),
    ],
)
def test_place_is_extracted(text: str, expected: Place) -> None:
    assert extract_place(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "广场舞太吵",
        "3楼着火了快来人",
        "楼道里冒烟了",
        "我们小区门口天天堵车",
        "过马路太危险了",
        "市政府门口有人摆摊",
        "家庭医生怎么签约",
        "每天晚上在广场跳舞",
        # 路灯, 路面: the lamp and the surface, not a road called 家门口路 (a resident bound to her building was
        # asked where instead of being routed home)
        "家门口路灯不亮好几天了",
        "门口的路灯坏了",
        "小区门口路面坑洼",
        "",
    ],
)
def test_no_place_in_text_without_location_words(text: str) -> None:
    assert extract_place(text) is None


def test_separate_location_words_are_all_reported() -> None:
    place = extract_place("人民路那边的幸福小区3号楼楼下")
    assert place is not None
    assert (place.road, place.community, place.building) == ("人民路", "幸福小区", "3")
    assert place.text == "幸福小区3号楼"


@pytest.mark.parametrize(
    ("numeral", "value"),
    [("三", 3), ("十", 10), ("十二", 12), ("二十", 20), ("二十三", 23), ("两", 2), ("一百零五", 105), ("三零一", 301)],
)
def test_chinese_numerals(numeral: str, value: int) -> None:
    assert chinese_to_int(numeral) == value


def test_non_numeral_is_none() -> None:
    assert chinese_to_int("幸福") is None
