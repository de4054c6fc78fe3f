"""Phone typos of known words put right: a keyword typed with a same-sounding wrong character (装休 for 装修, 消房通道
for 消防通道, 无业费 for 物业费), as pinyin input methods produce them.

A resident picks the first candidate the input method offers, and for a word it has not learned that is often a
homophone. The keyword list knows 装修, not 装休; without this step the message falls to 其他 or to the wrong
category, and every typo needed an entry of its own in the taxonomy.

How: every character is read as its toneless pinyin syllable (nlp/pinyin.txt, written from pypinyin's table by
`python -m nlp.homophones`; the service needs no pypinyin). A stretch of the text that sounds like a keyword but is
written differently becomes the keyword when
- it differs in one character (two, for a keyword of four characters or more), and shares the others;
- it is no word of jieba's dictionary itself (无业 is "unemployed", not a slip for 物业);
- it does not cut through a dictionary word (就|是工|人 is no 施工) nor through another keyword found as written.
"""

from __future__ import annotations

import sys
import unicodedata
from array import array
from collections.abc import Callable, Iterable
from pathlib import Path

PINYIN_PATH = Path(__file__).with_name("pinyin.txt")
# The characters the table covers: CJK Unified Ideographs, the block every character an input method offers for
# everyday words is in.
FIRST, LAST = 0x4E00, 0x9FFF
# A syllable is written as one character of the Private Use Area in the sounded-out text, so that the text and its
# sound line up character by character and str.translate does the reading in C.
_SOUNDS = 0xE000


