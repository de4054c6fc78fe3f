"""bench/RESULTS.md: one `##` section per benchmark, one `###` block per backend it ran on.

A run replaces only its own block (and its section's introduction), so benchmarks and backends can be re-run
one at a time without losing the others' figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
PREAMBLE = """# Benchmark results

Written by `make bench` (`.venv/bin/python -m bench`; `python -m bench --help` lists the benchmarks). Each
benchmark owns one `##` section and, inside it, one `###` block per database and Redis it ran against; a run
replaces only its own block. Every figure is measured beside a baseline in the same run, on the same machine:
compare the ratios across machines, not the milliseconds.
"""


@dataclass(frozen=True)
class Report:
    """What a benchmark hands back: its section, the block for this run, and whether the run counts."""

    section: str
    intro: str
    block_title: str
    block: str
    # False when any request failed: the figures are void and are not written.
    valid: bool = True
    errors: list[str] = field(default_factory=list)


Blocks = dict[str, str]


def parse(text: str) -> tuple[str, dict[str, tuple[str, Blocks]]]:
    """Preamble, then {section title: (introduction, {block title: block body})}, in file order."""
    preamble: list[str] = []
    sections: dict[str, tuple[list[str], dict[str, list[str]]]] = {}
    current: tuple[list[str], dict[str, list[str]]] | None = None
    lines: list[str] = preamble
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), ([], {}))
            lines = current[0]
        elif not fenced and line.startswith("### ") and current is not None:
            lines = current[1].setdefault(line[4:].strip(), [])
        else:
            lines.append(line)
    return "\n".join(preamble).strip(), {
        title: ("\n".join(intro).strip(), {name: "\n".join(body).strip() for name, body in blocks.items()})
        for title, (intro, blocks) in sections.items()
    }


def render(preamble: str, sections: dict[str, tuple[str, Blocks]]) -> str:
    parts = [preamble]
    for title, (intro, blocks) in sections.items():
        parts.append(f"## {title}")
        if intro:
            parts.append(intro)
        parts.extend(f"### {name}\n\n{body}" for name, body in blocks.items())
    return "\n\n".join(parts) + "\n"


def write(report: Report, path: Path = RESULTS) -> None:
    """Put the report's block into its section, keeping every other section and block as it was."""
    preamble, sections = parse(path.read_text()) if path.exists() else (PREAMBLE.strip(), {})
    _, blocks = sections.get(report.section, ("", {}))
    blocks[report.block_title] = report.block.strip()
    sections[report.section] = (report.intro.strip(), blocks)
    path.write_text(render(preamble or PREAMBLE.strip(), sections))
