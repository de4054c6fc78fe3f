"""Ten residents reporting one broken lamp make one ticket; two different problems stay two tickets."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nlp
from nlp.duplicates import SAME_PROBLEM, similarity

PAIRS_PATH = Path(__file__).resolve().parents[1] / "data" / "duplicate_pairs.csv"


def _pairs() -> list[tuple[str, str, bool, str]]:
    with open(PAIRS_PATH, encoding="utf-8", newline="") as f:
        return [(row["a"], row["b"], row["same"] == "1", row["why"]) for row in csv.DictReader(f)]


PAIRS = _pairs()


def test_labelled_pairs_are_enough_and_balanced() -> None:
    positives = sum(same for _, _, same, _ in PAIRS)
    assert len(PAIRS) >= 120
    assert 0.4 <= positives / len(PAIRS) <= 0.6
    assert all(a and b and why for a, b, _, why in PAIRS)


def test_precision_and_recall_on_the_labelled_pairs() -> None:
    tp = fp = fn = tn = 0
    wrong: list[str] = []
    for a, b, same, why in PAIRS:
        score = similarity(a, b)
        found = score >= SAME_PROBLEM
        tp += found and same
        fp += found and not same
        fn += same and not found
        tn += not same and not found
        if found != same:
            wrong.append(f"{'missed' if same else 'merged'} {score:.3f} {a} | {b} ({why})")
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    report = f"tp={tp} fp={fp} fn={fn} tn={tn} precision={precision:.3f} recall={recall:.3f}\n" + "\n".join(wrong)
    assert precision >= 0.95, report
    assert recall >= 0.85, report


def test_the_same_stair_lamp_in_other_words_is_one_problem() -> None:
    assert similarity("3号楼楼道灯坏了", "三号楼的楼道灯不亮好几天了") >= SAME_PROBLEM


def test_the_same_fault_in_another_building_is_another_problem() -> None:
    assert similarity("3号楼楼道灯坏了", "5号楼楼道灯坏了") < SAME_PROBLEM
    assert similarity("三号楼楼道灯坏了", "5栋楼道灯坏了") < SAME_PROBLEM
    assert similarity("2单元电梯坏了", "3单元电梯坏了") < SAME_PROBLEM


def test_the_same_report_in_traditional_characters_is_the_same_problem() -> None:
    assert similarity("幸福小區3棟樓道燈壞了", "3栋楼道灯坏了好几天了") >= SAME_PROBLEM
    assert similarity("幸福小區3棟樓道燈壞了", "幸福小区5栋楼道灯坏了") < SAME_PROBLEM


def test_a_long_rambling_message_about_the_lamp_matches_the_short_report() -> None:
    rambling = "我家楼下那个路灯晚上不亮黑乎乎的老人走路摔了一跤你们赶紧来修一下吧都好几天了"
    assert similarity("路灯不亮", rambling) >= SAME_PROBLEM


def test_another_thing_broken_in_the_same_building_is_another_problem() -> None:
    assert similarity("3号楼楼道灯坏了", "3号楼电梯坏了") < SAME_PROBLEM
    assert similarity("广场舞太吵了", "楼上装修太吵了") < SAME_PROBLEM
    assert similarity("垃圾桶满了没人清运", "草坪上全是狗屎") < SAME_PROBLEM


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("３号楼电梯坏了", "3号楼电梯坏了"),
        ("3#楼电梯坏了", "三号楼电梯坏了"),
        ("十二栋电梯不动了", "12栋的电梯又坏了"),
        ("楼道的灯坏了", "楼道灯不亮"),
        ("小区门口天天有人乱停车", "门口车乱停堵死了出不去"),
    ],
)
def test_number_forms_and_word_splits_do_not_matter(a: str, b: str) -> None:
    assert similarity(a, b) >= SAME_PROBLEM


def test_the_same_text_scores_one() -> None:
    for text in ("路灯不亮", "我家楼下那个路灯晚上不亮黑乎乎的", "3号楼楼道灯坏了！"):
        assert similarity(text, text) == 1.0
    assert similarity("路灯坏了！", "路灯 坏了") == 1.0


def test_empty_or_punctuation_only_text_matches_nothing() -> None:
    assert similarity("", "") == 0.0
    assert similarity("路灯不亮", "") == 0.0
    assert similarity("？？？", "！！") == 0.0


def test_scores_are_symmetric() -> None:
    asymmetric = [(a, b) for a, b, _, _ in PAIRS if similarity(a, b) != similarity(b, a)]
    assert not asymmetric


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="路灯坏了不亮电梯三号楼5栋的又好几天垃圾桶满吵广场舞东门口 ！，", max_size=30),
    st.text(max_size=30),
)
def test_any_two_texts_score_between_zero_and_one_either_way_round(a: str, b: str) -> None:
    score = similarity(a, b)
    assert 0.0 <= score <= 1.0
    assert score == similarity(b, a)


def test_the_package_exports_the_api() -> None:
    assert nlp.similarity is similarity
    assert nlp.SAME_PROBLEM == SAME_PROBLEM
