"""A learned reader of categories: weighted characters, character pairs and words, trained from labelled history.

The keyword lists `nlp train` writes are what a person reads; a sum of keyword weights cannot do what the strong
baseline for short Chinese text does (docs/learning.md, "Learning from history"): weigh every character pair, divide
a message's evidence by how much of it there is, and give each category its own starting point. This reader does
exactly that, and it is written into the taxonomy file (`reader:`) where a person can still read why a message went
where: every feature's weight for each category, the features that weighed most shown as 读出:… .

- Features of the prepared text: each character, each pair of neighbouring characters (spaces left out), and each
  word of two or more characters as jieba cuts it, written [物业] (a word cut out says more than the same two
  characters across a word boundary).
- Values: TF-IDF as scikit-learn's `TfidfVectorizer(sublinear_tf=True)` computes it, over the features the file
  knows (1 + ln count, times idf = ln((1 + n) / (1 + df)) + 1, the vector scaled to length 1).
- Model: one linear SVM per category against the rest (L2-regularised squared hinge loss with a bias, the problem
  scikit-learn's `LinearSVC` solves), trained here in pure Python by dual coordinate descent (Hsieh et al. 2008, the
  method of LIBLINEAR). The category with the highest score wins.
- The file keeps each feature's idf and, per category, the weights of at least SMALLEST in size.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from operator import add, mul
from typing import Any

import yaml

# Weights smaller than this are not written: they change almost no decision and make the file longer.
SMALLEST = 0.01
# How a word cut out by jieba is written among the features: [物业].
WORD = "[{}]"
# Confidence = the winner's share of exp(SHARPNESS * score) over the categories; chosen so that the taxonomy's gate
# (min_confidence 0.3) holds back about the same share of messages as it does under keyword weights.
SHARPNESS = 3.0


@dataclass(frozen=True)
class CategoryReader:
    """What the file's `reader:` section holds."""

    # category code -> bias, in the taxonomy's category order (codes the reader was not trained on are absent)
    bias: dict[str, float]
    # feature -> idf; the features the reader knows
    idf: dict[str, float]
    # per category, in `bias` order: feature -> weight
    weights: tuple[dict[str, float], ...] = ()
    # None: the reader picks the category of every message any keyword matches (a file `nlp train` wrote for a
    # history of its own); a number: only of those where the written keywords' confidence is below it (the bundled
    # file: the keywords decide where they are sure, the reader where they hesitate)
    below: float | None = None
    # with `below`: the categories the reader may pick, those whose keyword score is at least this share of the top
    # one's (a near tie the keywords cannot break; farther ones it would pick wrongly more often than right)
    among: float = 0.6

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self.bias)

    @cached_property
    def _rows(self) -> dict[str, tuple[tuple[int, float], ...]]:
        """Each feature's weights as (category position, weight) pairs: a message's few dozen features touch a weight
        or two each, where a lookup in every category's table cost 12 of them."""
        rows: dict[str, list[tuple[int, float]]] = {}
        for position, table in enumerate(self.weights):
            for feature, weight in table.items():
                rows.setdefault(feature, []).append((position, weight))
        return {feature: tuple(row) for feature, row in rows.items()}

    def scores(self, vector: dict[str, float]) -> list[float]:
        """Each category's score (in `codes` order) for a message's `vector`."""
        totals = list(self.bias.values())
        rows = self._rows
        for feature, value in vector.items():
            for position, weight in rows.get(feature, ()):
                totals[position] += weight * value
        return totals

    def vector(self, found: Iterable[str]) -> dict[str, float]:
        """The message's TF-IDF values over the known features, scaled to length 1."""
        idf = self.idf
        counts = Counter(filter(idf.__contains__, found))
        values = [(1.0 + math.log(n)) * idf[f] if n > 1 else idf[f] for f, n in counts.items()]
        length = math.sqrt(sum(map(mul, values, values)))
        return dict(zip(counts, map((1.0 / length).__mul__, values), strict=True)) if length else {}

    def evidence(self, vector: dict[str, float], code: str, most: int = 3) -> tuple[str, ...]:
        """The features of the message's `vector` that weighed most towards `code`: the explanation."""
        table = self.weights[self.codes.index(code)]
        pulls = {f: table[f] * value for f, value in vector.items() if table.get(f, 0.0) > 0}
        return tuple(sorted(pulls, key=lambda f: (-pulls[f], f))[:most])

    def as_dict(self) -> dict[str, object]:
        return {
            **({"below": self.below, "among": self.among} if self.below is not None else {}),
            "bias": {code: round(b, 4) for code, b in self.bias.items()},
            "weights": {
                code: dict(sorted(table.items(), key=lambda item: (-item[1], item[0])))
                for code, table in zip(self.bias, self.weights, strict=True)
            },
            "idf": {f: round(v, 3) for f, v in sorted(self.idf.items(), key=lambda item: (item[1], item[0]))},
        }

    @classmethod
    def from_dict(cls, raw: object, codes: Sequence[str], source: str) -> CategoryReader:
        if not isinstance(raw, dict):
            raise ValueError(f"{source}: reader must be a mapping with bias, weights and idf")
        # One object per feature and per number however often the file writes it (a feature in idf and in several
        # categories' weights; idf takes a few hundred values): a worker holds a bundled reader's 20,000 entries.
        strings: dict[str, str] = {}
        numbers: dict[float, float] = {}

        def text(written: Any) -> str:
            return strings.setdefault(str(written), str(written))

        def number(written: Any) -> float:
            return numbers.setdefault(float(written), float(written))

        try:
            bias = {str(code): float(value) for code, value in (raw.get("bias") or {}).items()}
            idf = {text(f): number(v) for f, v in (raw.get("idf") or {}).items()}
            tables = {
                str(code): {text(f): number(w) for f, w in (table or {}).items()}
                for code, table in (raw.get("weights") or {}).items()
            }
            below = None if raw.get("below") is None else float(raw["below"])
            among = float(raw.get("among", 0.6))
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"{source}: reader: below, among, bias, idf and weights must be numbers") from None
        if below is not None and not 0 < below <= 1:
            raise ValueError(f"{source}: reader: below must be in (0, 1]: the keywords' confidence it hands over at")
        if not 0 <= among <= 1:
            raise ValueError(f"{source}: reader: among must be in [0, 1]: a share of the top keyword score")
        if unknown := sorted((set(bias) | set(tables)) - set(codes)):
            raise ValueError(f"{source}: reader: unknown categories {', '.join(unknown)}")
        if len(bias) < 2 or set(tables) - set(bias):
            raise ValueError(f"{source}: reader: needs a bias for two categories or more, and for each with weights")
        order = [code for code in codes if code in bias]
        return cls(
            bias={code: bias[code] for code in order},
            idf=idf,
            weights=tuple(tables.get(c, {}) for c in order),
            below=below,
            among=among,
        )


