"""Keyword-weight classifier: text -> Intent (category, confidence, matched keywords, urgency)."""

from __future__ import annotations

import dataclasses
import math
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from nlp import reader as category_reader
from nlp.convert import to_simplified
from nlp.homophones import PINYIN_PATH, Homophones
from nlp.taxonomy import FALLBACK_CODE, Taxonomy, normalize
from nlp.tokenizer import shared_tokenizer, words

if TYPE_CHECKING:
    import jieba

# Clauses end at punctuation or spaces: a negation in one clause must not cancel danger reported in the next.
_DELIMITERS = "\\s,.;:!?，。；：！？、~～…\"'“”\u2018\u2019()（）【】\\[\\]"
_CLAUSE = re.compile(f"[^{_DELIMITERS}]+")
# Sentences end at full stops only: a past or hypothetical marker reaches over commas ("上个月，三楼着火了").
_SENTENCE_END = re.compile("[。！？!?;；\n]")
# "*" in an urgent keyword stands for up to this many characters of the same clause: 砸到*人 finds 砸到了一个路人.
_GAP = f"[^{_DELIMITERS}]{{0,4}}?"
# How far back (in characters) a multi-character negation may stand before an urgent keyword.
_MARKER_WINDOW = 8
# How far past its own length a trailing marker may stand after the danger word, in the same clause: 困人的安全隐患,
# 漏电和起火的风险.
_TRAILING_REACH = 4
# A trailing marker that starts with 的 ("的隐患", "的风险") may stand further off when everything between is what the
# danger would do, not an event ("有倒塌砸到居民楼的隐患"); 了, 快 or 救 between make it an event after all
# ("着火了快来人电线老化的隐患早就说过").
_MODIFIER_REACH = 10
_EVENT_MARKS = frozenset("了快救")
# How many tokens back a single-character negation (没/未/无/别) may stand: by token, so 别墅 is not 别.
_TOKEN_WINDOW = 2
# Single-character negations that also count at the end of a word (还没, 并未, 毫无, 并不); any other single
# character (别, 会, 怕) must be a word of its own, or 居委会 would defer a fire and 特别 deny one.
_SUFFIX_NEGATIONS = frozenset("没未无不")
# How an urgency the learned reader saw is named among the message's urgent keywords: 读出:打上+锄头.
LEARNED_PREFIX = "读出:"
# An over marker does not count with one of these up to this many characters before it (还没放出来了吗, 没能救出来,
# 正在救出来), nor with 快 or 要 right before it (快扑灭了: nearly; 很快就扑灭了 is over).
_OVER_NEGATION_REACH = 3
_NOT_OVER = frozenset("没未不还正")
_NEARLY = frozenset("快要")
# Within a few characters after an over marker, these say the danger goes on after all: "说修好了 又漏了",
# "扑灭了但还在冒烟".
_GOES_ON = ("又", "还在", "还是", "没修好", "没好", "没用")
_GOES_ON_REACH = 10
# Between a danger and an over marker in its own sentence, a time before now makes the marker another, earlier
# event's ("现在又困人了……上个月就坏过一回 说修好了"); 当时, 那天 and the like point back at the same one.
_EARLIER_TIMES = tuple(
    "上次 以前 之前 去年 前年 上个月 上周 上星期 上个星期 上礼拜 前几天 前段时间 昨天 前阵子".split()
)
# Words that hold a past or worry marker without meaning it: 好不容易 (with difficulty) is not 容易 (prone to).
# Each is masked where markers are looked for, keeping the text's length.
# So do comparisons: "比昨天还厉害" says how bad it is now, not when it was.
_NOT_MARKERS = (
    ("不容易", "不__易"),
    *((f"比{time}", "比" + "_" * len(time)) for time in ("昨天", "前天", "上次", "以前", "之前", "去年", "前几天")),
)
# Likewise for the exceptions of an urgent keyword: a range hood (油烟机), where a kitchen fire climbs, is not the
# cooking fumes (油烟) that make smoke no fire.
_NOT_EXCEPTIONS = (("油烟机", "__机"),)
# Grammar rather than vocabulary: between a past or hypothetical marker and the danger word, these bring it back to
# the present ("去年电梯困过人，现在又困人了").
# "还有个事" turns to another matter: a bill of 上个月 does not date the gas smell told after it.
_NOW = (
    *"现在 正在 还在 又在 刚才 刚刚 今天 今早 今晚 此刻 一直 这回又 这次又 这回 这次 这会儿 眼下 这两天".split(),
    "还有个事",
    "还有一件事",
)
# A gap keyword's own regex, by the keyword's first character: which keyword a match of the one big regex is.
_GapPatterns = dict[str, tuple[tuple[str, re.Pattern[str]], ...]]
# Scores are squashed so one weak keyword does not look certain: conf = share * (1 - exp(-top / _SCALE)).
_SCALE = 1.5
# "楼道里的灯", "公园里面的健身器材": the place and the thing are one keyword (楼道灯, 健身器材) once the
# "里(面)的" between them goes; residents write it that way far more often than the keyword's own form.
_INSIDE = re.compile(r"(?<=[\u4e00-\u9fff])里面?的(?=[\u4e00-\u9fff])")
# Pinyin initials residents type for a word they write often ("wy说邻里的事他们管不了"): read as the word, so its
# keywords and together rules see it. Only where no other Latin letter touches them (a "wysiwyg" stays as it is).
_INITIALS = re.compile(r"(?<![a-z])wy(?![a-z])")
# Hearsay before a danger, and the denials that put it right later in the same message (_hearsay_corrected).
_HEARSAY = ("群里说", "有人说", "听说", "说是", "都在传", "有人传")
_CORRECTIONS = ("没有", "没", "不是", "并没有", "根本没有", "根本没", "根本不是", "其实没有", "其实不是", "压根没有")
# "又" after a time that is now: a danger told as past ("发生过两次") that is happening again.
_RECURRENCE = re.compile(
    "(?:今天|今早|今晚|今日|刚才|刚刚|现在|此刻)(?:又|再次|再一次)|又(?:一次)?(?:发生|出现|产生|出事)"
)
# How many characters after the marker the danger's words may come: "今天又产生了电梯" reaches 电梯.
_RECURRENCE_REACH = 8
# The lead (Taxonomy.lead_chars) ends at the first full stop.
_LEAD_END = re.compile("[。！？!?；;\n]")


