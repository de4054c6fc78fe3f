"""A learned second reader of danger: weighted character pairs, for messages the urgent keywords do not cover.

The urgent keywords and their grammar (nlp/classifier.py) know a danger by its words and judge its tense; every
fresh set of messages written by someone who never saw them still holds dangers said in words nobody wrote down
("拿锄头打上了", "嘶嘶往外喷气", "叫伊伊不响": docs/learning.md, "Seven more chat sets"). Pairs of characters carry
both the danger and its tense ("冒烟", "修好", "以为", "谁赔") and generalise across wordings. So:

- Features: every pair of neighbouring characters of the message as the classifier reads it (`Classifier.prepare`),
  numbers and the 号楼/单元 after them left out (`features`), counted once each, the sum scaled by 1/sqrt(how many
  there are) (a long message is not more urgent for being long).
- Model: logistic regression (bias + weights), trained here in pure Python (Adagrad, L2, both classes weighted
  alike), the weights below SMALLEST in size dropped, written into the taxonomy file (`danger:`) as pair -> weight.
- Use: only where the keywords found no danger word at all. A danger word they judged past, over, denied or
  hypothetical stays their judgement. The pairs that weighed most are the explanation, among the message's urgent
  keywords as 读出:打上+锄头.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from operator import add

import yaml

_DIGIT = re.compile(r"\d")
_NUMBER = re.compile(r"\d+(?:号楼|号|栋|幢|单元|楼|层|室|户)?")

# Weights smaller than this are not written: they change no decision and make the file longer.
SMALLEST = 0.05
# The probability at which a message counts as urgent, chosen on the written sets (docs/learning.md): at 0.5 the
# blind set found more and real board messages were flagged 1.2 % of the time; at 0.7 0.2 %.
DEFAULT_THRESHOLD = 0.6


@dataclass(frozen=True)
class DangerModel:
    """What the file's `danger:` section holds."""

    bias: float
    weights: dict[str, float] = field(default_factory=dict)
    threshold: float = DEFAULT_THRESHOLD

    def probability(self, text: str) -> float:
        """How likely the (prepared) text reports a danger happening now."""
        found = features(text)
        if not found:
            return 0.0
        total = sum(map(self.weights.get, found, repeat(0.0))) / math.sqrt(len(found))
        return _sigmoid(self.bias + total)

    def evidence(self, text: str, most: int = 3) -> tuple[str, ...]:
        """The pairs of the text that weighed most towards danger: the explanation."""
        weights = self.weights
        ranked = sorted((f for f in features(text) if weights.get(f, 0.0) > 0), key=lambda f: (-weights[f], f))
        return tuple(ranked[:most])

    def as_dict(self) -> dict[str, object]:
        return {"bias": round(self.bias, 4), "threshold": self.threshold, "weights": dict(self.weights)}

    @classmethod
    def from_dict(cls, raw: dict[str, object], source: str) -> DangerModel:
        weights = raw.get("weights") or {}
        if not isinstance(weights, dict):
            raise ValueError(f"{source}: danger.weights must map characters to numbers")
        try:
            return cls(
                bias=float(raw.get("bias", 0.0)),  # type: ignore[arg-type]
                weights={str(k): float(v) for k, v in weights.items()},
                threshold=float(raw.get("threshold", DEFAULT_THRESHOLD)),  # type: ignore[arg-type]
            )
        except (TypeError, ValueError):
            raise ValueError(f"{source}: danger: bias, threshold and weights must be numbers") from None


def features(text: str) -> set[str]:
    """Every pair of neighbouring characters, spaces left out, and none of or across a number (with the 号楼, 单元 or
    层 after it). (Single characters as well found no more on the blind sets and cost a third more time:
    docs/learning.md.)

    Where a thing is and when (5号楼, 2单元, 301室, 11点) says nothing of whether it is dangerous, but the written
    urgent examples named them more often than the normal ones: trained on such pairs, the reader flagged
    "5号楼2单元楼道灯全不亮了" (0.63)."""
    joined = "".join(text.split())
    if _DIGIT.search(joined) is None:
        return set(map(add, joined, joined[1:]))
    found: set[str] = set()
    for part in _NUMBER.split(joined):
        found.update(map(add, part, part[1:]))
    return found


