"""Urgency in long, messy resident messages (tests/data/urgent_long.csv), issue 15 item 3.

The danger is usually mentioned in passing inside a complaint about something else, sometimes with no punctuation,
with colloquial words (水漫金山, 家里成河了, 麻了一下, 噼里啪啦) or in traditional characters. Positives are a danger
happening now (kind: flood, electric, gas, fire, trapped, injured, collapse, violence); negatives use the same words
for a long-standing hazard, a past event, a worry or hypothesis, a denial, a named risk, or something unrelated.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

import nlp

DATA = Path(__file__).resolve().parents[1] / "data" / "urgent_long.csv"
POSITIVE_KINDS = {"flood", "electric", "gas", "fire", "trapped", "injured", "collapse", "violence"}
NEGATIVE_KINDS = {"longstanding", "past", "hypothetical", "denial", "risk", "unrelated"}


def load() -> list[tuple[int, str, bool, str]]:
    with DATA.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["text", "urgent", "kind"]
        return [(line, row["text"], row["urgent"] == "1", row["kind"]) for line, row in enumerate(reader, start=2)]


ROWS = load()
POSITIVES = [pytest.param(text, kind, id=f"line{line}-{kind}") for line, text, urgent, kind in ROWS if urgent]
NEGATIVES = [pytest.param(text, kind, id=f"line{line}-{kind}") for line, text, urgent, kind in ROWS if not urgent]


def test_data_has_the_composition_it_promises() -> None:
    kinds = Counter(kind for _, _, _, kind in ROWS)
    assert len(ROWS) >= 120
    assert len(POSITIVES) >= 70 and len(NEGATIVES) >= 50
    assert {kind for _, _, urgent, kind in ROWS if urgent} == POSITIVE_KINDS
    assert {kind for _, _, urgent, kind in ROWS if not urgent} == NEGATIVE_KINDS
    assert kinds["flood"] >= 15 and kinds["electric"] >= 15, kinds
    assert len({text for _, text, _, _ in ROWS}) == len(ROWS), "duplicate texts"
    for line, text, _, _ in ROWS:
        assert 60 <= len(text) <= 300, (line, len(text))


@pytest.mark.parametrize(("text", "kind"), POSITIVES)
def test_danger_happening_now_is_urgent(text: str, kind: str) -> None:
    intent = nlp.classify(text)
    assert intent.urgent, f"[{kind}] {text}\n{intent}"
    assert intent.urgent_keywords


@pytest.mark.parametrize(("text", "kind"), NEGATIVES)
def test_danger_not_happening_now_is_not_urgent(text: str, kind: str) -> None:
    intent = nlp.classify(text)
    assert not intent.urgent, f"[{kind}] {text}\n{intent.urgent_keywords}"


EVERYDAY = Path(__file__).resolve().parents[1] / "data" / "normal_everyday.csv"


def test_everyday_messages_that_use_danger_words_harmlessly_are_not_urgent() -> None:
    # 厨房, 今天, 还在, 倒垃圾, 门禁卡没反应, a sofa 坐塌了: a grid worker paged for these stops trusting the page
    with EVERYDAY.open(encoding="utf-8", newline="") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    assert len(texts) >= 200
    flagged = [(text, nlp.classify(text).urgent_keywords) for text in texts if nlp.classify(text).urgent]
    assert not flagged
