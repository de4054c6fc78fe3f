"""Learn a taxonomy from labelled history: (message, label) rows -> weighted keywords per label, as taxonomy YAML.

What is learned is what `Classifier` reads, so a trained file is reviewed, edited and used like the bundled one:
1. Words. Every message is normalised and cut by our jieba tokenizer, plus the dictionary words inside long tokens
   (jieba's search mode: 医院 inside the 民医院 it cuts from "济民医院"). Readable words only: Chinese characters, or
   two or more latin letters; numbers and masked place codes (a3, k1) are dropped. A word must occur in
   `min_count` messages. Each message is then read the way the classifier will read it (a keyword counts once,
   the longer of two overlapping keywords wins, a substring jieba did not cut still matches), so the counts below
   are of what will match.
2. Statistic. For each label and word, the smoothed log-odds of the word in the label's messages against all other
   messages: log((a + s) / (n - a + s)) - log((b + s) / (m - b + s)), a of the label's n messages and b of the other
   m contain the word, s the smoothing pseudo-count. A label's keywords are its `keywords` words with the highest
   z-score (the log-odds over its standard error, so a word seen twice does not outrank one seen a hundred times
   at nearly the same odds; Monroe, Colaresi & Quinn 2008), or with `statistic="chi2"` the highest chi-square of
   the word/label 2x2 table, among words more frequent in the label than elsewhere. A keyword's starting weight is
   its log-odds: only positive evidence, because a taxonomy weight is a reason *for* a category.
   Counting is then repeated with the chosen keywords only (step 1's reading depends on the vocabulary).
3. Corrections. `passes` passes over the training rows, in a fixed shuffled order: when a message's label does
   not win by `margin`, its keywords gain `step` and the strongest other label's lose it (kept within 0.01..9.99,
   so a weight stays readable); the weights kept are the average over all steps (an averaged perceptron). Only
   weights change, never which words are keywords. This corrects what a per-word statistic cannot see: words that
   always come together, and labels that overlap.
Categories are ordered by how many rows carry the label (order breaks score ties). A label that is a category of
the default taxonomy (by name or code) keeps its code and resolve limit; others get an ASCII slug of the label or
c1..cN. A label "其他"/"other" becomes the fallback category; otherwise an empty `other` is added. The urgent
section is copied from the default taxonomy, so urgency still works; urgent words pointing to a category the trained
file lacks keep their urgency without a category preference.
"""

from __future__ import annotations

import dataclasses
import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import yaml

from nlp import reader as category_reader
from nlp.classifier import Classifier
from nlp.danger import DangerModel
from nlp.taxonomy import FALLBACK_CODE, Category, Taxonomy, UrgencyRules, normalize
from nlp.tokenizer import shared_tokenizer

if TYPE_CHECKING:
    import jieba

STATISTICS = ("logodds", "chi2")
FALLBACK_LABELS = frozenset({FALLBACK_CODE, "其他", "其它"})
# A correction never takes a keyword's weight to zero (the taxonomy rejects zero weights, and a reviewer would
# rather see a weak keyword than a silently dropped one), nor past two digits.
MIN_WEIGHT = 0.01
MAX_WEIGHT = 9.99
_READABLE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+|[a-z]{2,}")
_SLUG = re.compile(r"[a-z][a-z0-9_]{0,31}")


@dataclass(frozen=True)
class Options:
    """How to learn; the defaults are tuned by 5-fold cross-validation (docs/learning.md)."""

    statistic: str = "logodds"
    keywords: int = 300
    min_count: int = 2
    smoothing: float = 0.5
    passes: int = 5
    step: float = 0.3
    margin: float = 6.0
    seed: int = 0
    # the learned reader of categories (nlp/reader.py) beside the keywords, and its SVM's C
    reader: bool = True
    reader_c: float = 1.0

    def __post_init__(self) -> None:
        if self.statistic not in STATISTICS:
            raise ValueError(f"statistic must be one of {', '.join(STATISTICS)}, not {self.statistic!r}")
        if self.keywords < 1 or self.min_count < 1 or self.smoothing <= 0 or self.passes < 0 or self.step <= 0:
            raise ValueError("keywords and min_count must be >= 1, smoothing and step > 0, passes >= 0")
        if self.reader_c <= 0:
            raise ValueError("reader_c must be > 0")

    def describe(self) -> list[str]:
        """Lines for the trained file's header."""
        chosen = "z-score of the log-odds" if self.statistic == "logodds" else "chi-square"
        return [
            f"statistic: {self.statistic}; keywords: top {self.keywords} per label by {chosen}, among words in at "
            f"least {self.min_count} messages",
            f"weights: smoothed log-odds (pseudo-count {self.smoothing:g}), then {self.passes} averaged-perceptron "
            f"passes (step {self.step:g}, margin {self.margin:g}, seed {self.seed})",
            *(
                [
                    f"reader: a linear SVM per label (C={self.reader_c:g}) over TF-IDF of characters, character pairs "
                    "and [words]; it picks the category (nlp/reader.py)"
                ]
                if self.reader
                else []
            ),
        ]


