"""The learned second reader of danger (nlp/danger.py): what it sees, where it is not asked, and its file section."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
import yaml

import nlp
from nlp.danger import DangerModel, features, keep_strongest, section, train
from nlp.taxonomy import replace_section

URGENT = [
    "楼下有人拿锄头打上了 头都破了",
    "两个人在门口动手 一个拿着板凳砸 一个满脸是血",
    "隔壁一直噼噼啪啪响 门缝底下往外钻黑烟",
    "楼道里那个电箱一直啪啪响 冒蓝光",
    "水从楼上哗哗往下淌 客厅全泡了",
    "老人倒在地上叫不醒 嘴边有白沫",
]
NORMAL = [
    "楼下广场舞太吵了 每天晚上都跳到十点",
    "小区门口乱停车 堵得出不去",
    "垃圾桶满了好几天没人清",
    "楼道灯坏了一个月 麻烦修一下",
    "物业费涨了 想问问合不合理",
    "上回打架那事 派出所调解完了 想问花盆谁赔",
]


def rows(texts: list[str], urgent: bool) -> list[tuple[str, bool]]:
    reader = nlp.default_classifier()
    return [(reader.prepare(t), urgent) for t in texts]


@pytest.fixture(scope="module")
def model() -> DangerModel:
    return train(rows(URGENT, True) + rows(NORMAL, False), epochs=40)


def test_it_reads_a_danger_said_in_words_it_was_not_given(model: DangerModel) -> None:
    reader = nlp.default_classifier()
    # pairs seen in other dangers (打上, 满脸, 血) carry over to a wording none of the examples has
    assert model.probability(reader.prepare("门口有人打上了 一脸是血")) > 0.5
    assert model.probability(reader.prepare("小区门口的垃圾桶该换了")) < 0.5
    assert model.evidence(reader.prepare("门口有人打上了 一脸是血"))  # the pairs that weighed most


def test_the_classifier_asks_it_only_where_no_danger_word_was_found() -> None:
    bundled = nlp.default_classifier()
    assert bundled.taxonomy.danger is not None  # the shipped file has one
    # a model that calls everything urgent
    eager = DangerModel(bias=10.0, weights={}, threshold=0.5)
    classifier = nlp.Classifier(dataclasses.replace(bundled.taxonomy, danger=eager), bundled.tokenizer)
    said = classifier.classify("小区门口垃圾桶满了")
    assert said.urgent and said.urgent_keywords[0].startswith(nlp.classifier.LEARNED_PREFIX)
    # the grammar found 着火 and judged it denied, or over: its judgement stands
    assert not classifier.classify("楼下没有着火 是有人烧纸").urgent
    assert not classifier.classify("垃圾房着火了 保安很快就扑灭了 想问问门谁修").urgent
    # without a model, the keywords alone
    plain = nlp.Classifier(dataclasses.replace(bundled.taxonomy, danger=None), bundled.tokenizer)
    assert not plain.classify("小区门口垃圾桶满了").urgent


def test_the_section_is_written_loaded_and_replaced_before_a_learned_one(model: DangerModel) -> None:
    written = section(keep_strongest(model, 50), "urgent.csv", 12, 6, datetime(2026, 12, 4, tzinfo=UTC))
    assert len(yaml.safe_load(written)["danger"]["weights"]) == 50
    base = "version: 1\ncategories:\n  - {code: other, name: 其他, sla_hours: 24}\n# tuned\nlearned:\n  other: {x: 1}\n"
    once = replace_section(base, written, "danger")
    assert once.index("danger:") < once.index("learned:")  # learned: stays last, as nlp tune needs
    again = replace_section(once, written.replace("threshold: 0.6", "threshold: 0.7"), "danger")
    assert again.count("\ndanger:") == 1 and "threshold: 0.7" in again and again.rstrip().endswith("{x: 1}")
    loaded = nlp.Taxonomy.from_dict(yaml.safe_load(again))
    assert loaded.danger is not None and loaded.danger.threshold == 0.7
    with pytest.raises(ValueError, match="danger"):
        nlp.Taxonomy.from_dict({**yaml.safe_load(again), "danger": {"weights": {"火": "hot"}}})


def test_features_are_pairs_of_characters_without_spaces() -> None:
    assert features("着火 了") == {"着火", "火了"}
    assert features("   ") == set()


def test_where_and_when_weigh_nothing_even_where_every_danger_example_names_them() -> None:
    # the written urgent examples name an address more often than the normal ones
    addressed = [f"{n}号楼{n % 3 + 1}单元{text}" for n, text in enumerate(URGENT, start=3)]
    model = train(rows(addressed, True) + rows(NORMAL, False), epochs=40)
    reader = nlp.default_classifier()
    assert features("12号楼3单元402室 晚上11点") == {"晚上"}
    assert model.probability(reader.prepare("9号楼2单元楼道灯全不亮了")) < 0.5
    assert model.probability(reader.prepare("9号楼2单元有人打上了 头都破了")) > 0.5
    assert not nlp.classify("5号楼2单元楼道灯全不亮了").urgent  # the bundled file's reader