# Phone typos are looked for in a message with no keyword as written, and in one of at most this many characters
# (keywords of three characters or more with one keyword as written, of four or more with several). A longer one
# tells its story in more words than one, and the search would cost a 300-character message a tenth of its time.
_TYPO_REACH = 120


@dataclass(frozen=True)
class Intent:
    """What a resident's message is about, and why we think so."""

    category: str
    confidence: float
    keywords: tuple[str, ...]
    urgent: bool
    runner_up: str | None = None
    urgent_keywords: tuple[str, ...] = ()


# A word of the message as jieba cuts it: (word, start, end), the plain tuple jieba yields (making a named tuple of
# each cost a tenth of a 300-character message's classification).
_Token = tuple[str, int, int]


class _Together(NamedTuple):
    """A together rule of a category (its first word is the key it is filed under): any of `others` with it adds
    `weight` to the category at `position`."""

    position: int
    others: tuple[str, ...]
    weight: float
    others_found: re.Pattern[str]


@dataclass(frozen=True)
class _Danger:
    """One urgent keyword found in the text, and whether the text reports it as happening now."""

    word: str
    # what the text says: the keyword itself, or for a gap keyword the words it spans (砸到了一个路人 for 砸到*人)
    said: str
    start: int
    end: int
    now: bool
    # "没有着火": the message is not about a fire at all, so the word does not vote for a category either.
    denied: bool