@dataclass(frozen=True)
class Label:
    """One label of the history as it becomes a category."""

    text: str
    code: str
    name: str
    rows: int
    sla_hours: int
    keywords: dict[str, float] = field(default_factory=dict)
    # kept from the default taxonomy's category of the same name or code
    hint: tuple[str, ...] = ()
    sla_overrides: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Learned:
    """A trained taxonomy: categories in tie-break order, and the rules it keeps from the base taxonomy."""

    labels: tuple[Label, ...]
    rows: int
    options: Options
    urgency: UrgencyRules
    accept_minutes: int
    danger: DangerModel | None = None
    reader: category_reader.CategoryReader | None = None

    def code_to_label(self) -> dict[str, str]:
        """Category code -> the label text it was learned from (the fallback included)."""
        return {label.code: label.text for label in self.labels}

    def as_dict(self) -> dict[str, Any]:
        """The taxonomy YAML structure, as `Taxonomy.from_dict` reads it."""
        categories: list[dict[str, Any]] = []
        for label in self.labels:
            category: dict[str, Any] = {"code": label.code, "name": label.name, "sla_hours": label.sla_hours}
            if label.sla_overrides:
                category["sla_overrides"] = dict(label.sla_overrides)
            if label.hint:
                category["hint"] = list(label.hint)
            category["keywords"] = dict(label.keywords)
            categories.append(category)
        rules = self.urgency
        return {
            "version": 1,
            "accept_minutes": self.accept_minutes,
            "categories": categories,
            "urgent": {
                "hours": rules.hours,
                "accept_minutes": rules.accept_minutes,
                "boost": rules.boost,
                "keywords": rules.written_keywords(),
                "negations": list(rules.negations),
                "past_markers": list(rules.past_markers),
                "trailing": list(rules.trailing),
                "over_markers": list(rules.over_markers),
                "drills": list(rules.drills),
            },
            **({"danger": self.danger.as_dict()} if self.danger else {}),
            **({"reader": self.reader.as_dict()} if self.reader else {}),
        }

    def taxonomy(self) -> Taxonomy:
        """The trained taxonomy, as loading its YAML file would give it."""
        return Taxonomy.from_dict(self.as_dict(), source="<trained>")

    def to_yaml(self, source: str, trained_at: datetime) -> str:
        """The taxonomy file: a comment header saying how and when it was trained, then the YAML."""
        counts = ", ".join(f"{label.text} {label.rows}" for label in self.labels if label.rows)
        header = [
            f"Trained by `flask --app app nlp train` from {source} on {trained_at:%Y-%m-%d %H:%M %Z}".rstrip(),
            f"rows: {self.rows} ({counts})",
            *self.options.describe(),
            "Edit freely. The category whose keywords found in a message weigh most wins; a weight (0.01-9.99) starts",
            "as the word's log-odds for the category and is then corrected on the training rows. sla_hours come from",
            "the default taxonomy where a label is one of its categories, else from its 'other': set your own.",
            "The urgent section is a copy of the default taxonomy's.",
            *(
                [
                    "reader: where it knows any of a message, it picks the category: each category's bias plus its",
                    "weights of the message's characters, pairs and [words] (TF-IDF, idf below), the highest wins;",
                    "the keywords above and the features that weighed most (读出:…) explain it. Delete the section",
                    "to go by the keywords alone.",
                ]
                if self.reader
                else []
            ),
        ]
        body = yaml.safe_dump(self.as_dict(), allow_unicode=True, sort_keys=False, default_flow_style=False, width=120)
        return "".join(f"# {line}\n" for line in header) + body


def readable(word: str) -> bool:
    """Whether a word may be a keyword: Chinese characters only, or two or more latin letters."""
    return _READABLE.fullmatch(word) is not None


