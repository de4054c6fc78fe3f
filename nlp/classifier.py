"""Keyword-weight classifier: text -> Intent (category, confidence, matched keywords, urgency)."""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nlp.taxonomy import FALLBACK_CODE, Taxonomy, normalize
from nlp.tokenizer import shared_tokenizer

if TYPE_CHECKING:
    import jieba

# Clauses end at punctuation or spaces: a negation in one clause must not cancel danger reported in the next.
_CLAUSE = re.compile("[^\\s,.;:!?，。；：！？、~～…\"'“”\u2018\u2019()（）【】\\[\\]]+")
# How far back (in characters) a multi-character negation / past marker may stand before an urgent keyword.
_MARKER_WINDOW = 8
# How many tokens back a single-character negation (没/未/无/别) may stand: by token, so 别墅 is not 别.
_TOKEN_WINDOW = 2
# Scores are squashed so one weak keyword does not look certain: conf = share * (1 - exp(-top / _SCALE)).
_SCALE = 1.5


@dataclass(frozen=True)
class Intent:
    """What a resident's message is about, and why we think so."""

    category: str
    confidence: float
    keywords: tuple[str, ...]
    urgent: bool
    runner_up: str | None = None
    urgent_keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Token:
    word: str
    start: int
    end: int


class Classifier:
    """Scores text against a taxonomy's keyword weights; thread-safe after construction."""

    def __init__(self, taxonomy: Taxonomy, tokenizer: jieba.Tokenizer | None = None) -> None:
        self.taxonomy = taxonomy
        self._tokenizer = tokenizer
        self._lock = threading.Lock()
        self._codes = tuple(c.code for c in taxonomy.categories)
        index: dict[str, list[tuple[int, float]]] = {}
        for position, category in enumerate(taxonomy.categories):
            for word, weight in category.keywords.items():
                index.setdefault(word, []).append((position, weight))
        self._index = {word: tuple(hits) for word, hits in index.items()}
        self._max_len = max((len(w) for w in self._index), default=1)
        rules = taxonomy.urgency
        self._urgent = rules.keywords
        self._urgent_max_len = max((len(w) for w in self._urgent), default=1)
        self._urgent_min_len = min((len(w) for w in self._urgent), default=1)
        self._single_negations = frozenset(m for m in rules.negations + rules.past_markers if len(m) == 1)
        self._multi_negations = tuple(m for m in rules.negations + rules.past_markers if len(m) > 1)
        self._trailing = rules.trailing
        self._category_position = {code: i for i, code in enumerate(self._codes)}

    @classmethod
    def from_file(cls, path: str | Path, tokenizer: jieba.Tokenizer | None = None) -> Classifier:
        """A classifier for a custom taxonomy YAML file."""
        return cls(Taxonomy.from_file(path), tokenizer)

    @property
    def tokenizer(self) -> jieba.Tokenizer:
        """The jieba tokenizer in use, loaded on first access."""
        if self._tokenizer is None:
            with self._lock:
                if self._tokenizer is None:
                    self._tokenizer = shared_tokenizer()
        return self._tokenizer

    def tokenize(self, text: str) -> list[str]:
        """Words of the normalised text as this classifier sees them."""
        return [t.word for t in self._tokens(normalize(text))]

    def classify(self, text: str) -> Intent:
        """Classify one message."""
        text = normalize(text)
        if not text:
            return Intent(category=FALLBACK_CODE, confidence=0.0, keywords=(), urgent=False)
        tokens = self._tokens(text)
        scores = [0.0] * len(self._codes)
        matched: list[dict[str, float]] = [{} for _ in self._codes]
        first_seen: dict[str, int] = {}
        for word, start in self._keyword_hits(text, tokens):
            first_seen[word] = start
            for position, weight in self._index[word]:
                scores[position] += weight
                matched[position][word] = weight

        urgent_hits = self._urgent_hits(text, tokens)
        boost = self.taxonomy.urgency.boost
        for word, start in urgent_hits:
            code = self._urgent[word]
            if code is None:
                continue
            position = self._category_position[code]
            if word not in matched[position]:
                scores[position] += boost
                matched[position][word] = boost
                first_seen.setdefault(word, start)

        ranked = sorted(
            (i for i, s in enumerate(scores) if s > 0),
            key=lambda i: (-scores[i], i),
        )
        urgent_words = tuple(w for w, _ in urgent_hits)
        if not ranked:
            return Intent(
                category=FALLBACK_CODE,
                confidence=0.0,
                keywords=(),
                urgent=bool(urgent_hits),
                urgent_keywords=urgent_words,
            )
        best = ranked[0]
        top = scores[best]
        confidence = top / sum(scores) * (1.0 - math.exp(-top / _SCALE))
        words = matched[best]
        keywords = tuple(sorted(words, key=lambda w: (-words[w], first_seen.get(w, 0))))
        return Intent(
            category=self._codes[best],
            confidence=round(confidence, 3),
            keywords=keywords,
            urgent=bool(urgent_hits),
            runner_up=self._codes[ranked[1]] if len(ranked) > 1 else None,
            urgent_keywords=urgent_words,
        )

    def _tokens(self, text: str) -> list[_Token]:
        return [_Token(w, s, e) for w, s, e in self.tokenizer.tokenize(text, HMM=True)]

    def _keyword_hits(self, text: str, tokens: list[_Token]) -> list[tuple[str, int]]:
        """Distinct keywords in the text with their first position; each stretch of text counts once."""
        index = self._index
        spans: dict[str, tuple[int, int]] = {}
        for token in tokens:
            if token.word in index and token.word not in spans:
                spans[token.word] = (token.start, token.end)
        # Multi-character keywords jieba did not cut out as one token ("楼道|灯不亮" for 楼道灯). A longer keyword
        # replaces the token keywords it contains; one that only straddles a token keyword loses to it, so 停电 is
        # not found in "停|电动车" while 电动车 is a keyword.
        length = len(text)
        for i in range(length):
            for size in range(min(self._max_len, length - i), 1, -1):
                word = text[i : i + size]
                if word not in index or word in spans:
                    continue
                end = i + size
                inside: list[str] = []
                blocked = False
                for other, (s, e) in spans.items():
                    if e <= i or s >= end:
                        continue
                    if i <= s and e <= end:
                        inside.append(other)
                    else:
                        blocked = True
                        break
                if blocked:
                    continue
                for other in inside:
                    del spans[other]
                spans[word] = (i, end)
        return sorted(((word, span[0]) for word, span in spans.items()), key=lambda item: item[1])

    def _urgent_hits(self, text: str, tokens: list[_Token]) -> list[tuple[str, int]]:
        """Urgent keywords not cancelled by a negation, worry or past marker before them in the same clause."""
        if not self._urgent:
            return []
        hits: dict[str, int] = {}
        for clause in _CLAUSE.finditer(text):
            start, end = clause.span()
            i = start
            while i < end:
                found = None
                for size in range(min(self._urgent_max_len, end - i), self._urgent_min_len - 1, -1):
                    if text[i : i + size] in self._urgent:
                        found = text[i : i + size]
                        break
                if found is None:
                    i += 1
                    continue
                if found not in hits and not self._cancelled(text, tokens, start, i, i + len(found), end):
                    hits[found] = i
                i += len(found)
        return sorted(hits.items(), key=lambda item: item[1])

    def _cancelled(
        self, text: str, tokens: list[_Token], clause_start: int, start: int, end: int, clause_end: int
    ) -> bool:
        before = text[max(clause_start, start - _MARKER_WINDOW) : start]
        if any(marker in before for marker in self._multi_negations):
            return True
        after = text[end:clause_end]
        # "着火隐患" / "起火的风险" name a risk, not a fire
        if any(marker in after[: len(marker) + 2] for marker in self._trailing):
            return True
        preceding: list[str] = []
        for token in tokens:
            if token.start >= start:
                break
            if token.end > start:
                # the keyword starts inside this token (没|有人受伤 cut as 没有|人|受伤): look at the part before it
                preceding.append(text[token.start : start])
            elif token.start >= clause_start:
                preceding.append(token.word)
        recent = preceding[-_TOKEN_WINDOW:]
        return any(piece in self._single_negations or piece[-1:] in self._single_negations for piece in recent)
