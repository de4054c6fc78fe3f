"""Routing a complaint by a landmark or a compound the building index cannot read, in a city of thousands of grids:
the longest alias the text names wins, as in a community of a few grids (handlers/routing.GridIndex.alias_in)."""

from __future__ import annotations

import pytest

from handlers.routing import GridIndex
from storage.models import Grid

# What a street office writes: compounds, landmarks, a market inside a compound.
NAMED = [
    Grid(id=1, code="G12", name="翠竹园网格", community="翠竹园", aliases="翠竹园|翠竹园东门"),
    Grid(id=2, code="G13", name="翠竹园菜市场网格", community="", aliases="翠竹园菜市场"),
    Grid(id=3, code="G14", name="老年活动中心网格", community="", aliases="老年活动中心"),
    Grid(id=4, code="G15", name="另一个老年活动中心", community="", aliases="老年活动中心"),
]


def city(size: int) -> list[Grid]:
    """The named grids among `size` others, each with five aliases of its own."""
    others = [
        Grid(id=100 + i, code=f"X{i:05d}", name=f"城西{i}号网格", community="", aliases=alias_row(i))
        for i in range(size)
    ]
    return others[: size // 2] + NAMED + others[size // 2 :]


def alias_row(i: int) -> str:
    return "|".join(f"城西{i}号院{part}" for part in ("北门", "南门", "1栋", "停车场", "幼儿园"))


@pytest.mark.parametrize("size", [0, 5_000], ids=["a community", "a city"])
@pytest.mark.parametrize(
    ("text", "grid", "alias"),
    [
        ("翠竹园里面好多人遛狗不牵绳", "G12", "翠竹园"),
        ("翠竹园菜市场门口垃圾没人清", "G13", "翠竹园菜市场"),  # the longer name, not the compound's
        ("我在翠竹园东门看到井盖丢了", "G12", "翠竹园东门"),
        ("老年活动中心的灯晚上一直亮着", "G14", "老年活动中心"),  # two grids give it: the first listed
        ("城西4321号院停车场有车漏油", "X04321", "城西4321号院停车场"),
        ("城西2号院北门和城西1号院北门都堵了", "X00001", "城西1号院北门"),  # two of one length: the first listed
    ],
)
def test_a_named_place_routes_to_its_grid_whatever_the_citys_size(size: int, text: str, grid: str, alias: str):
    routing = GridIndex(city(size)).route_text(text)
    if size == 0 and grid.startswith("X"):
        assert routing.grid is None  # a community that has no such place sends it to the centre
        return
    assert routing.grid is not None and (routing.grid.code, routing.place_text) == (grid, alias)


def test_a_text_naming_no_known_place_goes_to_the_centre_in_a_city():
    assert GridIndex(city(5_000)).route_text("我家楼下天天有人吵架").grid is None
