"""Where a complaint belongs: place words in the text, the resident's bound address, or a WeChat location."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import nlp
from storage.models import Grid

# A shared WeChat location further than this from every grid centre goes to the dispatch queue.
NEAREST_GRID_RADIUS_M = 1500


@dataclass(frozen=True)
class Routing:
    grid: Grid | None
    place_text: str  # what in the text named the place ("" when nothing did)


def _key(community: str | None, building: str | None) -> tuple[str, str]:
    return (community or "", building or "")


class GridIndex:
    """Grids by the (community, building) their aliases name, plus the raw aliases for landmarks."""

    def __init__(self, grids: Sequence[Grid]) -> None:
        self.by_key: dict[tuple[str, str], Grid] = {}
        self.by_alias: list[tuple[str, Grid]] = []
        self.grids = list(grids)
        for grid in grids:
            names = [*grid.alias_list(), grid.community] if grid.community else grid.alias_list()
            for alias in names:
                self.by_alias.append((alias, grid))
                place = nlp.extract_place(alias)
                if place and place.community:
                    self.by_key.setdefault(_key(place.community, place.building), grid)
        self.by_alias.sort(key=lambda pair: -len(pair[0]))

    def route_text(self, text: str, home_community: str | None = None) -> Routing:
        place = nlp.extract_place(text)
        if place is not None:
            community = place.community or home_community
            if community and place.building:
                grid = self.by_key.get(_key(community, place.building))
                if grid:
                    return Routing(grid, place.text)
            if place.community:
                grid = self.by_key.get(_key(place.community, None))
                if grid:
                    return Routing(grid, place.text)
        for alias, grid in self.by_alias:
            if len(alias) >= 2 and alias in text:
                return Routing(grid, alias)
        return Routing(None, place.text if place else "")

    def nearest(self, lat: float, lng: float) -> Grid | None:
        best: tuple[float, Grid] | None = None
        for grid in self.grids:
            if grid.lat is None or grid.lng is None:
                continue
            distance = haversine_m(lat, lng, grid.lat, grid.lng)
            if distance <= NEAREST_GRID_RADIUS_M and (best is None or distance < best[0]):
                best = (distance, grid)
        return best[1] if best else None


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    radius = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * radius * math.asin(math.sqrt(a))


def home_community(address: str) -> str | None:
    place = nlp.extract_place(address) if address else None
    return place.community if place else None