class Classifier:
    """Scores text against a taxonomy's keyword weights; thread-safe after construction."""

    def __init__(self, taxonomy: Taxonomy, tokenizer: jieba.Tokenizer | None = None, *, simplify: bool = True) -> None:
        """`simplify=False` matches text as written, traditional characters and all (the benchmark's baseline)."""
        self.taxonomy = taxonomy
        self._tokenizer = tokenizer
        self._simplify = simplify
        self._lock = threading.Lock()
        self._codes = tuple(c.code for c in taxonomy.categories)
        index: dict[str, list[tuple[int, float]]] = {}
        for position, category in enumerate(taxonomy.categories):
            weights = dict(category.keywords)
            for word, weight in category.learned.items():
                weights[word] = weights.get(word, 0.0) + weight
            for word, weight in weights.items():
                index.setdefault(word, []).append((position, weight))
        self._index = {word: tuple(hits) for word, hits in index.items()}
        # The together rules by the first character of their first word: a message looks only at the rules whose
        # first word could be in it (a hundred rules cost a short message a fifth of its time when each was tried).
        # Within a character, by first word (found once however many rules start with it), in file order; each
        # rule's other words as one regex, so a rule whose other words are absent costs one search in C.
        grouped: dict[str, dict[str, list[_Together]]] = {}
        for position, category in enumerate(taxonomy.categories):
            for first, others, weight in category.together:
                found = re.compile("|".join(re.escape(w) for w in sorted(others, key=len, reverse=True)))
                rule = _Together(position, others, weight, found)
                grouped.setdefault(first[0], {}).setdefault(first, []).append(rule)
        self._together = {
            head: tuple((first, tuple(rules)) for first, rules in firsts.items()) for head, firsts in grouped.items()
        }
        self._together_heads = frozenset(self._together)
        # first two characters -> the lengths of the keywords starting with them, longest first: most pairs of
        # characters start no keyword and are skipped with one lookup
        sizes: dict[str, set[int]] = {}
        for word in self._index:
            if len(word) > 1:
                sizes.setdefault(word[:2], set()).add(len(word))
        self._sizes_from = {pair: tuple(sorted(found, reverse=True)) for pair, found in sizes.items()}
        rules = taxonomy.urgency
        self._urgent = rules.keywords
        self._urgent_context = rules.context
        self._urgent_unless = rules.unless
        self._urgent_pattern, self._urgent_gaps = _urgent_pattern(rules.keywords)
        self._single_negations = frozenset(m for m in rules.negations if len(m) == 1)
        self._multi_negations = tuple(m for m in rules.negations if len(m) > 1)
        self._single_past = frozenset(m for m in rules.past_markers if len(m) == 1)
        self._multi_past = tuple(m for m in rules.past_markers if len(m) > 1)
        # one regex for every trailing marker: a lone character right after the danger, a longer one up to
        # _TRAILING_REACH characters further ("着火隐患", "起火的风险")
        singles = "|".join(re.escape(m) for m in rules.trailing if len(m) == 1)
        longer = "|".join(re.escape(m) for m in sorted(rules.trailing, key=len, reverse=True) if len(m) > 1)
        alternatives = [f"(?:{singles})"] if singles else []
        alternatives += [f"[\\s\\S]{{0,{_TRAILING_REACH}}}?(?:{longer})"] if longer else []
        self._trailing = re.compile("|".join(alternatives)) if alternatives else None
        self._modifiers = tuple(m for m in rules.trailing if m.startswith("的"))
        self._drills = rules.drills
        self._danger = taxonomy.danger
        self._reader = taxonomy.reader
        # 扑灭了+火|烟: the marker ends only a danger whose words hold one of these (浇灭了 ends no gas smell)
        self._over_markers = tuple(
            (marker, tuple(w for w in needs.split("|") if w))
            for marker, _, needs in (written.partition("+") for written in rules.over_markers)
        )
        self._category_position = {code: i for i, code in enumerate(self._codes)}
        # The words whose phone typos are put right before matching (装休 -> 装修): keywords, together words and
        # urgent words (a gap keyword by its parts).
        vocabulary = set(self._index)
        for category in taxonomy.categories:
            for first, others, _ in category.together:
                vocabulary.update((first, *others))
        for word in self._urgent:
            vocabulary.update(word.split("*"))
        self._fix_typos = taxonomy.phone_typos
        self._homophones = Homophones(vocabulary, PINYIN_PATH) if self._fix_typos else Homophones((), None)

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
        """Words of the normalised, simplified text as this classifier sees them."""
        return [word for word, _, _ in self._read_text(self.prepare(text))[1]]

    def prepare(self, text: str) -> str:
        """The text as it is matched: NFKC, lower case, traditional characters made simplified, wy read as 物业."""
        text = normalize(text)
        text = to_simplified(text) if self._simplify else text
        text = _INITIALS.sub("物业", text) if "wy" in text else text
        return _INSIDE.sub("", text) if "里" in text else text

    def classify(self, text: str) -> Intent:
        """Classify one message."""
        text = self.prepare(text)
        if not text:
            return Intent(category=FALLBACK_CODE, confidence=0.0, keywords=(), urgent=False)
        text, tokens, hits = self._read_text(text)
        lead = self._lead_end(text)
        dangers = self._dangers(text, tokens, lead)
        scores = [0.0] * len(self._codes)
        matched: list[dict[str, float]] = [{} for _ in self._codes]
        first_seen: dict[str, int] = {}
        lead_weight = self.taxonomy.lead_weight
        for word, start, factor in self._counted(hits, dangers, lead):
            first_seen[word] = start
            for position, weight in self._index[word]:
                scores[position] += weight * factor
                matched[position][word] = weight

        # Words that mean more together (物业 with 押金: a money conflict with it), once per rule, shown as 物业+押金.
        # Both words in the lead (a subject line "物业多收的钱不退") count lead_weight times, as a keyword there does.
        for head in self._together_heads.intersection(text):
            for first, rules in self._together[head]:
                at = text.find(first)
                if at < 0:
                    continue
                for rule in rules:
                    if rule.others_found.search(text) is None:
                        continue
                    others = rule.others
                    in_lead = next((w for w in others if 0 <= text.find(w) < lead), None) if at < lead else None
                    other = in_lead or next(w for w in others if w in text)
                    scores[rule.position] += rule.weight * (lead_weight if in_lead else 1.0)
                    matched[rule.position][f"{first}+{other}"] = rule.weight
                    first_seen.setdefault(f"{first}+{other}", at)

        # Danger happening now pulls the message towards the category it belongs to, once per category.
        urgent_hits = [d for d in dangers if d.now]
        # No danger word at all: the learned reader may still see one ("拿锄头打上了"); a danger word the grammar
        # judged past, over, denied or hypothetical stays its judgement.
        learned = self._learned_danger(text) if not dangers else ()
        boost = self.taxonomy.urgency.boost
        boosted: set[int] = set()
        for danger in urgent_hits:
            code = self._urgent[danger.word]
            if code is None:
                continue
            position = self._category_position[code]
            if position not in boosted:
                boosted.add(position)
                scores[position] += boost * (lead_weight if danger.start < lead else 1.0)
            matched[position].setdefault(danger.said, boost)
            first_seen.setdefault(danger.said, danger.start)

        urgent_words = tuple(dict.fromkeys(d.said for d in urgent_hits)) + learned
        ranked = sorted(
            (i for i, s in enumerate(scores) if s > 0),
            key=lambda i: (-scores[i], i),
        )
        if not ranked:
            # A message with no keyword at all stays 其他 ("今天天气不错"), whatever the reader would say.
            return Intent(
                category=FALLBACK_CODE,
                confidence=0.0,
                keywords=(),
                urgent=bool(urgent_words),
                urgent_keywords=urgent_words,
            )
        best = ranked[0]
        top = scores[best]
        confidence = top / sum(scores) * (1.0 - math.exp(-top / _SCALE))
        # One with any is the reader's to place: every such message (a file `nlp train` wrote), or, beside written
        # keywords (`below`), one they are unsure of with no danger happening now (whose keywords and boost decide),
        # among the categories whose keywords come close to the top (`among`; docs/learning.md, "The reader beside
        # the keywords").
        if (reader := self._reader) is not None:
            close = (
                {self._codes[i] for i in ranked if scores[i] >= reader.among * top}
                if reader.below is not None and confidence < reader.below and not boosted
                else None
            )
            if reader.below is None or (close is not None and len(close) > 1):
                read = self._read(text, tokens, boosted, matched, first_seen, urgent_words, close)
                if read is not None:
                    return read
        words = matched[best]
        keywords = tuple(sorted(words, key=lambda w: (-words[w], first_seen.get(w, 0))))
        return Intent(
            category=self._codes[best],
            confidence=round(confidence, 3),
            keywords=keywords,
            urgent=bool(urgent_words),
            runner_up=self._codes[ranked[1]] if len(ranked) > 1 else None,
            urgent_keywords=urgent_words,
        )

    def _read(
        self,
        text: str,
        tokens: list[_Token],
        boosted: set[int],
        matched: list[dict[str, float]],
        first_seen: dict[str, int],
        urgent_words: tuple[str, ...],
        among: set[str] | None,
    ) -> Intent | None:
        """The category as the learned reader of categories picks it: the highest score, unless a danger happening
        now points to a category of its own. The explanation is the winner's keywords, then the features that
        weighed most as 读出:[物业]+小区. None when the reader knows none of the text, or when `among` (the keywords'
        near tie, beside written keywords) does not hold the category it prefers."""
        reader = self._reader
        assert reader is not None
        vector = reader.vector(category_reader.features(text, [word for word, _, _ in tokens]))
        if not vector:
            return None
        scores = reader.scores(vector)
        codes = reader.codes
        ranked = sorted(range(len(codes)), key=lambda i: (-scores[i], i))
        if among is not None and codes[ranked[0]] not in among:
            return None
        danger_codes = [self._codes[position] for position in sorted(boosted)]
        best = next((codes.index(code) for code in danger_codes if code in codes), ranked[0])
        runner_up = next(i for i in ranked if i != best) if len(ranked) > 1 else None
        code = codes[best]
        words = matched[self._category_position[code]]
        keywords = tuple(sorted(words, key=lambda w: (-words[w], first_seen.get(w, 0))))
        evidence = reader.evidence(vector, code)
        return Intent(
            category=code,
            confidence=round(category_reader.shares(scores)[best], 3),
            keywords=keywords + ((LEARNED_PREFIX + "+".join(evidence),) if evidence else ()),
            urgent=bool(urgent_words),
            runner_up=codes[runner_up] if runner_up is not None else None,
            urgent_keywords=urgent_words,
        )

    def _learned_danger(self, text: str) -> tuple[str, ...]:
        """The character pairs that made the learned reader call the text urgent, shown as 读出:打上+锄头; none when
        there is no learned reader or it does not."""
        model = self._danger
        if model is None or model.probability(text) < model.threshold:
            return ()
        return (LEARNED_PREFIX + "+".join(model.evidence(text)),)

    def evidence(self, text: str) -> dict[str, float]:
        """Each keyword the text holds, with how many times it counts (the lead's weight, or 1): what the category
        scores add up, without the urgency boost. Denied dangers count for nothing, as in `classify`."""
        text = self.prepare(text)
        if not text:
            return {}
        text, tokens, hits = self._read_text(text)
        lead = self._lead_end(text)
        counted = self._counted(hits, self._dangers(text, tokens, lead), lead)
        return {word: factor for word, _, factor in counted}

    def _counted(
        self, hits: list[tuple[str, int, int]], dangers: list[_Danger], lead: int
    ) -> Iterator[tuple[str, int, float]]:
        """The keywords that count, with where each starts and how many times it counts: every keyword hit except
        those inside a denied danger ("没有着火"), the lead's at lead_weight."""
        denied = [(d.start, d.end) for d in dangers if d.denied]
        lead_weight = self.taxonomy.lead_weight
        for word, start, end in hits:
            if not (denied and any(s <= start and end <= e for s, e in denied)):
                yield word, start, lead_weight if start < lead else 1.0

    def _lead_end(self, text: str) -> int:
        """Where the lead ends: at the first full stop when it comes within lead_chars, else there is no lead."""
        stop = _LEAD_END.search(text, 0, self.taxonomy.lead_chars)
        return stop.start() if stop else 0

    def _read_text(self, text: str) -> tuple[str, list[_Token], list[tuple[str, int, int]]]:
        """The prepared text with its keywords' phone typos put right (nlp/homophones.py), its words and its
        keywords (_keyword_hits)."""
        tokens = self._tokens(text)
        hits = self._keyword_hits(text, tokens)
        if not self._fix_typos or (hits and len(text) > _TYPO_REACH):
            return text, tokens, hits
        # Where one word decides, every keyword's slips; where several do, only those of a keyword of four characters
        # or more (消房通道), which no chance likeness makes.
        shortest = 2 if not hits else 3 if len(hits) == 1 else 4
        freq = self.tokenizer.FREQ
        cuts = ((start, end) for _, start, end in tokens)
        fixes = self._homophones.correct(text, lambda w: freq.get(w, 0) > 0, cuts, shortest)
        if not fixes:
            return text, tokens, hits
        # A slip starts and ends where jieba cut, so the words it spans become the keyword, and the rest stand (jieba
        # again on the whole text cost a 300-character message a third of its time).
        chars = list(text)
        for start, word in fixes:
            end = start + len(word)
            chars[start:end] = word
            tokens = [t for t in tokens if t[2] <= start or t[1] >= end] + [(word, start, end)]
            hits = [h for h in hits if h[2] <= start or h[1] >= end]
            if word in self._index and all(h[0] != word for h in hits):
                hits.append((word, start, end))
        tokens.sort(key=lambda t: t[1])
        hits.sort(key=lambda h: h[1])
        return "".join(chars), tokens, hits

    def _tokens(self, text: str) -> list[_Token]:
        # Dictionary words only (HMM off). jieba's HMM guesses words for runs of characters its dictionary (ours
        # included) does not know; the substring scan in _keyword_hits finds multi-character keywords however jieba
        # cuts, so the guesses mostly cost time. Measured on the dev set (bench quality): accuracy 0.965 with HMM
        # off against 0.964 on, urgency unchanged; and about a quarter less time (bench speed). jieba's own cut
        # without HMM, in a faster loop (nlp/tokenizer.words).
        return words(self.tokenizer, text)

    def _keyword_hits(self, text: str, tokens: list[_Token]) -> list[tuple[str, int, int]]:
        """Distinct keywords in the text with their first span; each stretch of text counts once."""
        index = self._index
        spans: dict[str, tuple[int, int]] = {}
        for word, start, end in tokens:
            if word in index and word not in spans:
                spans[word] = (start, end)
        # Multi-character keywords jieba did not cut out as one token ("楼道|灯不亮" for 楼道灯). A longer keyword
        # replaces the token keywords it contains; one that only straddles a token keyword loses to it, so 停电 is
        # not found in "停|电动车" while 电动车 is a keyword.
        length = len(text)
        sizes_from = self._sizes_from
        starts = [i for i in range(length - 1) if text[i : i + 2] in sizes_from]
        if not starts:
            return sorted(((word, s, e) for word, (s, e) in spans.items()), key=lambda item: item[1])
        # which kept span covers each character (a keyword's first span only, as `spans` holds)
        owner: list[str | None] = [None] * length
        for word, (s, e) in spans.items():
            owner[s:e] = [word] * (e - s)
        for i in starts:
            for size in sizes_from[text[i : i + 2]]:
                end = i + size
                if end > length:
                    continue
                word = text[i:end]
                if word not in index or word in spans:
                    continue
                overlapping = {other for other in owner[i:end] if other is not None}
                if any(spans[other][0] < i or spans[other][1] > end for other in overlapping):
                    continue  # it only straddles a keyword kept: that one wins
                for other in overlapping:
                    s, e = spans.pop(other)
                    owner[s:e] = [None] * (e - s)
                spans[word] = (i, end)
                owner[i:end] = [word] * size
        return sorted(((word, s, e) for word, (s, e) in spans.items()), key=lambda item: item[1])

    def _dangers(self, text: str, tokens: list[_Token], lead: int) -> list[_Danger]:
        """Every urgent keyword in the text (the first time each is seen), judged as happening now or not."""
        if self._urgent_pattern is None:
            return []
        found: dict[str, _Danger] = {}
        past_here: tuple[str, ...] | None = None
        over_here: tuple[tuple[str, tuple[str, ...]], ...] = ()
        marked = excepted = text  # the text without words that only hold a marker (好不容易) or an exception (油烟机)
        pattern = self._urgent_pattern
        position = 0
        # A subject line names the danger without a time ("楼上厨房着火把我家熏黑了。上个月十八号晚上……着火了"): where
        # the body tells the same danger again, the body says when. Each such word: whether any body mention is now.
        told_again: dict[str, bool] = {}
        # Longest keyword first where they overlap. A match refused (its word nearby missing, an exception present)
        # gives its characters back from the next one: "往外冒烟" is 冒烟 when 往外冒 wants water near it.
        while (match := pattern.search(text, position)) is not None:
            position = match.end()
            if past_here is None:
                marked, excepted = _masked(text, _NOT_MARKERS), _masked(text, _NOT_EXCEPTIONS)
                # the markers this text holds at all: looked for once, not once per danger word
                past_here = tuple(marker for marker in self._multi_past if marker in marked)
                over_here = tuple(over for over in self._over_markers if over[0] in text)
            word = self._urgent_word(match.group())
            start, end = match.span()
            retold = word in found and found[word].now and found[word].start < lead <= start
            if word in found and found[word].now and (not retold or told_again.get(word)):
                continue
            said = match.group()
            if near := self._urgent_context.get(word):
                named = _near(text, start, end, near)
                if named is None:
                    position = start + 1
                    continue
                if named not in said:  # 一股煤气味 says it already
                    said = f"{named}+{said}"  # shown as 燃气+闻到味, as a together rule shows 物业+押金
            if (unless := self._urgent_unless.get(word)) and _near(excepted, start, end, unless):
                # an exception is a judgement too (雨水井往外冒黑水 is a street drain, not a flat flooding): kept as not
                # now, so that the learned reader does not overrule it
                if retold:
                    told_again.setdefault(word, False)
                found.setdefault(word, _Danger(word, said, start, end, now=False, denied=False))
                position = start + 1
                continue
            clause_start, clause_end = _clause_around(text, start, end)
            # "会不会倒塌" is a worry about a collapse (the message is about one), not a denial of it
            displaced = self._displaced(marked, tokens, start, end, clause_end, past_here) or bool(
                self._drills and _in_sentence(text, start, end, self._drills)
            )
            denied = not displaced and self._denied(text, tokens, clause_start, start, word, match.group())
            now = not displaced and not denied and not (over_here and self._over(text, end, said, over_here))
            if retold:
                told_again[word] = told_again.get(word, False) or now
            elif word not in found or now:
                found[word] = _Danger(word, said, start, end, now, denied)
        for word, now in told_again.items():
            if not now:
                found[word] = dataclasses.replace(found[word], now=False)
        for word, danger in found.items():
            if not danger.now and not danger.denied and _recurs_now(text, danger):
                found[word] = dataclasses.replace(danger, now=True)
            elif danger.now and _hearsay_corrected(text, danger):
                found[word] = dataclasses.replace(danger, now=False)
        return sorted(found.values(), key=lambda d: d.start)

    def _urgent_word(self, matched: str) -> str:
        if matched in self._urgent:
            return matched
        # a gap keyword: its first character narrows the candidates to a few
        return next(word for word, pattern in self._urgent_gaps.get(matched[0], ()) if pattern.fullmatch(matched))

    def _denied(self, text: str, tokens: list[_Token], clause_start: int, start: int, word: str, said: str) -> bool:
        """A negation stands just before the danger word in its clause ("没有着火", "差点砸到人"), or inside the
        gap of a gap keyword (家里也没进水 for 家里*进水, 水管不会爆 for 水管*爆)."""
        if "*" in word:
            parts = word.split("*")
            at = len(parts[0])
            for part in parts[1:]:
                found = said.index(part, at)
                gap = said[at:found]
                if any(c in self._single_negations for c in gap) or any(m in gap for m in self._multi_negations):
                    return True
                at = found + len(part)
        before = text[max(clause_start, start - _MARKER_WINDOW) : start]
        if any(marker in before for marker in self._multi_negations):
            return True
        preceding: list[str] = []
        for word, token_start, token_end in tokens:
            if token_start >= start:
                break
            if token_end > start:
                # the keyword starts inside this token (没|有人受伤 cut as 没有|人|受伤): look at the part before it
                preceding.append(text[token_start:start])
            elif token_start >= clause_start:
                preceding.append(word)
        singles = self._single_negations
        return any(
            piece in singles or (piece[-1:] in singles and piece[-1:] in _SUFFIX_NEGATIONS)
            for piece in preceding[-_TOKEN_WINDOW:]
        )

    def _over(self, text: str, end: int, said: str, markers: tuple[tuple[str, tuple[str, ...]], ...]) -> bool:
        """The danger is told as over: after it, in its sentence or the next, a marker such as 放出来 or 扑灭 that
        ends this kind of danger, with nothing right before it that turns it round ("后来物业来了才放出来", not
        "还没放出来" or "快扑灭了") and nothing after it that says it goes on ("说修好了 又漏了"). A past marker between
        the two makes it another, earlier event ("着火了。上次的火是保安扑灭了的", "现在又困人了……上个月就坏过一回
        说修好了")."""
        first = _SENTENCE_END.search(text, end)
        first_end = first.end() if first else len(text)
        second = _SENTENCE_END.search(text, first_end)
        stop = second.start() if second else len(text)
        for marker, needs in markers:
            if needs and not any(word in said for word in needs):
                continue
            at = text.find(marker, end, stop)
            while at >= 0:
                before = text[max(end, at - _OVER_NEGATION_REACH) : at]
                earlier = (at >= first_end and any(past in text[first_end:at] for past in self._multi_past)) or any(
                    time in text[end:at] for time in _EARLIER_TIMES
                )
                after = text[at + len(marker) : min(stop, at + len(marker) + _GOES_ON_REACH)]
                going_on = any(word in after for word in _GOES_ON)
                if not (earlier or going_on or before[-1:] in _NEARLY or any(c in _NOT_OVER for c in before)):
                    return True
                at = text.find(marker, at + 1, stop)
        return False

    def _displaced(
        self, text: str, tokens: list[_Token], start: int, end: int, clause_end: int, past_here: tuple[str, ...]
    ) -> bool:
        """The danger is past, habitual, feared or hypothetical, or named as a risk or a topic, not an event."""
        after = text[end:clause_end]
        # "着火隐患" / "起火的风险" / "着火的事" name a risk or a topic; a lone 过 ("泄漏过") only right after
        if self._trailing is not None and self._trailing.match(after):
            return True
        for marker in self._modifiers:
            at = after.find(marker, 0, len(marker) + _MODIFIER_REACH)
            if at >= 0 and not any(c in _EVENT_MARKS for c in after[:at]):
                return True
        sentence_start = _sentence_start(text, start)
        # the whole match counts as "before": a gap pattern may hold the marker (水管以前爆过 for 水管*爆)
        region = text[sentence_start:end]
        last = -1
        for marker in past_here:
            at = region.rfind(marker)
            if at >= 0:
                last = max(last, sentence_start + at + len(marker))
        if self._single_past:
            for word, token_start, token_end in tokens:
                if token_start >= end:
                    break
                if token_start >= sentence_start and word in self._single_past:
                    last = max(last, token_end)
        if last < 0:
            return False
        between = text[last:start]
        return not any(word in between for word in _NOW)


