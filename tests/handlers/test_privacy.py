"""What a group chat shows of a resident: no phone number, ID number or name in the clear."""

from __future__ import annotations

import pytest

from handlers.privacy import mask, mask_phone


@pytest.mark.parametrize(
    ("text", "shown", "hidden"),
    [
        ("我电话13912345678有事打我", "139****5678", "13912345678"),
        ("联系139 1234 5678", "139", "1234 5678"),
        ("身份证号110101199003071234找不到了", "110101********1234", "19900307"),
        ("身份证11010119900307123X", "110101********123X", "19900307"),
        ("座机0571-87654321", "0571-****4321", "87654321"),
        ("我叫王小明住3栋", "我叫王**", "王小明"),
        ("联系人：李四 3栋", "联系人：李*", "李四"),
    ],
)
def test_mask_hides_personal_numbers_and_names(text, shown, hidden):
    masked = mask(text)
    assert shown in masked and hidden not in masked


def test_known_resident_name_is_masked_wherever_it_appears():
    assert mask("王秀兰家门口的灯坏了", names=["王秀兰"]) == "王**家门口的灯坏了"


def test_building_and_room_numbers_stay_readable():
    assert mask("幸福小区3栋2单元301室楼道灯坏了") == "幸福小区3栋2单元301室楼道灯坏了"


def test_mask_phone():
    assert mask_phone("13800001001") == "138****1001"
    assert mask_phone("") == ""