def learn(
    examples: Iterable[tuple[str, str]],
    base: Taxonomy,
    options: Options | None = None,
    tokenizer: jieba.Tokenizer | None = None,
) -> Learned:
    """Learn weighted keywords per label from (text, label) rows; rows with an empty text or label are skipped.

    `base` (normally the default taxonomy) supplies codes and resolve limits of labels it knows, and the urgent rules.
    """
    options = options or Options()
    tokenizer = tokenizer or shared_tokenizer()
    rows = [(normalize(text), label.strip()) for text, label in examples if normalize(text) and label.strip()]
    if not rows:
        raise ValueError("no rows with both a text and a label")
    counts = Counter(label for _, label in rows)
    if len(counts) < 2:
        raise ValueError("at least two different labels are needed")
    texts = [text for text, _ in rows]
    gold = [label for _, label in rows]
    order = sorted(counts, key=lambda label: -counts[label])

    cutter = reader((), tokenizer)
    seen = Counter(word for text in texts for word in candidate_words(text, cutter))
    vocabulary = {word for word, n in seen.items() if n >= options.min_count}
    chosen = choose_keywords(read_messages(texts, vocabulary, tokenizer), gold, order, options)
    # What matches depends on the vocabulary (a longer keyword hides the shorter ones inside it): count again
    # with only the chosen keywords, as the classifier will see them.
    docs = read_messages(texts, set().union(*chosen.values()), tokenizer)
    chosen = choose_keywords(docs, gold, order, options)
    weights = correct_weights(docs, gold, chosen, options)
    learned = _assemble(order, counts, weights, base, options, len(rows))
    if not options.reader:
        return learned
    codes = {label.text: label.code for label in learned.labels}
    read = [
        (category_reader.features(cutter.prepare(text), cutter.tokenize(text)), codes[label]) for text, label in rows
    ]
    model = category_reader.train(read, [label.code for label in learned.labels], c=options.reader_c)
    return dataclasses.replace(learned, reader=model)


def reader(vocabulary: Iterable[str], tokenizer: jieba.Tokenizer | None = None) -> Classifier:
    """A classifier with one category holding every vocabulary word: its keywords are all the words it matches."""
    everything = Category(code="all", name="all", sla_hours=1, keywords=dict.fromkeys(vocabulary, 1.0))
    fallback = Category(code=FALLBACK_CODE, name=FALLBACK_CODE, sla_hours=1)
    return Classifier(Taxonomy(categories=(everything, fallback), urgency=UrgencyRules()), tokenizer)


def candidate_words(text: str, classifier: Classifier) -> set[str]:
    """Readable words of a message: its tokens as the classifier cuts them, and dictionary words inside long ones."""
    dictionary = classifier.tokenizer.FREQ
    found: set[str] = set()
    for token in classifier.tokenize(text):
        found.add(token)
        # jieba's search mode: the dictionary words of 2 .. n-1 characters inside an n-character token
        for size in range(2, len(token)):
            found.update(
                token[i : i + size] for i in range(len(token) - size + 1) if dictionary.get(token[i : i + size])
            )
    return {word for word in found if readable(word)}


def read_messages(texts: Sequence[str], vocabulary: Iterable[str], tokenizer: jieba.Tokenizer) -> list[frozenset[str]]:
    """The vocabulary words the classifier finds in each text (its own matching, through its public API)."""
    matcher = reader(vocabulary, tokenizer)
    return [frozenset(matcher.classify(text).keywords) for text in texts]


def choose_keywords(
    docs: Sequence[frozenset[str]], gold: Sequence[str], order: Sequence[str], options: Options
) -> dict[str, dict[str, float]]:
    """Each label's keywords with their log-odds: the top `options.keywords` by the chosen statistic."""
    total = len(docs)
    rows = Counter(gold)
    with_word: dict[str, Counter[str]] = {label: Counter() for label in order}
    for words, label in zip(docs, gold, strict=True):
        with_word[label].update(words)
    anywhere: Counter[str] = Counter()
    for counter in with_word.values():
        anywhere.update(counter)
    s = options.smoothing
    chosen: dict[str, dict[str, float]] = {}
    for label in order:
        n, m = rows[label], total - rows[label]
        ranked: list[tuple[float, str, float]] = []
        for word, a in with_word[label].items():
            b = anywhere[word] - a
            log_odds = math.log((a + s) / (n - a + s)) - math.log((b + s) / (m - b + s))
            if log_odds <= 0:
                continue
            if options.statistic == "logodds":
                rank = log_odds / math.sqrt(1 / (a + s) + 1 / (n - a + s) + 1 / (b + s) + 1 / (m - b + s))
            else:
                rank = _chi_square(a, n - a, b, m - b)
            ranked.append((rank, word, log_odds))
        ranked.sort(key=lambda item: (-item[0], item[1]))
        chosen[label] = {word: log_odds for _, word, log_odds in ranked[: options.keywords]}
    return chosen


def _chi_square(a: int, b: int, c: int, d: int) -> float:
    """Pearson's chi-square of the 2x2 table [[a, b], [c, d]] (with the word / without, in the label / not)."""
    n = a + b + c + d
    denominator = (a + b) * (c + d) * (a + c) * (b + d)
    return n * (a * d - b * c) ** 2 / denominator if denominator else 0.0


