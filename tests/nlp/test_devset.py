"""The dev set (tests/data/complaints_dev.csv): quality floors, the urgency invariants, 繁體 = 简体.

Every example was written for this project, the way residents write: plain messages, long unpunctuated ones,
typos and homophones, voice-recognition text and traditional characters. Labels follow DOMAIN.md §2; urgent means
danger to life or property happening now, so a danger that is denied (没有着火), past (上次着火的事), habitual,
feared or hypothetical (担心会着火, 万一着火怎么办) is not urgent, while one reported uncertainly (好像着火了) or
politely (闻到一点煤气味是不是要报修) is. A burst pipe gushing water counts as urgent wherever it is (emergency
repair); a person trapped in a lift is safety; water flooding a home is utility; violence in progress is security.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

import nlp

DEV_SET = Path(__file__).resolve().parents[1] / "data" / "complaints_dev.csv"
KINDS = {"plain", "colloquial_long", "typo", "voice", "traditional"}

# About 0.04 below what the bundled taxonomy reaches (one or two examples), never below 0.70: a change that costs a
# category more than that fails here, and the confusion table in the message says where its examples went.
ACCURACY_FLOOR = 0.94
F1_FLOORS = {
    "facility": 0.89,
    "sanitation": 0.95,
    "property": 0.88,
    "parking": 0.92,
    "noise": 0.95,
    "construction": 0.95,
    "safety": 0.93,
    "utility": 0.95,
    "dispute": 0.92,
    "security": 0.92,
    "service": 0.94,
    "other": 0.84,
}


@dataclass(frozen=True)
class Example:
    line: int
    text: str
    category: str
    urgent: bool
    kind: str


@dataclass(frozen=True)
class Outcome:
    example: Example
    intent: nlp.Intent

    def describe(self) -> str:
        e, i = self.example, self.intent
        return (
            f"  line {e.line} [{e.kind}] {e.text!r}: expected {e.category}/{'urgent' if e.urgent else 'normal'}, "
            f"got {i.category}/{'urgent' if i.urgent else 'normal'} keywords={i.keywords} urgent={i.urgent_keywords}"
        )


def load() -> list[Example]:
    with DEV_SET.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["text", "category", "urgent", "kind"]
        return [
            Example(line, row["text"], row["category"], row["urgent"] == "1", row["kind"])
            for line, row in enumerate(reader, start=2)
        ]


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    return [Outcome(example, nlp.classify(example.text)) for example in load()]


def f1_scores(outcomes: list[Outcome]) -> dict[str, float]:
    pairs = Counter((o.example.category, o.intent.category) for o in outcomes)
    scores = {}
    for code, _ in nlp.categories():
        hit = pairs[code, code]
        predicted = sum(n for (_, got), n in pairs.items() if got == code)
        actual = sum(n for (want, _), n in pairs.items() if want == code)
        scores[code] = 2 * hit / (predicted + actual) if predicted + actual else 0.0
    return scores


def confusion(outcomes: list[Outcome]) -> str:
    """Rows: the label; columns: what the classifier said (first three letters of the code)."""
    codes = [code for code, _ in nlp.categories()]
    pairs = Counter((o.example.category, o.intent.category) for o in outcomes)
    lines = ["label \\ got".ljust(13) + "".join(code[:3].rjust(5) for code in codes)]
    for want in codes:
        lines.append(want.ljust(13) + "".join(str(pairs[want, got] or ".").rjust(5) for got in codes))
    misses = [o.describe() for o in outcomes if o.intent.category != o.example.category]
    return "\n".join([*lines, "misclassified:", *misses])


def test_dev_set_has_the_composition_it_promises() -> None:
    examples = load()
    categories = Counter(e.category for e in examples)
    kinds = Counter(e.kind for e in examples)
    assert len(examples) >= 450
    assert set(categories) == {code for code, _ in nlp.categories()}
    assert min(categories.values()) >= 25, categories
    assert set(kinds) <= KINDS, kinds
    assert kinds["colloquial_long"] >= 40 and kinds["typo"] >= 30 and kinds["voice"] >= 30, kinds
    assert kinds["traditional"] >= 40, kinds
    assert sum(e.urgent for e in examples) >= 40
    assert len({e.text for e in examples}) == len(examples), "duplicate texts"
    for e in examples:
        if e.kind == "colloquial_long":
            assert 60 <= len(e.text) <= 200, e
            assert not any(mark in e.text for mark in "，。！？、,.!?"), e


def test_overall_accuracy(outcomes: list[Outcome]) -> None:
    accuracy = sum(o.intent.category == o.example.category for o in outcomes) / len(outcomes)
    assert accuracy >= ACCURACY_FLOOR, f"accuracy {accuracy:.3f} < {ACCURACY_FLOOR}\n{confusion(outcomes)}"


def test_every_category_keeps_its_f1(outcomes: list[Outcome]) -> None:
    scores = f1_scores(outcomes)
    assert set(F1_FLOORS) == set(scores)
    assert all(floor >= 0.70 for floor in F1_FLOORS.values())
    below = {code: round(score, 3) for code, score in scores.items() if score < F1_FLOORS[code]}
    assert not below, f"F1 below its floor: {below}\n{confusion(outcomes)}"


def test_no_danger_happening_now_is_missed(outcomes: list[Outcome]) -> None:
    missed = [o.describe() for o in outcomes if o.example.urgent and not o.intent.urgent]
    assert not missed, "urgent examples classified as normal:\n" + "\n".join(missed)


def test_no_denied_past_or_hypothetical_danger_is_urgent(outcomes: list[Outcome]) -> None:
    raised = [o.describe() for o in outcomes if o.intent.urgent and not o.example.urgent]
    assert not raised, "normal examples classified as urgent:\n" + "\n".join(raised)


def test_the_dev_set_holds_tricky_normal_examples(outcomes: list[Outcome]) -> None:
    # Normal examples that name a danger (没有着火, 上次着火的事): what the invariant above is really about.
    classifier = nlp.default_classifier()
    literal = [word for word in classifier.taxonomy.urgency.keywords if "*" not in word]
    tricky = [
        o
        for o in outcomes
        if not o.example.urgent and any(word in classifier.prepare(o.example.text) for word in literal)
    ]
    assert len(tricky) >= 30, [o.example.text for o in tricky]


def test_traditional_examples_classify_like_their_simplified_conversion(outcomes: list[Outcome]) -> None:
    # nlp has loaded zhconv's tables by now (from their path, quietly); convert the whole text, without the
    # classifier's shortcut for text with no traditional character, and compare.
    from zhconv import convert

    traditional = [o for o in outcomes if o.example.kind == "traditional"]
    assert len(traditional) >= 40
    differ = []
    for o in traditional:
        simplified = convert(o.example.text, "zh-cn")
        assert simplified != o.example.text, f"line {o.example.line} has no traditional character"
        again = nlp.classify(simplified)
        if (again.category, again.urgent) != (o.intent.category, o.intent.urgent):
            differ.append(f"{o.describe()}\n    simplified {simplified!r}: {again.category}/{again.urgent}")
    assert not differ, "\n".join(differ)


# The grammar the dev set relies on, one case each, so a failure above can be traced to the rule that broke.
@pytest.mark.parametrize(
    ("text", "urgent"),
    [
        ("著火了快来人", True),  # 著 is also simplified (著名), yet must still be converted
        ("好可怕楼下着火了", True),  # 可怕 is not the worry marker 怕
        ("居委会着火了", True),  # 会 defers a danger only as a word of its own (会着火)
        ("去年电梯困过人，现在又困人了", True),  # 现在 brings it back to the present
        ("刚才有人在楼下打架，现在还在打", True),
        ("昨天楼下着火了。今天楼道里又冒烟了", True),  # a past marker stops at the full stop
        ("怕哪天楼道里的电动车着火", False),
        ("经常有人在楼下打架", False),  # a habit, not an event
        ("楼上水管以前爆过一次", False),  # the marker stands inside the gap keyword 水管*爆
        ("电线掉下来的事上周报过了", False),  # a topic, not an event
        ("楼下那堵墙裂了好长的缝，会不会倒塌", False),
        # a danger told as past that happens again: 又出现 followed by the danger's own words
        ("我家人发生过一次被关在电梯内的事故，物业一直不重视，导致又出现了关在电梯里的情况", True),
        ("我家人发生过一次被关在电梯内的事故，后来又出现了停电", False),
    ],
)
def test_urgency_grammar(text: str, urgent: bool) -> None:
    assert nlp.classify(text).urgent is urgent


def test_a_denied_danger_votes_for_no_category_but_a_feared_one_does() -> None:
    denied = nlp.classify("没有着火，是楼下在烧垃圾")
    assert (denied.category, denied.keywords) == ("sanitation", ("烧垃圾",))
    feared = nlp.classify("楼下那堵墙裂了好长的缝，会不会倒塌")
    assert (feared.category, feared.keywords) == ("safety", ("倒塌",))


def test_a_gap_keyword_reports_the_words_it_spans() -> None:
    intent = nlp.classify("大树倒了压到了一个路人")
    assert intent.urgent and intent.category == "safety"
    assert intent.urgent_keywords == ("压到了一个路人",)
