"""The learned reader of categories (`reader:` in a trained taxonomy): what it decides, how it explains itself, and
that its pure-Python solver finds the SVM scikit-learn's LinearSVC finds."""

from __future__ import annotations

import csv
import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from nlp import Classifier
from nlp import reader as category_reader
from nlp.classifier import LEARNED_PREFIX
from nlp.learn import Options, learn
from nlp.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy

DEV = Path(__file__).resolve().parents[1] / "data" / "complaints_dev.csv"

PLACES = ["幸福小区", "人民路", "三号楼", "菜市场", "学校门口", "东门", "二单元", "后街"]
SUBJECTS = {
    "噪音扰民": ["广场舞音响太吵", "装修电钻声音大", "狗叫一整夜", "半夜唱歌扰民"],
    "环境卫生": ["垃圾桶满了", "建筑垃圾乱倒", "臭味熏人", "污水横流"],
    "停车交通": ["乱停车", "车位被占", "僵尸车没人管", "电动车堵住通道"],
    "安全隐患": ["消防通道堵塞", "电线老化裸露", "灭火器过期", "楼道堆放杂物"],
}
ROWS = [
    (f"{place}{subject}", label) for label, subjects in SUBJECTS.items() for subject in subjects for place in PLACES
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    learned = learn(ROWS, Taxonomy.from_file(DEFAULT_TAXONOMY_PATH))
    path = tmp_path_factory.mktemp("reader") / "trained.yaml"
    path.write_text(learned.to_yaml("history.csv", datetime(2026, 12, 5, 8, 0, tzinfo=UTC)), encoding="utf-8")
    return path


def names(classifier: Classifier) -> dict[str, str]:
    return {c.code: c.name for c in classifier.taxonomy.categories}


def test_the_reader_places_a_message_and_says_which_of_its_characters_and_words_weighed_most(trained: Path) -> None:
    classifier = Classifier.from_file(trained)
    assert classifier.taxonomy.reader is not None
    intent = classifier.classify("光明街晚上广场舞的音响太吵了")
    assert names(classifier)[intent.category] == "噪音扰民"
    assert intent.keywords[-1].startswith(LEARNED_PREFIX)
    shown = intent.keywords[-1].removeprefix(LEARNED_PREFIX).split("+")
    assert 1 <= len(shown) <= 3
    # every feature shown is in the message: characters, pairs, or a word jieba cut out ([音响])
    assert all(feature.strip("[]") in "光明街晚上广场舞的音响太吵了" for feature in shown)
    assert intent.runner_up is not None and intent.runner_up != intent.category
    assert 0 < intent.confidence <= 1


def test_a_message_without_any_keyword_stays_other_even_where_the_reader_knows_its_characters(trained: Path) -> None:
    classifier = Classifier.from_file(trained)
    reader = classifier.taxonomy.reader
    assert reader is not None
    text = "今天一整天都在家"  # the reader knows 一整 (狗叫一整夜) and more of it; no keyword holds any
    assert reader.vector(category_reader.features(classifier.prepare(text), classifier.tokenize(text)))
    intent = classifier.classify(text)
    assert intent.category == "other" and intent.keywords == ()


def test_a_danger_happening_now_goes_to_its_own_category_whatever_the_reader_prefers(trained: Path) -> None:
    classifier = Classifier.from_file(trained)
    intent = classifier.classify("广场舞音响太吵 现在音响着火了")
    assert names(classifier)[intent.category] == "安全隐患"
    assert intent.urgent


def test_deleting_the_reader_section_goes_back_to_the_keywords_alone(trained: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(trained.read_text(encoding="utf-8"))
    assert set(data["reader"]) == {"bias", "weights", "idf"}
    del data["reader"]
    path = tmp_path / "keywords.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    classifier = Classifier.from_file(path)
    intent = classifier.classify("光明街晚上广场舞的音响太吵了")
    assert classifier.taxonomy.reader is None
    assert names(classifier)[intent.category] == "噪音扰民"
    assert not any(word.startswith(LEARNED_PREFIX) for word in intent.keywords)


def test_no_reader_is_learned_when_asked_not_to() -> None:
    assert learn(ROWS, Taxonomy.from_file(DEFAULT_TAXONOMY_PATH), Options(reader=False)).reader is None


@pytest.mark.parametrize(
    ("reader", "says"),
    [
        ({"bias": {"noise": 0.1, "nowhere": 0.2}, "weights": {}, "idf": {}}, "unknown categories nowhere"),
        ({"bias": {"noise": 0.1, "parking": 0.2}, "weights": {"noise": {"吵": "loud"}}, "idf": {}}, "numbers"),
        ({"bias": {"noise": 0.1}, "weights": {"noise": {"吵": 1.0}}, "idf": {"吵": 2.0}}, "two categories"),
        ("noise", "mapping"),
        ({"below": 1.5, "bias": {"noise": 0.1, "parking": 0.2}, "weights": {}, "idf": {}}, "below"),
    ],
)
def test_a_broken_reader_section_is_refused_with_what_is_wrong(reader: object, says: str) -> None:
    data = yaml.safe_load(DEFAULT_TAXONOMY_PATH.read_text(encoding="utf-8"))
    data["reader"] = reader
    with pytest.raises(ValueError, match=says):
        Taxonomy.from_dict(data, source="trained.yaml")


def test_the_solver_finds_the_svm_scikit_learn_finds() -> None:
    """The same TF-IDF vectors, our dual coordinate descent against LIBLINEAR's (LinearSVC, C=1, squared hinge,
    a regularised bias of scale 1): the same decisions on messages neither saw, and nearly the same scores."""
    sparse = pytest.importorskip("scipy.sparse")
    svm = pytest.importorskip("sklearn.svm")
    classifier = Classifier.from_file(DEFAULT_TAXONOMY_PATH)
    with DEV.open(encoding="utf-8") as f:
        rows = [(row["text"], row["category"]) for row in csv.DictReader(f)]
    found = [category_reader.features(classifier.prepare(text), classifier.tokenize(text)) for text, _ in rows]
    train, test = list(range(0, len(rows), 3)) + list(range(1, len(rows), 3)), list(range(2, len(rows), 3))
    codes = sorted({code for _, code in rows})
    ours = category_reader.train([(found[i], rows[i][1]) for i in train], codes, passes=200, tolerance=1e-3)

    columns = {feature: j for j, feature in enumerate(ours.idf)}

    def matrix(indices: list[int]):  # type: ignore[no-untyped-def]
        data, rows_at, cols = [], [], []
        for r, i in enumerate(indices):
            for feature, value in ours.vector(found[i]).items():
                data.append(value)
                rows_at.append(r)
                cols.append(columns[feature])
        return sparse.csr_matrix((data, (rows_at, cols)), shape=(len(indices), len(columns)))

    theirs = svm.LinearSVC(C=1.0, tol=1e-6, max_iter=100_000).fit(matrix(train), [rows[i][1] for i in train])
    expected = theirs.decision_function(matrix(test))
    order = [list(theirs.classes_).index(code) for code in ours.codes]
    agree = 0
    for r, i in enumerate(test):
        mine = ours.scores(ours.vector(found[i]))
        reference = [expected[r][k] for k in order]
        assert max(abs(a - b) for a, b in zip(mine, reference, strict=True)) < 0.05
        agree += max(range(len(mine)), key=mine.__getitem__) == max(range(len(mine)), key=reference.__getitem__)
    assert agree >= 0.98 * len(test)


def test_the_bundled_reader_places_only_what_its_keywords_hesitate_on() -> None:
    """The bundled file's reader (`below: 0.45`, docs/learning.md): a bottle thrown from a window that nearly hit a
    stall is an object thrown from height (safety), though 摆摊 is the only word the keywords weigh much."""
    bundled = Classifier.from_file(DEFAULT_TAXONOMY_PATH)
    assert bundled.taxonomy.reader is not None and bundled.taxonomy.reader.below == 0.45
    keywords_alone = Classifier(dataclasses.replace(bundled.taxonomy, reader=None), bundled.tokenizer)
    thrown = "楼上有人往下扔酒瓶子 差点砸到楼下摆摊的"
    hesitant = keywords_alone.classify(thrown)
    assert hesitant.category == "construction" and hesitant.confidence < 0.45, hesitant
    read = bundled.classify(thrown)
    assert read.category == "safety" and read.keywords[0] == "往下扔", read
    assert read.keywords[-1].startswith(LEARNED_PREFIX), "the centre's 查 shows what the reader weighed"
    # a sure decision stays the keywords' own, explained by them alone
    sure = bundled.classify("楼下广场舞音响太吵了 天天到十点")
    assert sure.category == "noise" and not any(k.startswith(LEARNED_PREFIX) for k in sure.keywords), sure


def test_keeping_the_strongest_weights_keeps_their_features_and_drops_the_rest() -> None:
    reader = category_reader.CategoryReader(
        bias={"noise": 0.1, "parking": -0.1},
        idf={"吵": 2.0, "车": 1.5, "的": 1.0},
        weights=({"吵": 1.2, "的": 0.05}, {"车": -0.9, "吵": -0.3}),
    )
    kept = category_reader.keep_strongest(reader, 2)
    assert kept.weights == ({"吵": 1.2}, {"车": -0.9})
    assert kept.idf == {"吵": 2.0, "车": 1.5}  # 的 weighs nothing any more: its idf goes too
    vector = kept.vector(["吵", "吵", "车", "的"])
    assert kept.scores(vector)[0] > reader.bias["noise"] and kept.scores(vector)[1] < reader.bias["parking"]


def test_beside_written_keywords_the_reader_breaks_only_near_ties() -> None:
    """`below` and `among`: the keywords tie 楼下 between noise and sanitation and name parking weakly (门口). The
    reader breaks the tie when it prefers one of the two; when it prefers parking, farther off, the keywords' own
    answer stands, unless `among` lets the reader reach that far."""
    data = {
        "categories": [
            {"code": "noise", "name": "噪音扰民", "sla_hours": 24, "keywords": {"楼下": 1}},
            {"code": "sanitation", "name": "环境卫生", "sla_hours": 48, "keywords": {"楼下": 1}},
            {"code": "parking", "name": "停车交通", "sla_hours": 48, "keywords": {"门口": 0.5}},
            {"code": "other", "name": "其他", "sla_hours": 168},
        ],
        "reader": {
            "below": 0.45,
            "bias": {"noise": 0.0, "sanitation": 0.0, "parking": 0.0},
            "weights": {"parking": {"门": 5.0}, "sanitation": {"楼": 1.0}},
            "idf": {"门": 1.0, "楼": 1.0},
        },
    }
    classifier = Classifier(Taxonomy.from_dict(data))
    tie = classifier.classify("楼下有人")
    assert tie.category == "sanitation" and tie.keywords[-1].startswith(LEARNED_PREFIX), tie
    far = classifier.classify("楼下门口")
    assert far.category == "noise" and not far.keywords[-1].startswith(LEARNED_PREFIX), far
    data["reader"]["among"] = 0.0
    assert Classifier(Taxonomy.from_dict(data)).classify("楼下门口").category == "parking"
    # a sure keyword decision is never the reader's
    data["categories"][1]["keywords"] = {"楼下": 1, "垃圾": 3}
    assert Classifier(Taxonomy.from_dict(data)).classify("楼下门口垃圾").category == "sanitation"
    data["reader"]["among"] = 2
    with pytest.raises(ValueError, match="among"):
        Taxonomy.from_dict(data)