def features(text: str, words: Iterable[str]) -> list[str]:
    """The features of a prepared text and its jieba words, with repeats: characters, pairs, [words]."""
    joined = "".join(text.split())
    return [*joined, *map(add, joined, joined[1:]), *(WORD.format(w) for w in words if len(w) > 1 and w.strip())]


def train(
    examples: Sequence[tuple[list[str], str]],
    codes: Sequence[str],
    *,
    c: float = 1.0,
    passes: int = 40,
    tolerance: float = 0.05,
    min_count: int = 1,
    seed: int = 0,
) -> CategoryReader:
    """Fit one squared-hinge linear SVM per code against the rest on (features, code) rows, by dual coordinate
    descent (LIBLINEAR's solver 1, with its bias as a feature of value 1, regularised like the rest)."""
    rows = [(found, code) for found, code in examples if found]
    present = [code for code in codes if any(code == gold for _, gold in rows)]
    if len(present) < 2:
        raise ValueError("at least two categories with messages are needed")
    documents = Counter(f for found, _ in rows for f in set(found))
    total = len(rows)
    idf = {f: math.log((1 + total) / (1 + n)) + 1.0 for f, n in documents.items() if n >= min_count}
    index = {f: i for i, f in enumerate(idf, start=1)}  # 0 is the bias
    reader = CategoryReader(bias=dict.fromkeys(present, 0.0), idf=idf)
    vectors: list[tuple[list[int], list[float]]] = []
    for found, _ in rows:
        vector = reader.vector(found)
        vectors.append(([0, *map(index.__getitem__, vector)], [1.0, *vector.values()]))
    diagonal = 0.5 / c
    squares = [sum(v * v for v in values) + diagonal for _, values in vectors]
    order = list(range(total))
    shuffle = random.Random(seed).shuffle
    bias: dict[str, float] = {}
    weights: list[dict[str, float]] = []
    for code in present:
        labels = [1.0 if gold == code else -1.0 for _, gold in rows]
        w = [0.0] * (len(index) + 1)
        alpha = [0.0] * total
        get = w.__getitem__
        for _ in range(passes):
            shuffle(order)
            highest, lowest = -math.inf, math.inf
            for i in order:
                indices, values = vectors[i]
                y = labels[i]
                gradient = y * sum(map(mul, map(get, indices), values)) - 1.0 + diagonal * alpha[i]
                projected = gradient if alpha[i] > 0 else min(gradient, 0.0)
                highest, lowest = max(highest, projected), min(lowest, projected)
                if projected:
                    old = alpha[i]
                    alpha[i] = max(old - gradient / squares[i], 0.0)
                    step = (alpha[i] - old) * y
                    for j, v in zip(indices, values, strict=True):
                        w[j] += step * v
            if highest - lowest <= tolerance:
                break
        bias[code] = w[0]
        weights.append({feature: round(w[j], 3) for feature, j in index.items() if abs(w[j]) >= SMALLEST})
    return CategoryReader(bias=bias, idf=idf, weights=tuple(weights))