def train(
    rows: Iterable[tuple[str, bool]], *, epochs: int = 30, l2: float = 1e-4, rate: float = 0.5, seed: int = 0
) -> DangerModel:
    """Logistic regression on (prepared text, urgent) rows: Adagrad over the rows in a shuffled order each epoch,
    urgent and normal rows weighted so that each class counts as much in total."""
    examples = [(sorted(features(text)), urgent) for text, urgent in rows]
    examples = [(found, urgent) for found, urgent in examples if found]
    urgent_rows = sum(urgent for _, urgent in examples)
    if not urgent_rows or urgent_rows == len(examples):
        raise ValueError("需要既有紧急也有不紧急的例子 / needs both urgent and normal examples")
    share = {True: len(examples) / (2 * urgent_rows), False: len(examples) / (2 * (len(examples) - urgent_rows))}
    weights: dict[str, float] = {}
    squares: dict[str, float] = {}
    bias = bias_square = 0.0
    order = list(range(len(examples)))
    shuffle = random.Random(seed).shuffle
    for _ in range(epochs):
        shuffle(order)
        for index in order:
            found, urgent = examples[index]
            scale = 1.0 / math.sqrt(len(found))
            z = bias + scale * sum(weights.get(f, 0.0) for f in found)
            error = (_sigmoid(z) - (1.0 if urgent else 0.0)) * share[urgent]
            bias_square += error * error
            bias -= rate * error / math.sqrt(bias_square)
            for f in found:
                w = weights.get(f, 0.0)
                gradient = error * scale + l2 * w
                squares[f] = squares.get(f, 0.0) + gradient * gradient
                weights[f] = w - rate * gradient / math.sqrt(squares[f])
    kept = {f: round(w, 3) for f, w in sorted(weights.items(), key=lambda item: -abs(item[1])) if abs(w) >= SMALLEST}
    return DangerModel(bias=bias, weights=kept)


def scores(model: DangerModel, rows: Sequence[tuple[str, bool]]) -> tuple[int, int, int, int]:
    """(urgent found, urgent rows, normal rows flagged, normal rows) of prepared rows, by the model alone."""
    said = [model.probability(text) >= model.threshold for text, _ in rows]
    urgent = [u for _, u in rows]
    found = sum(s and u for s, u in zip(said, urgent, strict=True))
    alarms = sum(s and not u for s, u in zip(said, urgent, strict=True))
    return found, sum(urgent), alarms, len(rows) - sum(urgent)


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def keep_strongest(model: DangerModel, most: int) -> DangerModel:
    """The model with only its `most` weights of largest size: a file a person can scroll (6,000 kept the blind
    set's figures of all of them in the measurements of docs/learning.md)."""
    kept = sorted(model.weights.items(), key=lambda item: -abs(item[1]))[:most]
    return DangerModel(bias=model.bias, weights=dict(kept), threshold=model.threshold)


def section(model: DangerModel, source: str, rows: int, urgent: int, when: datetime) -> str:
    """The YAML text of the taxonomy file's `danger:` section, most dangerous pairs first, with a header saying how
    it was made."""
    header = [
        f"danger: a learned second reader of danger, made by `flask --app app nlp danger` from {source}",
        f"({rows} messages, {urgent} urgent) on {when:%Y-%m-%d %H:%M %Z}".rstrip(),
        "Used only where the urgent keywords above find no danger word. Each pair of neighbouring characters weighs",
        "towards danger (positive) or away from it (negative); the pairs that weighed most are shown as 读出:… .",
        "Edit or delete freely (deleting the section turns it off); re-run nlp danger to refit.",
    ]
    ordered = dict(sorted(model.weights.items(), key=lambda item: (-item[1], item[0])))
    body = {"danger": {"bias": round(model.bias, 4), "threshold": model.threshold, "weights": ordered}}
    text = yaml.safe_dump(body, allow_unicode=True, sort_keys=False, width=120, default_flow_style=None)
    return "".join(f"# {line}\n" for line in header) + text
