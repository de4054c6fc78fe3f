"""The package's own jieba tokenizer, built once per process with the governance user dictionary."""

from __future__ import annotations

import logging
import threading
from math import log
from pathlib import Path

from nlp import heap
from nlp.thirdparty import jieba

USERDICT_PATH = Path(__file__).with_name("userdict.txt")
# jieba's bundled dictionary, by path (see nlp/thirdparty.py).
_JIEBA_DICT_PATH = Path(jieba.__file__).with_name("dict.txt")
# jieba's dictionary counts each of its 349,046 words in the corpus it was built from. The 221,000 it saw only two to
# five times (rare compounds, names, idioms: 嘈杂声, 齐河县, 慨然相助) hold most of the 75 MB it takes in every web and
# rq worker. Left out, they change little: jieba cuts such a word into the commoner words it is made of, and the
# classifier scores the same on the project's examples and the blind sets, and within a few rows of the same on the
# real messages (bench/RESULTS.md, "Classification speed and memory" and "Real messages"). Why 6 and not 4: the words
# kept and their prefixes are jieba's lookup table, one Python dict. At 4 it held 197,000 keys, past the 174,762
# (two thirds of 2**18) at which a dict doubles its hash table; at 6 it holds 167,000 and the classifier's share of a
# worker falls from 36 to 30 MiB, 28 MiB (29 MB) with its counts shared (_prefix_dict; issue 15 allows 30 MB). The
# governance user dictionary is loaded whole on top.
MIN_COUNT = 6

_lock = threading.Lock()
_shared: jieba.Tokenizer | None = None


def new_tokenizer(userdict: str | Path | None = USERDICT_PATH, min_count: int = MIN_COUNT) -> jieba.Tokenizer:
    """Build and initialise a private jieba tokenizer (never the global jieba.dt) from the words of jieba's
    dictionary counted at least `min_count` times (1: all of them) and the user dictionary."""
    # jieba logs "Building prefix dict..." at DEBUG to stderr on every load
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer(str(_JIEBA_DICT_PATH))
    # What Tokenizer.initialize() does, from the lines kept (it would read them all, or its cache of them all).
    tokenizer.FREQ, tokenizer.total = _prefix_dict(_JIEBA_DICT_PATH, min_count)
    tokenizer.initialized = True
    if userdict is not None:
        # jieba leaves a file it opened from a path unclosed (a ResourceWarning): hand it an open file instead
        with open(userdict, "rb") as f:
            tokenizer.load_userdict(f)
    return tokenizer


def _prefix_dict(path: Path, min_count: int) -> tuple[dict[str, int], int]:
    """jieba's lookup table (`Tokenizer.gen_pfdict`) from the words of its dictionary file counted at least
    `min_count` times: each word with its count, each prefix of a word that is no word itself with 0, and the sum
    of the counts. One difference: equal counts share one int object. jieba makes one per word; sharing them saves
    about 2.5 MB in every worker (30.3 -> 27.9 MiB; issue 15 allows the classifier 30 MB)."""
    table: dict[str, int] = {}
    counts: dict[int, int] = {}
    total = 0
    with open(path, encoding="utf-8") as f:  # lines "word count tag"
        for line in f:
            word, count, _ = line.split(" ", 2)
            number = int(count)
            if number < min_count:
                continue
            table[word] = counts.setdefault(number, number)
            total += number
            for end in range(1, len(word)):
                table.setdefault(word[:end], 0)
    return table, total


def shared_tokenizer() -> jieba.Tokenizer:
    """The process-wide tokenizer with the default user dictionary, loaded on first use."""
    global _shared
    if _shared is None:
        with _lock:
            if _shared is None:
                _shared = new_tokenizer()
                heap.release()  # the dictionary file's lines, read and dropped (nlp/heap.py)
    return _shared


# What jieba's cut() splits a text by: runs it segments, and the rest (spaces kept whole, other characters one by one).
_HAN = jieba.re_han_default
_SKIP = jieba.re_skip_default
_ENG = jieba.re_eng


def words(tokenizer: jieba.Tokenizer, text: str) -> list[tuple[str, int, int]]:
    """`list(tokenizer.tokenize(text, HMM=False))`, the same words at the same places, in about half the time.

    jieba builds a dict of every word that may start at each character, then a dict of the best route back from the
    end, scoring each step with a generator inside max(); that Python-level work is most of a message's
    classification time. Here the two passes are one loop over plain lists. The choice is jieba's: the highest sum of
    log frequencies, and of equal ones the longest first word (max over (score, end) pairs). tests/nlp/test_tokenizer.py
    holds it to jieba's own on generated and real texts.
    """
    tokenizer.check_initialized()  # a jieba.Tokenizer loads its dictionary on first use
    freq = tokenizer.FREQ
    logtotal = log(tokenizer.total)
    found: list[tuple[str, int, int]] = []
    at = 0
    for block in _HAN.split(text):
        if not block:
            continue
        if _HAN.match(block):
            for word in _route(block, freq, logtotal):
                found.append((word, at, at + len(word)))
                at += len(word)
            continue
        for part in _SKIP.split(block):
            if _SKIP.match(part):
                found.append((part, at, at + len(part)))
                at += len(part)
            else:
                for char in part:
                    found.append((char, at, at + 1))
                    at += 1
    return found


def _route(block: str, freq: dict[str, int], logtotal: float) -> list[str]:
    """jieba's __cut_DAG_NO_HMM of one block: the best route through the dictionary's words, single letters and
    digits run together."""
    size = len(block)
    score = [0.0] * (size + 1)
    last = list(range(size + 1))  # where the best word starting at each character ends (inclusive)
    for start in range(size - 1, -1, -1):
        best, end = None, start
        i = start
        fragment = block[start]
        while i < size and fragment in freq:
            count = freq[fragment]
            if count:
                value = log(count) - logtotal + score[i + 1]
                if best is None or value >= best:
                    best, end = value, i
            i += 1
            fragment = block[start : i + 1]
        if best is None:  # no word starts here: the character alone
            best = log(freq.get(block[start]) or 1) - logtotal + score[start + 1]
        score[start], last[start] = best, end
    cut: list[str] = []
    letters = ""
    start = 0
    while start < size:
        end = last[start] + 1
        word = block[start:end]
        if len(word) == 1 and _ENG.match(word):
            letters += word
        else:
            if letters:
                cut.append(letters)
                letters = ""
            cut.append(word)
        start = end
    if letters:
        cut.append(letters)
    return cut