def shares(scores: Sequence[float]) -> list[float]:
    """Each category's share of exp(SHARPNESS * score): the reader's confidence."""
    top = max(scores)
    exps = [math.exp(SHARPNESS * (s - top)) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


def keep_strongest(reader: CategoryReader, most: int) -> CategoryReader:
    """The reader with only its `most` weights of largest size over all categories, and the idf of the features they
    weigh: a section a person can scroll (6,000 of 245,000 kept most of its gain on real messages; docs/learning.md)."""
    strongest = sorted(
        ((abs(w), position, feature) for position, table in enumerate(reader.weights) for feature, w in table.items()),
        reverse=True,
    )[:most]
    tables: list[dict[str, float]] = [{} for _ in reader.weights]
    for _, position, feature in sorted(strongest, key=lambda item: (item[1], -item[0], item[2])):
        tables[position][feature] = reader.weights[position][feature]
    used = {feature for table in tables for feature in table}
    idf = {feature: value for feature, value in reader.idf.items() if feature in used}
    return replace(reader, idf=idf, weights=tuple(tables))


def section(reader: CategoryReader, source: str, rows: int, when: datetime) -> str:
    """The YAML text of a taxonomy file's `reader:` section, with a header saying how it was made and what it does."""
    handing = (
        [
            f"Used where a message's written keywords decide with a confidence below {reader.below:g} and no danger is",
            f"happening now: there it picks among the categories whose keywords score at least {reader.among:g} of the",
            "top one's, by",
        ]
        if reader.below is not None
        else ["Used wherever a message holds any keyword: it picks the category by"]
    )
    header = [
        f"reader: a learned reader of categories, made by `flask --app app nlp reader` from {source}",
        f"({rows} labelled messages) on {when:%Y-%m-%d %H:%M %Z}".rstrip(),
        *handing,
        "each category's bias plus its weights of the message's characters, pairs and [words] (TF-IDF, idf below);",
        "the keywords and the features that weighed most (读出:…) explain it. A message with no keyword stays 其他.",
        "Delete the section to go by the keywords alone; re-run nlp reader to refit.",
    ]
    text = yaml.safe_dump({"reader": reader.as_dict()}, allow_unicode=True, sort_keys=False, width=120)
    return "".join(f"# {line}\n" for line in header) + text
