"""What the demo community's residents write: every building the demo grids name, bound residents, and complaints
that each open a ticket of their own.

Three different problems per category, each named at "<compound><n>栋<u>单元". nlp.similarity scores two texts that
name different buildings or units 0, and these three differ in the thing that is wrong, so no complaint repeats an
open ticket (which would be linked to it, with no new ticket and no card). `misfits()` says when that, or the
category, no longer holds for the classifier of the day.
"""

from __future__ import annotations

import csv
import random
import re
from dataclasses import dataclass
from pathlib import Path

GRIDS_CSV = Path(__file__).resolve().parent / "grids.csv"
RESIDENTS_PER_BUILDING = 10
UNITS = range(1, 10)

TEMPLATES = {
    "facility": ("门口的路灯不亮了好几天", "旁边的井盖不见了", "大门外马路边的人行道地砖松了"),
    "sanitation": ("门口的垃圾桶满了好几天没人清运", "楼下有人乱倒建筑垃圾", "垃圾清运不及时臭味很大"),
    "property": ("电梯坏了好几天物业不管", "楼道灯坏了好几天了", "单元门禁坏了关不上"),
    "parking": ("门口有车乱停挡住了出入口", "楼下的共享单车堆满了路", "门口的僵尸车停了半年没人管"),
    "noise": ("楼上装修噪音太大周末一早就开始", "楼下广场舞音响太吵了", "楼下饭店的排风机噪音很大"),
    "construction": ("楼顶有人违章搭建阳光房", "一楼住户私自打通墙开店", "门口有人占道摆摊卖菜"),
    "safety": ("楼道里堆满了杂物挡住安全通道", "有人在楼道里给电动车飞线充电", "楼下的灭火器都过期了"),
    "utility": ("停水两天了也没通知", "暖气不热屋里只有十几度", "燃气表走得特别快"),
    "dispute": ("和邻居因为占用公共走廊吵起来了", "楼上漏水到我家邻居不肯赔", "和楼下因为晾衣服滴水闹矛盾"),
    "security": ("电动车电瓶被偷了", "晚上有陌生人在楼道里转悠", "家门口的监控坏了好久"),
    "service": ("想咨询一下老年证怎么办理", "家庭医生签约在哪里办", "想问一下低保申请要什么材料"),
    "other": ("希望社区组织一些老年人活动", "建议社区多办几场健康讲座", "社区工作人员态度很好要表扬"),
}


@dataclass(frozen=True)
class Complaint:
    openid: str
    text: str
    chat_id: str  # the grid's WeCom chat, where its card must arrive


@dataclass(frozen=True)
class Building:
    compound: str
    number: int
    grid: str
    chat_id: str

    @property
    def address(self) -> str:
        return f"{self.compound}{self.number}栋"


def buildings(grids_csv: Path = GRIDS_CSV) -> list[Building]:
    """Every building the demo grids name by range (幸福小区1-4栋 -> 幸福小区1栋 … 4栋)."""
    found = []
    with grids_csv.open(encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            for alias in row["aliases"].split("|"):
                if m := re.fullmatch(r"(.+?)(\d+)-(\d+)栋", alias.strip()):
                    for n in range(int(m[2]), int(m[3]) + 1):
                        found.append(Building(m[1], n, row["code"], row["chat_id"]))
    if not found:
        raise ValueError(f"no building ranges (like 幸福小区1-4栋) in {grids_csv}")
    return found


def residents(places: list[Building]) -> dict[Building, list[str]]:
    return {b: [f"o-load-{i:03d}-{r:02d}" for r in range(RESIDENTS_PER_BUILDING)] for i, b in enumerate(places)}


def complaints(places: list[Building], people: dict[Building, list[str]], seed: int = 0) -> list[Complaint]:
    """Every building x unit x problem once, shuffled, each from a resident of that building."""
    rng = random.Random(seed)
    pool = [
        Complaint(rng.choice(people[b]), f"{b.address}{unit}单元{problem}", b.chat_id)
        for b in places
        for unit in UNITS
        for problems in TEMPLATES.values()
        for problem in problems
    ]
    rng.shuffle(pool)
    return pool


def write_residents(people: dict[Building, list[str]], path: Path) -> Path:
    """The residents as an `import-people` CSV, each bound to their building (and so to its grid)."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["role", "id", "name", "grid", "phone", "address"])
        for building, openids in people.items():
            for openid in openids:
                writer.writerow(["resident", openid, "", building.grid, "", building.address])
    return path


def misfits() -> list[str]:
    """Problems that no longer classify as their category (confidently, not urgent) or repeat another of their kind."""
    import nlp

    place = "幸福小区3栋2单元"
    wrong = []
    for category, problems in TEMPLATES.items():
        for text in problems:
            intent = nlp.classify(place + text)
            if intent.category != category or intent.urgent or intent.confidence < nlp.min_confidence() + 0.02:
                wrong.append(f"{text}: {intent.category} {intent.confidence:.2f}{' urgent' if intent.urgent else ''}")
        for i, a in enumerate(problems):
            for b in problems[i + 1 :]:
                if (score := nlp.similarity(place + a, place + b)) >= nlp.SAME_PROBLEM - 0.05:
                    wrong.append(f"{a} / {b}: similarity {score:.2f}, would be linked as one problem")
    return wrong