def _urgent_pattern(keywords: dict[str, str | None]) -> tuple[re.Pattern[str] | None, _GapPatterns]:
    """One regex for every urgent keyword, longest first, plus each gap keyword's own regex to name a match.

    No capture groups: with them the regex engine loses its first-character prefilter and runs ~70x slower.
    """
    if not keywords:
        return None, {}
    ordered = sorted(keywords, key=lambda w: (-len(w.replace("*", "")), w))
    gaps: _GapPatterns = {}
    for word in ordered:
        if "*" in word:
            body = _GAP.join(re.escape(part) for part in word.split("*"))
            gaps[word[0]] = (*gaps.get(word[0], ()), (word, re.compile(body)))
    # Grouped by first character, each group in the same order: the engine tries only the keywords that start with
    # the character it stands on (all of them, one after another, when they are one flat list), and the first to
    # match is the same one. With 400 keywords this keeps urgency at a few percent of a message's time.
    groups: dict[str, list[str]] = {}
    for word in ordered:
        head, *rest = word.split("*")
        groups.setdefault(head[0], []).append(_GAP.join(re.escape(part) for part in (head[1:], *rest)))
    alternatives = [
        re.escape(first) + (tails[0] if len(tails) == 1 else f"(?:{'|'.join(tails)})")
        for first, tails in groups.items()
    ]
    return re.compile("|".join(alternatives)), gaps


