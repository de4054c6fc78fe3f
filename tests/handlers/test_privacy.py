"""What a group chat shows of a resident: no phone number, ID number or name in the clear."""

from __future__ import annotations

import pytest
from sqlmodel import select

from handlers.cards import card_for
from handlers.privacy import mask, mask_phone
from storage.models import Ticket


@pytest.mark.parametrize(
    ("text", "shown", "hidden"),
    [
        ("我电话13912345678有事打我", "139****5678", "13912345678"),
        # Mobiles however they are grouped, with or without the country code.
        ("联系139 1234 5678", "139****5678", "1234 5678"),
        ("联系139.1234.5678", "139****5678", "1234.5678"),
        ("联系139-1234-5678", "139****5678", "1234-5678"),
        ("联系1391 234 5678", "139****5678", "234 5678"),
        ("联系+86 139 1234 5678", "139****5678", "1234 5678"),
        ("联系+8613912345678", "139****5678", "13912345678"),
        ("联系8613912345678找我", "139****5678", "13912345678"),
        ("联系0086-139-1234-5678", "139****5678", "1234-5678"),
        # Read out in Chinese numerals (幺 for 1), or half and half.
        ("电话一三九一二三四五六七八", "139****5678", "一二三四"),
        ("电话幺三九幺二三四五六七八", "139****5678", "幺二三四"),
        ("电话一三九 一二三四 五六七八", "139****5678", "一二三四"),
        ("电话139一二三四5678", "139****5678", "一二三四"),
        # ID numbers: 18 digits, also grouped; the old 15-digit ones.
        ("身份证号110101199003071234找不到了", "110101********1234", "19900307"),
        ("身份证11010119900307123X", "110101********123X", "19900307"),
        ("身份证110101 19900101 123X", "110101********123X", "19900101"),
        ("身份证110101-1990-0101-123X", "110101********123X", "0101-123X"),
        ("老身份证110101900307123", "110101******123", "900307"),
        # Landlines.
        ("座机0571-87654321", "0571-****4321", "87654321"),
        ("座机0571 8765 4321", "0571 ****4321", "8765"),
        ("座机(0571)87654321", "(0571)****4321", "87654321"),
        # Names the text introduces.
        ("我叫王小明住3栋", "我叫王**住3栋", "王小明"),
        ("联系人：李四 3栋", "联系人：李* 3栋", "李四"),
        ("联系人张三", "联系人张*", "张三"),
        ("我是李四，电话13912345678", "我是李*，电话139****5678", "李四"),
        ("本人王小明反映", "本人王**反映", "王小明"),
        ("我的名字是王小明", "我的名字是王**", "王小明"),
        ("我的名字叫刘芳，住3栋", "我的名字叫刘*，", "刘芳"),
        ("楼下有个名叫赵六的人", "名叫赵*的人", "赵六"),
        ("姓名：陈大伟", "姓名：陈**", "陈大伟"),
        ("我是张三的邻居", "我是张*的邻居", "张三"),
        # The surname shows, as in every masked name; the given name does not.
        ("我姓王，名小明", "我姓王，名**", "小明"),
        ("我姓王叫小明", "我姓王叫**", "小明"),
    ],
)
def test_mask_hides_personal_numbers_and_names(text, shown, hidden):
    masked = mask(text)
    assert shown in masked and hidden not in masked


@pytest.mark.parametrize(
    "text",
    [
        # Numbers that are no one's.
        "工单 1024 还没处理，回复“催办 1024”",
        "2026年12月2日晚上开始漏水",
        "2026-12-02 13:45 停电",
        "3号楼502室楼上漏水",
        "物业费1500元一年",
        "邮编310000",
        "幸福小区3栋2单元301室楼道灯坏了",
        # A place after a cue is no name ("我是幸福小区…" was masked to "我是幸**区…").
        "我是幸福小区3栋的老住户",
        "我是阳光花园的业主",
        "我是王家村的",
        "联系人：阳光花园物业",
        "我是高层住户",
        # Words after a cue that are no name.
        "我是业主",
        "我是这里的老住户",
        "我是周边居民",
        "我叫了物业好几次",
        "本人严重不满",
        "本人曾多次反映",
        "有事叫我，随时在家",
        "我姓王",
        "我姓王，叫我王阿姨就行",
    ],
)
def test_what_is_no_ones_number_or_name_stays_readable(text):
    assert mask(text) == text


def test_known_resident_name_is_masked_wherever_it_appears():
    assert mask("王秀兰家门口的灯坏了", names=["王秀兰"]) == "王**家门口的灯坏了"


def test_mask_phone():
    assert mask_phone("13800001001") == "138****1001"
    assert mask_phone("") == ""


def test_a_residents_phone_with_the_country_code_is_masked_on_the_group_card_and_notice(
    resident, session, run_worker, delivered
):
    resident.say("3号楼楼道灯坏了，我是王秀兰，电话+8613912345678，身份证110101 19900101 123X")
    ticket = session.exec(select(Ticket)).one()

    card = card_for(session, ticket)
    shown = "\n".join([card.title, card.description, *(value for _, value in card.fields)])
    run_worker()
    (notice,) = [d["text"] for d in delivered() if d["kind"] == "group_push"]

    for text in (shown, notice):
        assert "139****5678" in text and "13912345678" not in text
        assert "19900101" not in text and "王秀兰" not in text
