"""Phone typos of keywords (nlp/homophones.py): a keyword typed with a same-sounding wrong character is read as the
keyword, and what merely sounds alike by chance is left alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import nlp
from nlp.homophones import PINYIN_PATH, Homophones, write_readings


def fixed(words: list[str], text: str, shortest: int = 2, cuts: list[tuple[int, int]] | None = None) -> str:
    """The text as Homophones puts it right, with no dictionary words and each character a word of its own."""
    found = Homophones(words).correct(text, lambda _: False, cuts or [(i, i + 1) for i in range(len(text))], shortest)
    chars = list(text)
    for start, word in found:
        chars[start : start + len(word)] = word
    return "".join(chars)


def test_one_character_sounding_alike_is_put_right() -> None:
    assert fixed(["健身器材"], "小区的健身器才坏了") == "小区的健身器材坏了"
    assert fixed(["燃气味"], "楼道里有股然气味") == "楼道里有股燃气味"


def test_a_keyword_of_four_characters_or_more_takes_two_slips_and_a_shorter_one_takes_one() -> None:
    assert fixed(["违章搭建"], "有人违张搭见") == "有人违章搭建"
    assert fixed(["燃气味"], "有股然汽味") == "有股然汽味"


def test_a_stretch_sounding_alike_in_every_character_is_no_slip() -> None:
    # 是工 sounds like 施工 but shares no character with it: chance, not a slip
    assert fixed(["施工"], "就是公家的事") == "就是公家的事"


def test_two_character_keywords_only_when_asked() -> None:
    assert fixed(["停水"], "又停谁了", shortest=2) == "又停水了"
    assert fixed(["停水"], "又停谁了", shortest=3) == "又停谁了"


def test_a_dictionary_word_is_no_slip() -> None:
    homophones = Homophones(["物业费"])
    assert homophones.correct("无业费", lambda w: w == "无业费", [(0, 2), (2, 3)], 2) == []
    assert homophones.correct("无业费", lambda w: w == "无业", [(0, 2), (2, 3)], 2) == [(0, "物业费")]


def test_a_slip_does_not_cut_through_a_dictionary_word() -> None:
    # 施工 sounded out in 就是|工人 would start inside a word jieba cut out (就是)
    homophones = Homophones(["施工"])
    assert homophones.correct("就是工人", lambda w: w in ("就是", "工人"), [(0, 2), (2, 4)], 2) == []


def test_a_keyword_as_written_is_left_alone() -> None:
    assert fixed(["停水", "停睡"], "又停水了") == "又停水了"


@pytest.mark.parametrize(
    ("text", "category", "urgent"),
    [
        ("厨房里煤汽味好重", "safety", True),
        ("楼道里有股然气味 头有点晕", "safety", True),
        ("公园里的健身器才坏了", "facility", False),
        ("又停谁了", "utility", False),
    ],
)
def test_the_default_classifier_reads_a_typo_as_its_keyword(text: str, category: str, urgent: bool) -> None:
    intent = nlp.classify(text)
    assert (intent.category, intent.urgent) == (category, urgent)


def test_the_default_classifier_leaves_chance_likeness_alone() -> None:
    assert nlp.classify("就是工人太吵了").category == "noise"  # 是工 is no 施工
    assert "物业" not in nlp.classify("小区门口总有几个无业游民晃悠").keywords  # 无业: out of work


def test_a_taxonomy_without_phone_typos_reads_messages_as_written() -> None:
    bundled = nlp.default_classifier()
    assert bundled.taxonomy.phone_typos
    plain = nlp.Classifier(replace(bundled.taxonomy, phone_typos=False), bundled.tokenizer)
    assert plain.classify("厨房里煤汽味好重").category == "other"
    assert nlp.classify("厨房里煤汽味好重").category == "safety"


def test_the_pinyin_file_is_what_pypinyin_says(tmp_path: Path) -> None:
    pytest.importorskip("pypinyin")
    written = tmp_path / "pinyin.txt"
    assert write_readings(written) > 20000
    assert written.read_text(encoding="utf-8") == PINYIN_PATH.read_text(encoding="utf-8")