def correct_weights(
    docs: Sequence[frozenset[str]], gold: Sequence[str], chosen: dict[str, dict[str, float]], options: Options
) -> dict[str, dict[str, float]]:
    """Averaged-perceptron corrections of the keyword weights; the set of keywords stays as chosen."""
    labels = list(chosen)
    weights = {label: dict(words) for label, words in chosen.items()}
    if options.passes == 0:
        return weights
    # Averaging without summing every weight at every step: keep, per weight, the step-weighted sum of its updates.
    updates: dict[str, dict[str, float]] = {label: {} for label in labels}
    for i, step_count in perceptron_steps(len(docs), options):
        words, label = docs[i], gold[i]
        scores = {other: math.fsum(weights[other].get(word, 0.0) for word in words) for other in labels}
        rival = max((other for other in labels if other != label), key=lambda other: scores[other])
        if scores[label] - scores[rival] < options.margin:
            for target, sign in ((label, 1.0), (rival, -1.0)):
                table, done = weights[target], updates[target]
                for word in words & table.keys():
                    old = table[word]
                    table[word] = min(MAX_WEIGHT, max(MIN_WEIGHT, old + sign * options.step))
                    done[word] = done.get(word, 0.0) + step_count * (table[word] - old)
    steps = options.passes * len(docs) + 1
    return {
        label: {word: weight - updates[label].get(word, 0.0) / steps for word, weight in weights[label].items()}
        for label in labels
    }


def perceptron_steps(rows: int, options: Options) -> Iterator[tuple[int, int]]:
    """(row, step number from 1) of each averaged-perceptron step: `passes` passes over the rows, each in an order
    shuffled with the fixed seed, so a run is repeatable. Averaged weights divide by passes * rows + 1."""
    sequence = list(range(rows))
    rng = random.Random(options.seed)
    step = 1
    for _ in range(options.passes):
        rng.shuffle(sequence)
        for i in sequence:
            yield i, step
            step += 1


def _assemble(
    order: Sequence[str],
    counts: Counter[str],
    weights: dict[str, dict[str, float]],
    base: Taxonomy,
    options: Options,
    rows: int,
) -> Learned:
    known = {c.name: c for c in base.categories} | {c.code: c for c in base.categories}
    fallback_hours = base.get(FALLBACK_CODE).sla_hours if FALLBACK_CODE in {c.code for c in base.categories} else 168
    codes = _codes(order, known)
    labels: list[Label] = []
    for label in order:
        category = known.get(label)
        keywords = {
            word: round(min(weight, MAX_WEIGHT), 2)
            for word, weight in sorted(weights[label].items(), key=lambda item: (-item[1], item[0]))
            if round(weight, 2) > 0
        }
        labels.append(
            Label(
                text=label,
                code=codes[label],
                name=category.name if category else label,
                rows=counts[label],
                sla_hours=category.sla_hours if category else fallback_hours,
                keywords=keywords,
                hint=category.hint if category else (),
                sla_overrides=dict(category.sla_overrides) if category else {},
            )
        )
    if FALLBACK_CODE not in codes.values():
        labels.append(Label(text="其他", code=FALLBACK_CODE, name="其他", rows=0, sla_hours=fallback_hours))
    present = {label.code for label in labels}
    rules = base.urgency
    urgency = UrgencyRules(
        hours=rules.hours,
        accept_minutes=rules.accept_minutes,
        boost=rules.boost,
        keywords={word: code if code in present else None for word, code in rules.keywords.items()},
        negations=rules.negations,
        past_markers=rules.past_markers,
        trailing=rules.trailing,
        over_markers=rules.over_markers,
        drills=rules.drills,
        context=rules.context,
        unless=rules.unless,
    )
    return Learned(
        labels=tuple(labels),
        rows=rows,
        options=options,
        urgency=urgency,
        accept_minutes=base.accept_minutes,
        danger=base.danger,
    )


def _codes(order: Sequence[str], known: dict[str, Category]) -> dict[str, str]:
    """Label -> category code: the default taxonomy's, "other" for the fallback, an ASCII slug, or c<position>."""
    codes: dict[str, str] = {}
    used: set[str] = set()
    for label in order:
        if normalize(label) in FALLBACK_LABELS:
            code = FALLBACK_CODE
        elif label in known:
            code = known[label].code
        else:
            code = normalize(label).replace("-", "_").replace(" ", "_")
        if (
            _SLUG.fullmatch(code) is None
            or code in used
            or (code == FALLBACK_CODE and normalize(label) not in FALLBACK_LABELS)
        ):
            code = ""
        codes[label] = code
        used.add(code)
    number = 0
    for label in order:
        if not codes[label]:
            number += 1
            while f"c{number}" in used:
                number += 1
            codes[label] = f"c{number}"
            used.add(codes[label])
    return codes