class Homophones:
    """Finds keywords typed with homophones; thread-safe after construction (it only reads its tables)."""

    def __init__(self, words: Iterable[str], path: Path | None = PINYIN_PATH) -> None:
        """`words`: the keywords to put right (single characters are left alone: too many sound alike); `path`:
        the characters' syllables (None: no character has one, nothing is put right)."""
        # The text is read by its characters' usual syllable: one string indexed by code point (80 kB), so translate()
        # stays in C. Below FIRST every character reads as itself; past LAST, translate leaves it as it is. Built as
        # an array of code points, not as 40,000 strings, which would stay in the worker's heap as free memory.
        codes = array("I", range(LAST + 1))
        for number, (_, chars) in enumerate(_lines(path) if path else ()):  # only that syllables differ matters
            for char in chars:
                codes[ord(char)] = _SOUNDS + number
        self._table = codes.tobytes().decode("utf-32-le" if sys.byteorder == "little" else "utf-32-be")
        # A keyword is heard by its characters' usual syllables too. With every reading, 塌了 (ta or da) took 打了 and
        # 太大了 (大: da, dai or tai) for a slip; input methods offer a character by its usual reading anyway.
        self._words: dict[str, list[str]] = {}
        for word in sorted(set(words)):
            heard = word.translate(self._table)
            if len(word) >= 2 and all(ord(sound) >= _SOUNDS for sound in heard):
                self._words.setdefault(heard, []).append(word)
        self._written = frozenset(word for found in self._words.values() for word in found)
        # The first two (three, four) syllables of the keywords of two characters or more (three, four or more) -> the
        # length of the longest heard keyword starting with them: most places in a message start none and cost one
        # lookup.
        self._heads: tuple[dict[str, int], ...] = ({}, {}, {})
        for heard in self._words:
            for size, heads in zip((2, 3, 4), self._heads, strict=True):
                if len(heard) >= size:
                    heads[heard[:size]] = max(heads.get(heard[:size], 0), len(heard))

    def correct(
        self, text: str, is_word: Callable[[str], bool], cuts: Iterable[tuple[int, int]], shortest: int
    ) -> list[tuple[int, str]]:
        """Each homophone slip of a keyword in the text, as (where it starts, the keyword), as long as the slip.

        `is_word`: whether a stretch is a dictionary word; `cuts`: where jieba cut the text into words (a slip starts
        and ends at a cut); `shortest`: the fewest characters a keyword looked for has (2, 3 or 4: one of two
        characters sounding alike turns up by chance in a long message, 26楼水 is no 漏水; the classifier asks for
        2 only when the message holds no keyword, and for 4 when it holds several)."""
        heard = text.translate(self._table)
        inside: bytearray | None = None
        fixes: list[tuple[int, str]] = []
        # As many sounds alike as the shortest keyword asked for start a place worth a look (one lookup a character:
        # 2 µs for a short message, 25 µs for 300 characters).
        head = min(shortest, 4)
        heads = self._heads[head - 2]
        length = len(text)
        starts = [i for i in range(length - head + 1) if heard[i : i + head] in heads]
        done = 0
        for start in starts:
            if start < done:
                continue  # inside a keyword found or put right already
            end = min(start + heads[heard[start : start + head]], length)
            exact = next((stop for stop in range(end, start + 1, -1) if text[start:stop] in self._written), None)
            if exact is not None:
                done = exact  # a keyword as written: nothing to put right, and nothing over it
                continue
            if not any(heard[start:stop] in self._words for stop in range(end, start + shortest - 1, -1)):
                continue
            if inside is None:
                # where jieba cut inside a word of two characters or more: a slip does not start or end there
                inside = bytearray(length + 1)
                for s, e in cuts:
                    if e - s > 1 and is_word(text[s:e]):
                        inside[s + 1 : e] = b"\x01" * (e - s - 1)
            word = self._slip(text, heard, start, end, inside, is_word, shortest)
            if word is not None:
                fixes.append((start, word))
                done = start + len(word)
        return fixes

    def _slip(
        self,
        text: str,
        heard: str,
        start: int,
        longest: int,
        inside: bytearray,
        is_word: Callable[[str], bool],
        shortest: int,
    ) -> str | None:
        """The keyword the text at `start` is a slip of, trying the longest heard keyword there first."""
        for end in range(longest, start + shortest - 1, -1):
            candidates = self._words.get(heard[start:end])
            if candidates is None or inside[start] or inside[end]:
                continue
            written = text[start:end]
            if written in self._written or is_word(written):
                return None
            word = self._closest(written, candidates)
            if word is not None:
                return word
        return None

    @staticmethod
    def _closest(written: str, candidates: list[str]) -> str | None:
        """The keyword the stretch is a slip of: the one sharing the most characters with it, if few enough differ."""
        best, best_same = None, -1
        for word in candidates:
            same = sum(a == b for a, b in zip(word, written, strict=True))
            if same > best_same:
                best, best_same = word, same
        assert best is not None
        wrong = len(best) - best_same
        return best if 1 <= wrong <= (1 if len(best) < 4 else 2) else None


def _lines(path: Path) -> Iterable[tuple[str, str]]:
    """The file's lines "syllable characters", one per toneless syllable, each character under its usual one."""
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                syllable, chars = line.split()
                yield syllable, chars


def toneless(syllable: str) -> str:
    """lǜ -> lv, zhuāng -> zhuang."""
    bare = "".join(c for c in unicodedata.normalize("NFD", syllable) if not unicodedata.combining(c))
    return bare.replace("ü", "v").replace("u\u0308", "v")


def write_readings(path: Path = PINYIN_PATH) -> int:
    """Write the file from pypinyin's table (a development tool: `python -m nlp.homophones`); the number of
    characters."""
    from pypinyin.pinyin_dict import pinyin_dict  # type: ignore[import-untyped]

    usual: dict[str, list[str]] = {}
    for code in range(FIRST, LAST + 1):
        if said := pinyin_dict.get(code):
            usual.setdefault(toneless(said.split(",")[0]), []).append(chr(code))
    lines = ["# Each CJK character's usual toneless pinyin, from pypinyin: `python -m nlp.homophones` writes this."]
    lines += [f"{syllable} {''.join(chars)}" for syllable, chars in sorted(usual.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sum(map(len, usual.values()))


if __name__ == "__main__":
    print(f"{write_readings()} characters written to {PINYIN_PATH}", file=sys.stderr)