def _hearsay_corrected(text: str, danger: _Danger) -> bool:
    """Hearsay the message itself puts right: "群里说3栋着火了，我下楼看了……没有着火". The danger follows a hearsay
    marker in its clause, and the same words come again later in a clause that opens with a denial of them."""
    clause_start, _ = _clause_around(text, danger.start, danger.end)
    if not any(marker in text[clause_start : danger.start] for marker in _HEARSAY):
        return False
    said = text[danger.start : danger.end]
    at = text.find(said, danger.end)
    while at >= 0:
        # the denial opens its clause ("，没有着火，"): "我家这边没有着火" says where it is not, and corrects nothing
        begins, _ = _clause_around(text, at, at + len(said))
        if text[begins:at].strip() in _CORRECTIONS:
            return True
        at = text.find(said, at + 1)
    return False


def _recurs_now(text: str, danger: _Danger) -> bool:
    """A past danger that happens again today: "电梯困过人……今天又产生了电梯困人". A recurrence marker after the
    danger, followed closely by two characters of what the danger said, brings it back to the present."""
    pieces = {danger.said[i : i + 2] for i in range(len(danger.said) - 1)}
    for marker in _RECURRENCE.finditer(text, danger.end):
        following = text[marker.end() : marker.end() + _RECURRENCE_REACH]
        if any(piece in following for piece in pieces):
            return True
    return False


