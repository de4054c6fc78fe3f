"""Where a complaint belongs: place words in the text, the resident's bound address, or a WeChat location."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

import nlp
from storage import grids
from storage.models import Grid

# A shared WeChat location further than this from every grid centre goes to the dispatch queue.
NEAREST_GRID_RADIUS_M = 1500


@dataclass(frozen=True)
class Routing:
    grid: Grid | None
    place_text: str  # what in the text named the place ("" when nothing did)


# Generic endings residents swap or drop: 幸福家园 and 幸福 both mean 幸福小区 when only one community is called 幸福.
_GENERIC_ENDINGS = ("小区", "社区", "花园", "家园", "新村", "公寓", "苑")


def _key(community: str | None, building: str | None) -> tuple[str, str]:
    return (community or "", building or "")


def _core(community: str) -> str:
    """幸福家园小区 -> 幸福: the name without the generic endings people add, drop or swap."""
    core = community
    while ending := next((e for e in _GENERIC_ENDINGS if core.endswith(e) and len(core) > len(e) + 1), None):
        core = core[: -len(ending)]
    return core


class GridIndex:
    """Grids by the (community, building) their aliases name, plus the raw aliases for landmarks."""

    def __init__(self, grids: Sequence[Grid]) -> None:
        self.by_key: dict[tuple[str, str], Grid] = {}
        self.by_alias: list[tuple[str, Grid]] = []
        # A community split into several grids names none of them on its own.
        self.by_community: dict[str, set[int]] = {}
        self.grids = list(grids)
        by_id = {g.id: g for g in grids}
        for grid in grids:
            for alias in grid.alias_list():
                self.by_alias.append((alias, grid))
                place = nlp.extract_place(alias)
                if place and place.community:
                    self.by_key.setdefault(_key(place.community, place.building), grid)
                    self.by_community.setdefault(place.community, set()).add(grid.id or 0)
            if grid.community:
                self.by_community.setdefault(grid.community, set()).add(grid.id or 0)
        self.by_alias.sort(key=lambda pair: -len(pair[0]))
        # The fallback for a text whose place the building index does not know (a landmark, a compound it cannot
        # read, such as 翠竹园): the longest alias the text contains. Trying every alias costs one `in` per alias,
        # 160,000 in a city of 32,000 grids (21 ms); looking each piece of the text up costs its length times the
        # number of alias lengths, whatever the city. Each alias keeps its first place in by_alias, so both find
        # the same grid.
        self.alias_at: dict[str, int] = {}
        for position, (alias, _) in enumerate(self.by_alias):
            if len(alias) >= 2:
                self.alias_at.setdefault(alias, position)
        self.alias_lengths = sorted({len(alias) for alias in self.alias_at}, reverse=True)
        # A core name is used only when it belongs to one community.
        cores: dict[str, set[str]] = {}
        for community in self.by_community:
            cores.setdefault(_core(community), set()).add(community)
        self.by_core = {core: next(iter(names)) for core, names in cores.items() if len(names) == 1}
        self.areas = [(points, grid) for grid in grids if (points := parse_polygon(grid.polygon or ""))]
        self.only_grid = {c: by_id[next(iter(ids))] for c, ids in self.by_community.items() if len(ids) == 1}

    def route_text(self, text: str, home_community: str | None = None) -> Routing:
        """Building first (幸福小区3栋, or 3号楼 in the resident's own community), then a landmark or alias
        named in the text (阳光花园菜市场), then a community that is a single grid.

        Traditional characters are read as simplified, and a community name with its generic ending swapped,
        doubled or dropped (幸福家园, 幸福小区小区, 幸福3栋) as the one community of that core name, if only one."""
        text = nlp.simplified(text)
        place = nlp.extract_place(text)
        named = self.community(place.community) if place and place.community else None
        if place is not None and place.building:
            # a community the text names but we do not serve is not the resident's own
            home = self.community(home_community) if home_community else None
            community = named if place.community else self._core_before(text, place.text) or home
            grid = self.by_key.get(_key(community, place.building)) if community else None
            if grid:
                return Routing(grid, place.text if place.community else f"{community}{place.text}")
        if found := self.alias_in(text):
            return Routing(found[1], found[0])
        if named and named in self.only_grid:
            return Routing(self.only_grid[named], place.text if place else named)
        return Routing(None, place.text if place else "")

    def alias_in(self, text: str) -> tuple[str, Grid] | None:
        """The longest alias the text contains (of equal ones, the first in by_alias), and its grid."""
        if len(self.alias_at) <= len(text) * len(self.alias_lengths):  # a small list: trying each is cheaper
            return next(((a, g) for a, g in self.by_alias if len(a) >= 2 and a in text), None)
        for length in self.alias_lengths:
            found = [
                position
                for start in range(len(text) - length + 1)
                if (position := self.alias_at.get(text[start : start + length])) is not None
            ]
            if found:
                return self.by_alias[min(found)]
        return None

    def community(self, name: str) -> str | None:
        """The known community a resident's name for it means: itself, or the one community with its core name."""
        if name in self.by_community:
            return name
        return self.by_core.get(_core(name))

    def _core_before(self, text: str, building: str) -> str | None:
        """幸福3栋: a core name written right before the building, with no generic ending at all."""
        at = text.find(building)
        before = text[:at] if at > 0 else ""
        for core, community in self.by_core.items():
            if len(core) >= 2 and before.endswith(core):
                return community
        return None

    def locate(self, lat: float, lng: float) -> Grid | None:
        """A shared WeChat location: the grid whose boundary holds it, else the nearest centre within the radius."""
        for points, grid in self.areas:
            if inside(lng, lat, points):
                return grid
        return self.nearest(lat, lng)

    def nearest(self, lat: float, lng: float) -> Grid | None:
        best: tuple[float, Grid] | None = None
        for grid in self.grids:
            if grid.lat is None or grid.lng is None:
                continue
            distance = haversine_m(lat, lng, grid.lat, grid.lng)
            if distance <= NEAREST_GRID_RADIUS_M and (best is None or distance < best[0]):
                best = (distance, grid)
        return best[1] if best else None


Point = tuple[float, float]  # (lng, lat)


def parse_polygon(text: str) -> list[Point]:
    """ "lng,lat;lng,lat;…" or "lng lat;…" (three corners or more, as map tools copy them) → points; [] when bad."""
    points: list[Point] = []
    for pair in text.replace("；", ";").replace("，", ",").split(";"):
        if not pair.strip():
            continue
        try:
            lng, lat = (float(v) for v in pair.replace(",", " ").split())
        except ValueError:
            return []
        if not (-180 <= lng <= 180 and -90 <= lat <= 90):
            return []
        points.append((lng, lat))
    return points if len(points) >= 3 else []


def inside(x: float, y: float, polygon: Sequence[Point]) -> bool:
    """Ray casting: is (x, y) inside the polygon? Grids are a few hundred metres across, so plane geometry is exact
    enough."""
    hit = False
    j = len(polygon) - 1
    for i, (xi, yi) in enumerate(polygon):
        xj, yj = polygon[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            hit = not hit
        j = i
    return hit


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    radius = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * radius * math.asin(math.sqrt(a))


def home_community(address: str) -> str | None:
    place = nlp.extract_place(address) if address else None
    return place.community if place else None


@dataclass(frozen=True)
class _Built:
    rows: tuple  # what the index was built from, to rebuild only when a row differs
    index: GridIndex
    token: str | None  # the grid list's version token when the rows were read
    read_at: float  # time.monotonic()


_cache: _Built | None = None
_cache_lock = threading.Lock()


def index(session: Session) -> GridIndex:
    """The routing index of the database's grids, for every complaint.

    While the grid list's version token (storage.grids.version, replaced by every import in the importing
    transaction) is the one the index was read under, no grid row is read: one primary-key lookup instead of every
    row, which is what a city's 32,000 grids would cost each complaint. Without a token, or every grids.TRUST_SECONDS,
    the rows are read and the index is rebuilt only if one differs. Every process sees an import at once.
    """
    token = grids.version(session)
    with _cache_lock:
        built = _cache
    if token is not None and built is not None and built.token == token:
        if time.monotonic() - built.read_at < grids.TRUST_SECONDS:
            return built.index
    return _remember(grids.all_grids(session), token)


def _remember(rows: Sequence[Grid], token: str | None) -> GridIndex:
    global _cache
    key = tuple((g.id, g.code, g.community, g.aliases, g.lat, g.lng, g.polygon) for g in rows)
    with _cache_lock:
        built = _cache
        grid_index = built.index if built is not None and built.rows == key else GridIndex(rows)
        _cache = _Built(key, grid_index, token, time.monotonic())
        return grid_index
