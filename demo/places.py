"""Place → grid on a labelled set: does a complaint reach the grid its words (or the resident's address) name?

The grids are the demo's (`demo/grids.csv`, aliases expanded as `flask import-grids` expands them); each example is
routed the way `handlers.complaints.route_for` routes a complaint: the place in the text, else the bound address's
grid when the text names no place at all, else the dispatch queue (expected "").
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from handlers.admin import expand_aliases
from handlers.routing import GridIndex, home_community
from storage.models import Grid

ROOT = Path(__file__).resolve().parent.parent
PLACES = ROOT / "tests" / "data" / "places_dev.csv"
GRIDS = ROOT / "demo" / "grids.csv"


@dataclass(frozen=True)
class Routed:
    text: str
    home: str
    kind: str
    expected: str  # grid code, "" for the dispatch queue
    got: str

    @property
    def right(self) -> bool:
        return self.got == self.expected

    @property
    def wrong_grid(self) -> bool:
        """Sent to a grid that is not the one meant: worse than the queue, where a person looks at it."""
        return bool(self.got) and self.got != self.expected


def demo_index() -> GridIndex:
    with GRIDS.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    grids = [
        Grid(
            id=n,
            code=r["code"],
            name=r["name"],
            community=r["community"],
            aliases="|".join(expand_aliases(r["aliases"])),
            lat=float(r["lat"]),
            lng=float(r["lng"]),
        )
        for n, r in enumerate(rows, start=1)
    ]
    return GridIndex(grids)


def route(index: GridIndex, text: str, home: str) -> str:
    routing = index.route_text(text, home_community(home))
    if routing.grid is None and not routing.place_text and home:
        routing = index.route_text(home)
    return routing.grid.code if routing.grid else ""


def score(path: Path = PLACES) -> list[Routed]:
    index = demo_index()
    with path.open(encoding="utf-8") as f:
        return [
            Routed(r["text"], r["home"], r["kind"], r["expected"], route(index, r["text"], r["home"]))
            for r in csv.DictReader(f)
        ]


def render(results: list[Routed]) -> list[str]:
    right = sum(r.right for r in results)
    wrong = sum(r.wrong_grid for r in results)
    kinds = Counter(r.kind for r in results)
    lines = [
        f"Place → grid on `{PLACES.relative_to(ROOT)}` ({len(results)} examples over the demo's 8 grids, routed as"
        " `route_for` routes a complaint): "
        f"**{right}/{len(results)} right ({right / len(results):.3f})**, {wrong} sent to a wrong grid.",
        "",
        "| kind | examples | right | wrong grid |",
        "|---|--:|--:|--:|",
    ]
    for kind, count in kinds.most_common():
        mine = [r for r in results if r.kind == kind]
        lines.append(f"| {kind} | {count} | {sum(r.right for r in mine)} | {sum(r.wrong_grid for r in mine)} |")
    misses = [r for r in results if not r.right]
    if misses:
        lines += ["", "| text | bound address | expected | got |", "|---|---|---|---|"]
        lines += [f"| {r.text} | {r.home} | {r.expected or '(queue)'} | {r.got or '(queue)'} |" for r in misses]
    return lines