def _masked(text: str, words: tuple[tuple[str, str], ...]) -> str:
    """The text with each word replaced by its mask of the same length."""
    for word, mask in words:
        if word in text:
            text = text.replace(word, mask)
    return text


def _in_sentence(text: str, start: int, end: int, words: tuple[str, ...]) -> bool:
    """One of the words stands in the sentence of text[start:end]."""
    stop = _SENTENCE_END.search(text, end)
    sentence = text[_sentence_start(text, start) : stop.start() if stop else len(text)]
    return any(word in sentence for word in words)


def _near(text: str, start: int, end: int, words: tuple[str, ...]) -> str | None:
    """The first of the words that stands in the sentence of text[start:end] or in the sentence before it."""
    sentence_start = _sentence_start(text, start)
    stop = _SENTENCE_END.search(text, end)
    region = text[_sentence_start(text, sentence_start - 1) if sentence_start else 0 : stop.end() if stop else None]
    return next((word for word in words if word in region), None)


def _clause_around(text: str, start: int, end: int) -> tuple[int, int]:
    for clause in _CLAUSE.finditer(text):
        if clause.start() <= start < clause.end():
            return clause.start(), max(clause.end(), end)
    return start, end


def _sentence_start(text: str, position: int) -> int:
    last = 0
    for stop in _SENTENCE_END.finditer(text, 0, position):
        last = stop.end()
    return last
