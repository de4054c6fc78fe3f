"""Complaint taxonomy: categories, keyword weights, SLA hours and urgency vocabulary, loaded from YAML."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nlp import heap
from nlp.danger import DangerModel
from nlp.reader import CategoryReader

DEFAULT_TAXONOMY_PATH = Path(__file__).with_name("taxonomy.yaml")
DEFAULT_URGENT_HOURS = 2
FALLBACK_CODE = "other"


def normalize(text: str) -> str:
    """Fold full-width forms and latin case so keywords and messages compare equal."""
    return unicodedata.normalize("NFKC", text).strip().lower()


@dataclass(frozen=True)
class Category:
    """One complaint category as configured in the taxonomy file."""

    code: str
    name: str
    sla_hours: int
    keywords: dict[str, float] = field(default_factory=dict)
    hint: tuple[str, ...] = ()
    # keyword -> hours, for faults with a shorter limit than their category (a dark street lamp: 24 h, not 72 h)
    sla_overrides: dict[str, int] = field(default_factory=dict)
    # Weights learned from labelled messages (`flask nlp tune`, the file's `learned:` section), added to the
    # hand-written ones: kept apart so a reader sees which reasons a person wrote and which the data taught.
    learned: dict[str, float] = field(default_factory=dict)
    # Words that say more together than apart: (first word, any of these, weight). "物业" is property and "押金" is
    # many things; "物业" with "押金" is a money conflict with the 物业, a dispute (docs/taxonomy.md).
    together: tuple[tuple[str, tuple[str, ...], float], ...] = ()

    def hours_for(self, keywords: tuple[str, ...] | list[str] = ()) -> int:
        """The resolve limit for a ticket of this category that matched these keywords: the shortest that applies."""
        return min([self.sla_hours, *(self.sla_overrides[k] for k in keywords if k in self.sla_overrides)])


@dataclass(frozen=True)
class UrgencyRules:
    """Vocabulary deciding whether a message reports danger happening now."""

    hours: int = DEFAULT_URGENT_HOURS
    # An urgent ticket must be accepted this soon (calendar minutes).
    accept_minutes: int = 10
    boost: float = 3.0
    # keyword -> category code the danger belongs to (None: urgency without a category preference)
    keywords: dict[str, str | None] = field(default_factory=dict)
    negations: tuple[str, ...] = ()
    past_markers: tuple[str, ...] = ()
    trailing: tuple[str, ...] = ()
    # After the danger, in its sentence or the next, these say it is over ("后来物业来了才放出来", "火已经扑灭了")
    over_markers: tuple[str, ...] = ()
    # A danger in the sentence of one of these is a drill, not an event (消防演练，喇叭一直喊着火了)
    drills: tuple[str, ...] = ()
    # keyword -> words of which one must stand in its sentence or the one before: a smell is a gas smell when gas
    # is named near it (written `闻到*味+燃气|煤气` in the file)
    context: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # keyword -> words none of which may stand there: smoke from a barbecue is not a fire (`烟雾-烧烤|油烟`)
    unless: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def written_keywords(self) -> dict[str, str | None]:
        """The keywords as the file writes them: with their context after "+" and their exceptions after "-"."""
        written: dict[str, str | None] = {}
        for word, code in self.keywords.items():
            near, unless = self.context.get(word), self.unless.get(word)
            written[word + (f"+{'|'.join(near)}" if near else "") + (f"-{'|'.join(unless)}" if unless else "")] = code
        return written


@dataclass(frozen=True)
class Taxonomy:
    """Ordered categories plus urgency rules; order breaks score ties."""

    categories: tuple[Category, ...]
    urgency: UrgencyRules
    # A grid worker accepts a normal ticket within this many working minutes.
    accept_minutes: int = 30
    # Below this confidence a complaint is not routed on its guess: the command centre decides its category.
    min_confidence: float = 0.3
    # The main complaint comes first (a board message's title, a first sentence); background follows. Keywords
    # before the first full stop count lead_weight times, when that stop comes within lead_chars characters.
    lead_weight: float = 2.0
    lead_chars: int = 40
    # Put right the phone typos of keywords before matching (nlp/homophones.py: 装休 read as 装修). Off unless the file
    # says `phone_typos: true`, so a taxonomy written before it reads messages as it always did.
    phone_typos: bool = False
    # A learned second reader of danger for messages the urgent keywords do not cover (nlp/danger.py), if trained.
    danger: DangerModel | None = None
    # A learned reader of categories (nlp/reader.py), written by `nlp train`: where present it picks the category.
    reader: CategoryReader | None = None

    @classmethod
    def from_file(cls, path: str | Path) -> Taxonomy:
        """Load and validate a taxonomy YAML file."""
        with open(path, encoding="utf-8") as f:
            # libyaml's safe loader where PyYAML has it: the file's learned weights parse in a tenth of the time
            data = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        taxonomy = cls.from_dict(data, source=str(path))
        del data
        heap.release()  # the parser's scratch memory (nlp/heap.py)
        return taxonomy

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> Taxonomy:
        """Build a taxonomy from already-parsed data (the YAML structure)."""
        if not isinstance(data, dict) or not isinstance(data.get("categories"), list):
            raise ValueError(f"{source}: expected a mapping with a 'categories' list")
        categories: list[Category] = []
        seen: set[str] = set()
        learned = data.get("learned") or {}
        if not isinstance(learned, dict):
            raise ValueError(f"{source}: 'learned' must map category codes to keyword weights")
        for raw in data["categories"]:
            code = str(raw["code"])
            if code in seen:
                raise ValueError(f"{source}: duplicate category code {code!r}")
            seen.add(code)
            categories.append(
                Category(
                    code=code,
                    name=str(raw["name"]),
                    sla_hours=int(raw["sla_hours"]),
                    keywords=_keywords(raw.get("keywords") or {}, source, code),
                    hint=tuple(str(h) for h in raw.get("hint") or ()),
                    sla_overrides={normalize(str(k)): int(v) for k, v in (raw.get("sla_overrides") or {}).items()},
                    learned=_weights(learned.get(code) or {}, source, code),
                    together=_together(raw.get("together") or {}, source, code),
                )
            )
        if unknown := sorted(set(map(str, learned)) - seen):
            raise ValueError(f"{source}: learned weights for unknown categories {', '.join(unknown)}")
        if FALLBACK_CODE not in seen:
            raise ValueError(f"{source}: a category with code {FALLBACK_CODE!r} is required for unmatched text")
        urgency = _urgency(data.get("urgent") or {}, seen, source)
        accept_minutes = int(data.get("accept_minutes", 30))
        if accept_minutes <= 0 or urgency.accept_minutes <= 0:
            raise ValueError(f"{source}: accept_minutes must be positive")
        min_confidence = float(data.get("min_confidence", 0.3))
        if not 0 <= min_confidence < 1:
            raise ValueError(f"{source}: min_confidence must be in [0, 1)")
        lead = data.get("lead") or {}
        lead_weight, lead_chars = float(lead.get("weight", 2.0)), int(lead.get("chars", 40))
        if lead_weight < 1 or lead_chars < 0:
            raise ValueError(f"{source}: lead weight must be at least 1 and lead chars not negative")
        return cls(
            categories=tuple(categories),
            urgency=urgency,
            accept_minutes=accept_minutes,
            min_confidence=min_confidence,
            lead_weight=lead_weight,
            lead_chars=lead_chars,
            phone_typos=bool(data.get("phone_typos", False)),
            danger=DangerModel.from_dict(data["danger"], source) if data.get("danger") else None,
            reader=CategoryReader.from_dict(data["reader"], [c.code for c in categories], source)
            if data.get("reader")
            else None,
        )

    def get(self, code: str) -> Category:
        """The category with this code; KeyError when unknown."""
        for category in self.categories:
            if category.code == code:
                return category
        raise KeyError(code)


def _weights(raw: Any, source: str, code: str) -> dict[str, float]:
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: keywords of {code!r} must be a mapping keyword -> weight")
    weights: dict[str, float] = {}
    for key, weight in raw.items():
        # YAML turns bare keys like 110 into ints: keywords are always text
        word = normalize(str(key))
        value = float(weight)
        if not word or value <= 0:
            raise ValueError(f"{source}: bad keyword {key!r}: {weight!r} in {code!r}")
        weights[word] = value
    return weights


def _keywords(raw: Any, source: str, code: str) -> dict[str, float]:
    """A category's keywords: a rule written among them ("冰面+开化") would never match, so it is refused."""
    weights = _weights(raw, source, code)
    if ruled := next((word for word in weights if "+" in word or "|" in word), None):
        raise ValueError(f"{source}: {ruled!r} in the keywords of {code!r} is a rule: write it under together")
    return weights


