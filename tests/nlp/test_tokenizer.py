"""The nlp package keeps to its own jieba tokenizer and loads quietly."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nlp
from nlp import Classifier, tokenizer
from nlp.thirdparty import jieba

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_classify_leaves_the_global_jieba_tokenizer_unloaded() -> None:
    # a fresh process: this test session may already hold a loaded tokenizer
    result = _run(
        """
        import jieba
        import nlp
        assert nlp.classify("楼道灯坏了好几天").category == "property"
        assert nlp.extract_place("3号楼") is not None
        print(jieba.dt.initialized, len(jieba.dt.FREQ))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "0"]


def test_import_and_first_classify_emit_no_warnings_or_log_noise() -> None:
    result = _run(
        """
        import nlp
        nlp.classify("路灯坏了")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_user_dictionary_words_are_single_tokens() -> None:
    tokens = nlp.default_classifier().tokenize("有人在楼道里飞线充电还堵了消防通道")
    assert "飞线充电" in tokens
    assert "消防通道" in tokens


def test_custom_taxonomy_file(tmp_path: Path) -> None:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(
        textwrap.dedent(
            """
            categories:
              - {code: pets, name: 宠物, sla_hours: 12, keywords: {狗叫: 2, 猫: 1}}
              - {code: other, name: 其他, sla_hours: 168}
            urgent:
              hours: 1
              keywords: {咬人: pets}
              negations: [没]
            """
        ),
        encoding="utf-8",
    )
    classifier = Classifier.from_file(path)
    intent = classifier.classify("楼下的狗叫个不停")
    assert (intent.category, intent.keywords, intent.urgent) == ("pets", ("狗叫",), False)
    assert classifier.classify("狗咬人了").urgent
    assert not classifier.classify("狗没咬人").urgent
    assert classifier.classify("路灯坏了").category == "other"


def test_taxonomy_without_fallback_category_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "taxonomy.yaml"
    path.write_text("categories:\n  - {code: pets, name: 宠物, sla_hours: 12}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="other"):
        Classifier.from_file(path)


def test_first_use_from_many_threads_builds_one_tokenizer_and_agrees() -> None:
    result = _run(
        """
        import threading
        import nlp

        results = []

        def work():
            category = nlp.classify("小区门口天天有人乱停车").category
            results.append((category, id(nlp.default_classifier()), id(nlp.default_classifier().tokenizer)))

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(len(results), len(set(results)), results[0][0])
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["8", "1", "parking"]


def test_our_lookup_table_is_jiebas_own_with_equal_counts_shared() -> None:
    """The table `new_tokenizer` builds is exactly what jieba's gen_pfdict builds from the same words (so every
    cut is jieba's), only with one int object per distinct count."""
    with tokenizer._JIEBA_DICT_PATH.open("rb") as f:
        theirs = jieba.Tokenizer.gen_pfdict(io.BytesIO(b"".join(line for line in f if int(line.split()[1]) >= 6)))
    ours = tokenizer._prefix_dict(tokenizer._JIEBA_DICT_PATH, 6)
    assert ours == theirs
    table = ours[0]
    assert len({id(count) for count in table.values()}) == len(set(table.values()))


# Characters a message is made of: common Chinese ones, letters and digits (which jieba runs together), the marks its
# own split keeps apart (+#&._%-), spaces and line ends, full-width forms and punctuation.
_MESSAGE_CHARS = (
    "的了是我不在人有这中大来上个到说们为子和你地出道也时要下以会着去过家对可里后小么心多天能好都然没日起还发成事"
    "楼道灯坏物业停车水电燃气漏火烟噪音装修垃圾小区单元门口电梯井盖路施工违建占道吵"
    "abcXYZ0123+#&._%- \n\t，。！？、\uff11\uff12\uff21"
)


@given(st.text(alphabet=_MESSAGE_CHARS, max_size=80))
@settings(max_examples=400, deadline=None)
def test_our_faster_cut_is_jiebas_own(text: str) -> None:
    shared = tokenizer.shared_tokenizer()
    assert tokenizer.words(shared, text) == list(shared.tokenize(text, HMM=False))


def test_our_faster_cut_is_jiebas_own_on_real_messages() -> None:
    shared = tokenizer.shared_tokenizer()
    texts = [
        row.split(",")[0] for row in (ROOT / "tests" / "data" / "complaints_dev.csv").read_text("utf-8").splitlines()
    ]
    long = "".join(texts)[:3000]
    for text in [*texts, long]:
        assert tokenizer.words(shared, text) == list(shared.tokenize(text, HMM=False)), text
