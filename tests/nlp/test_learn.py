"""Learning a taxonomy from labelled rows, and scoring a classifier against gold labels."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

import nlp
from nlp import Classifier
from nlp.evaluate import evaluate, score
from nlp.learn import MAX_WEIGHT, Options, learn, readable
from nlp.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy

PLACES = ["幸福小区", "人民路", "三号楼", "菜市场", "学校门口"]
TAILS = ["好几天了", "请尽快处理", "太过分了"]
SUBJECTS = {
    "噪声": ["广场舞", "装修", "狗叫", "唱歌"],
    "垃圾": ["垃圾桶", "建筑垃圾", "臭味", "苍蝇"],
    "停车": ["乱停车", "占车位", "僵尸车", "挡住单元门"],
}
ROWS = [
    (f"{place}{subject}{tail}", label)
    for label, subjects in SUBJECTS.items()
    for subject in subjects
    for place in PLACES
    for tail in TAILS[: 1 + len(place) % 3]
]
HELD_OUT = [
    ("光明街的广场舞音响开得震天响", "噪声"),
    ("对面工地装修从早到晚", "噪声"),
    ("小区垃圾桶满了也没人管", "垃圾"),
    ("楼道里苍蝇乱飞", "垃圾"),
    ("有辆僵尸车停在路边半年了", "停车"),
    ("有人乱停车把消防通道堵了", "停车"),
]


@pytest.fixture(scope="module")
def base() -> Taxonomy:
    return Taxonomy.from_file(DEFAULT_TAXONOMY_PATH)


@pytest.fixture(scope="module")
def trained(base: Taxonomy, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    learned = learn(ROWS, base)
    text = learned.to_yaml("history.csv", datetime(2026, 11, 1, 8, 30, tzinfo=UTC))
    path = tmp_path_factory.mktemp("learn") / "trained.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text


def test_the_trained_file_loads_and_classifies_messages_it_has_not_seen(trained: tuple[Path, str]) -> None:
    classifier = Classifier.from_file(trained[0])
    names = {c.code: c.name for c in classifier.taxonomy.categories}
    assert [names[classifier.classify(text).category] for text, _ in HELD_OUT] == [label for _, label in HELD_OUT]
    assert classifier.classify("今天天气不错").category == "other"


def test_the_file_says_how_and_when_it_was_trained(trained: tuple[Path, str]) -> None:
    header = [line for line in trained[1].splitlines() if line.startswith("#")]
    assert "history.csv" in header[0] and "2026-11-01 08:30" in header[0]
    assert f"rows: {len(ROWS)}" in header[1]
    assert any("logodds" in line for line in header)


def test_keywords_are_words_of_the_training_rows_bounded_and_rounded(trained: tuple[Path, str]) -> None:
    data = yaml.safe_load(trained[1])
    everything = "".join(text for text, _ in ROWS)
    learned = [c for c in data["categories"] if c["code"] != "other"]
    assert [c["name"] for c in learned] == ["噪声", "垃圾", "停车"]
    for category in learned:
        keywords = category["keywords"]
        assert 0 < len(keywords) <= Options().keywords
        for word, weight in keywords.items():
            assert readable(word) and word in everything, word
            assert 0 < weight <= MAX_WEIGHT and round(weight, 2) == weight
        top = list(keywords)[:4]
        assert set(top) & set(SUBJECTS[category["name"]]), top
    assert not set(data["categories"][-1].get("keywords") or {})


def test_labels_become_categories_with_codes_and_the_urgent_rules_are_kept(base: Taxonomy) -> None:
    rows = [(text, "噪音扰民" if label == "噪声" else label) for text, label in ROWS]
    rows += [(f"{place}这事说不清{tail}", "其他") for place in PLACES for tail in TAILS]
    learned = learn(rows, base)
    codes = {label.text: label.code for label in learned.labels}
    # a label the default taxonomy has keeps its code and limit; "其他" is the fallback; others are numbered
    assert codes == {"噪音扰民": "noise", "垃圾": "c1", "停车": "c2", "其他": "other"}
    assert next(c for c in learned.taxonomy().categories if c.code == "noise").sla_hours == base.get("noise").sla_hours
    classifier = Classifier(learned.taxonomy())
    fire = classifier.classify("三号楼着火了")
    assert fire.urgent
    assert not classifier.classify("三号楼没有着火").urgent
    # and the keywords that need a word near them, or its absence
    assert classifier.classify("燃气灶旁边 厨房里能闻到味儿").urgent
    assert not classifier.classify("垃圾站旁边走过都能闻到味儿").urgent
    assert not classifier.classify("烧烤摊的炭火烟雾飘进家里").urgent
    # and a danger told as over
    assert not classifier.classify("垃圾房着火了 保安很快就扑灭了 门烧坏了").urgent
    # and the learned reader of danger
    assert learned.taxonomy().danger == base.danger and base.danger is not None


def test_ascii_labels_keep_their_names_as_codes(base: Taxonomy) -> None:
    ascii_rows = [
        (text, {"噪声": "Noise-Complaint", "垃圾": "litter", "停车": "parking"}[label]) for text, label in ROWS
    ]
    learned = learn(ascii_rows, base, Options(statistic="chi2", keywords=20))
    assert [label.code for label in learned.labels] == ["noise_complaint", "litter", "parking", "other"]
    assert all(len(label.keywords) <= 20 for label in learned.labels)


def test_learning_needs_two_labels_and_sane_options(base: Taxonomy) -> None:
    with pytest.raises(ValueError, match="two different labels"):
        learn([("广场舞太吵", "噪声"), ("装修太吵", "噪声")], base)
    with pytest.raises(ValueError, match="statistic"):
        Options(statistic="tfidf")


def test_scores_of_a_hand_computed_confusion_matrix() -> None:
    # gold a: 3 rows (2 right, 1 -> b); gold b: 2 rows (1 right, 1 -> other); c is never right
    gold = ["a", "a", "a", "b", "b", "c"]
    predicted = ["a", "a", "b", "b", "other", "a"]
    result = score(gold, predicted, ["a", "b", "c"])
    assert result.labels == ("a", "b", "c", "other")
    assert result.matrix == ((2, 1, 0, 0), (0, 1, 0, 1), (1, 0, 0, 0), (0, 0, 0, 0))
    assert result.accuracy == pytest.approx(3 / 6)
    a, b, c = result.per_class["a"], result.per_class["b"], result.per_class["c"]
    assert (a.precision, a.recall, a.support) == (pytest.approx(2 / 3), pytest.approx(2 / 3), 3)
    assert (b.precision, b.recall, b.f1) == (pytest.approx(1 / 2), pytest.approx(1 / 2), pytest.approx(1 / 2))
    assert c.f1 == 0.0 and result.per_class["other"].support == 0
    # the mean over the gold labels a, b, c: a predicted-only label adds no class
    assert result.macro_f1 == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    shape = result.as_dict()
    assert shape["confusion"] == {
        "labels": ["a", "b", "c", "other"],
        "matrix": [[2, 1, 0, 0], [0, 1, 0, 1], [1, 0, 0, 0], [0, 0, 0, 0]],
    }
    assert shape["per_class"]["a"] == {"precision": 0.6667, "recall": 0.6667, "f1": 0.6667, "support": 3}


def test_gold_names_of_the_default_taxonomy_are_read_as_its_codes() -> None:
    examples = [(1, "小区门口垃圾桶满了三天都没人清运", "环境卫生"), (2, "楼下广场舞太吵了", "noise")]
    result, rows = evaluate(nlp.default_classifier(), examples)
    # a name in the gold column: results speak names
    assert [(r.row, r.gold, r.predicted) for r in rows] == [(1, "环境卫生", "环境卫生"), (2, "噪音扰民", "噪音扰民")]
    assert result.accuracy == 1.0
    result, rows = evaluate(nlp.default_classifier(), [(1, "楼下广场舞太吵了", "noise"), (2, "停车难", "外星人")])
    assert [(r.gold, r.predicted) for r in rows] == [("noise", "noise"), ("外星人", "parking")]
    assert result.per_class["外星人"].recall == 0.0