def _together(raw: Any, source: str, code: str) -> tuple[tuple[str, tuple[str, ...], float], ...]:
    """`A+B|C|D: weight` entries: the weight counts once when A and any of B, C, D are all in the message."""
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: together of {code!r} must be a mapping 'word+other|other' -> weight")
    rules: list[tuple[str, tuple[str, ...], float]] = []
    for key, weight in raw.items():
        first, plus, rest = normalize(str(key)).partition("+")
        others = tuple(word for word in rest.split("|") if word)
        value = float(weight)
        if not first or not plus or not others or value <= 0:
            raise ValueError(f"{source}: bad together rule {key!r}: {weight!r} in {code!r} (write 物业+押金|赔偿: 3)")
        rules.append((first, others, value))
    return tuple(rules)


def _urgency(raw: dict[str, Any], codes: set[str], source: str) -> UrgencyRules:
    keywords: dict[str, str | None] = {}
    context: dict[str, tuple[str, ...]] = {}
    unless: dict[str, tuple[str, ...]] = {}
    raw_keywords = raw.get("keywords") or {}
    if isinstance(raw_keywords, list):
        raw_keywords = dict.fromkeys(raw_keywords)
    for key, code in raw_keywords.items():
        if code is not None and code not in codes:
            raise ValueError(f"{source}: urgent keyword {key!r} points to unknown category {code!r}")
        # "闻到*味+燃气|煤气": the danger counts only with one of the words after "+" near it, and "烟雾-烧烤|油烟"
        # only with none of the words after "-"
        rest, minus, excluded = normalize(str(key)).partition("-")
        word, plus, needed = rest.partition("+")
        near = tuple(w for w in needed.split("|") if w)
        but = tuple(w for w in excluded.split("|") if w)
        if not word or word in keywords or (plus and not near) or (minus and not but):
            raise ValueError(f"{source}: bad or repeated urgent keyword {key!r} (write 闻到*味+燃气|煤气 or 烟雾-烧烤)")
        keywords[word] = code
        if near:
            context[word] = near
        if but:
            unless[word] = but
    return UrgencyRules(
        hours=int(raw.get("hours", DEFAULT_URGENT_HOURS)),
        accept_minutes=int(raw.get("accept_minutes", 10)),
        boost=float(raw.get("boost", 3.0)),
        keywords=keywords,
        negations=tuple(normalize(str(w)) for w in raw.get("negations") or ()),
        past_markers=tuple(normalize(str(w)) for w in raw.get("past_markers") or ()),
        trailing=tuple(normalize(str(w)) for w in raw.get("trailing") or ()),
        over_markers=_over_markers(raw.get("over_markers") or (), source),
        drills=tuple(normalize(str(w)) for w in raw.get("drills") or ()),
        context=context,
        unless=unless,
    )


def _over_markers(written: Iterable[object], source: str) -> tuple[str, ...]:
    """`扑灭了` or `扑灭了+火|烟` (it ends only a danger whose words hold one of those), checked and normalised."""
    markers = []
    for item in written:
        marker, plus, needs = normalize(str(item)).partition("+")
        if not marker or (plus and not any(needs.split("|"))):
            raise ValueError(f"{source}: bad over marker {item!r} (write 扑灭了 or 扑灭了+火|烟)")
        markers.append(normalize(str(item)))
    return tuple(markers)


def replace_section(yaml_text: str, new: str, key: str) -> str:
    """A taxonomy file's text with its `key:` section (`danger:`, `reader:`; and the comment above it) replaced by
    `new`, or `new` put before a trailing `learned:` section (which must stay last), or at the end."""
    lines = yaml_text.rstrip("\n").split("\n")
    start = next((i for i, line in enumerate(lines) if line.startswith(f"{key}:")), None)
    if start is not None:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i] and not lines[i].startswith((" ", "#"))), len(lines)
        )
        while end > start + 1 and lines[end - 1].startswith("#"):
            end -= 1  # the comment above the next section belongs to it
        while start > 0 and lines[start - 1].startswith("#"):
            start -= 1
    else:
        start = end = next((i for i, line in enumerate(lines) if line.startswith("learned:")), len(lines))
        while start > 0 and lines[start - 1].startswith("#"):
            start = end = start - 1
    before = "\n".join(lines[:start]).rstrip("\n")
    after = "\n".join(lines[end:]).strip("\n")
    return before + "\n\n" + new + ("\n" + after + "\n" if after else "")
