"""Tune a hand-written taxonomy on labelled messages: learned weights added to the written ones, kept readable.

`nlp/learn.py` builds a taxonomy from nothing but history (a city's own labels). This module starts from the
taxonomy people wrote, which already encodes the boundary rules, and adds what labelled messages teach it:
1. Candidates. Every readable word of the messages (as `learn.candidate_words` cuts them) seen in `min_count`
   messages, and every written keyword. Each message is read as the classifier reads it (`Classifier.evidence`:
   the longer of two overlapping keywords wins, the lead counts `lead_weight` times, a denied danger not at all).
   A category's candidates are its `keywords` words with the highest z-score of the log-odds (learn.choose_keywords).
2. Weights. Averaged-perceptron passes over the rows, in a fixed shuffled order. A message is scored as the
   classifier scores it: written weight plus learned weight of each keyword found, times its lead factor. When its
   own category does not win by `margin`, the category's candidates found in it gain `step` (times the lead factor)
   and the strongest rival's learned weights found in it lose as much, never below zero. Written weights never
   change: a learned weight only ever adds a reason, and a person can delete it.
3. Output. The `learned:` section of the taxonomy file: per category, word -> weight (rounded, the smallest
   dropped), written by `flask --app app nlp tune` under a header saying what it was tuned on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import yaml

from nlp.classifier import Classifier
from nlp.learn import Options, candidate_words, choose_keywords, perceptron_steps, reader
from nlp.taxonomy import FALLBACK_CODE, Category, Taxonomy, normalize

if TYPE_CHECKING:
    import jieba

# A learned weight below this is noise and is not written.
SMALLEST = 0.05


# Tuning's defaults, chosen by 5-fold cross-validation on real messages (docs/learning.md): fewer candidates and a
# smaller margin than `nlp train`, since the written keywords already carry most of the weight.
DEFAULTS = Options(keywords=60, margin=2.0)


def describe(options: Options) -> str:
    """A line for the learned section's header."""
    return (
        f"candidates: top {options.keywords} words per category by the z-score of the log-odds, among words in at "
        f"least {options.min_count} messages; {options.passes} averaged-perceptron passes (step {options.step:g}, "
        f"margin {options.margin:g}, seed {options.seed})"
    )


def without_learned(taxonomy: Taxonomy) -> Taxonomy:
    """The taxonomy as people wrote it: every learned weight removed."""
    return dataclasses.replace(
        taxonomy, categories=tuple(dataclasses.replace(c, learned={}) for c in taxonomy.categories)
    )


def code_of(taxonomy: Taxonomy) -> Callable[[str], str | None]:
    """Label -> category code, for labels written as codes or names; None for a label the taxonomy lacks."""
    codes = {c.code: c.code for c in taxonomy.categories} | {c.name: c.code for c in taxonomy.categories}
    return lambda label: codes.get(label.strip())


def tune(
    examples: Iterable[tuple[str, str]],
    base: Taxonomy,
    options: Options | None = None,
    tokenizer: jieba.Tokenizer | None = None,
) -> Taxonomy:
    """`base` without its learned weights, then with weights learned from (text, label) rows added.

    Labels are category codes or names; rows with an empty text or a label the taxonomy lacks are skipped.
    """
    options = options or DEFAULTS
    written = without_learned(base)
    to_code = code_of(written)
    rows = [(text, code) for text, label in examples if normalize(text) and (code := to_code(label))]
    if len({code for _, code in rows}) < 2:
        raise ValueError("at least two categories need labelled rows")
    texts = [text for text, _ in rows]
    gold = [code for _, code in rows]
    cutter = reader((), tokenizer)
    seen = Counter(word for text in texts for word in candidate_words(text, cutter))
    hand = {word for c in written.categories for word in c.keywords}
    vocabulary = {word for word, n in seen.items() if n >= options.min_count} | hand
    order = [c.code for c in written.categories if c.code in set(gold)]
    chosen = choose_keywords(
        [frozenset(doc) for doc in _read(texts, vocabulary, written, tokenizer)],
        gold,
        order,
        options,
    )
    candidates = {code: set(words) for code, words in chosen.items()}
    # What is found depends on the vocabulary (a longer word hides the shorter ones inside it): read again with only
    # the words the tuned classifier will know.
    docs = _read(texts, hand.union(*candidates.values()), written, tokenizer)
    learned = _perceptron(docs, gold, written, candidates, options)
    return dataclasses.replace(
        written,
        categories=tuple(
            dataclasses.replace(c, learned=learned.get(c.code, {})) if c.code != FALLBACK_CODE else c
            for c in written.categories
        ),
    )


def _read(
    texts: Sequence[str], vocabulary: set[str], taxonomy: Taxonomy, tokenizer: jieba.Tokenizer | None
) -> list[dict[str, float]]:
    """Each text's keywords from `vocabulary` with their lead factors, read with `taxonomy`'s rules."""
    everything = Category(code="all", name="all", sla_hours=1, keywords=dict.fromkeys(vocabulary, 1.0))
    fallback = Category(code=FALLBACK_CODE, name=FALLBACK_CODE, sla_hours=1)
    urgency = dataclasses.replace(taxonomy.urgency, keywords={word: None for word in taxonomy.urgency.keywords})
    matcher = Classifier(dataclasses.replace(taxonomy, categories=(everything, fallback), urgency=urgency), tokenizer)
    return [matcher.evidence(text) for text in texts]


def _perceptron(
    docs: Sequence[dict[str, float]],
    gold: Sequence[str],
    written: Taxonomy,
    candidates: dict[str, set[str]],
    options: Options,
) -> dict[str, dict[str, float]]:
    codes = [c.code for c in written.categories]
    hand = {c.code: c.keywords for c in written.categories}
    weights: dict[str, dict[str, float]] = {code: {} for code in codes}
    # averaging without summing every weight at every step: per weight, the step-weighted sum of its updates
    updates: dict[str, dict[str, float]] = {code: {} for code in codes}
    for i, step_count in perceptron_steps(len(docs), options):
        doc, label = docs[i], gold[i]
        scores = {
            code: math.fsum(f * (hand[code].get(w, 0.0) + weights[code].get(w, 0.0)) for w, f in doc.items())
            for code in codes
        }
        rival = max((code for code in codes if code != label), key=lambda code: scores[code])
        if scores[label] - scores[rival] >= options.margin:
            continue
        for word, factor in doc.items():
            if word in candidates.get(label, ()):
                _add(weights[label], updates[label], word, options.step * factor, step_count)
            if word in weights[rival]:
                _add(weights[rival], updates[rival], word, -options.step * factor, step_count)
    steps = options.passes * len(docs) + 1
    averaged: dict[str, dict[str, float]] = {}
    for code in codes:
        kept = {word: round(weight - updates[code].get(word, 0.0) / steps, 2) for word, weight in weights[code].items()}
        kept = {word: weight for word, weight in kept.items() if weight >= SMALLEST}
        if kept:
            averaged[code] = dict(sorted(kept.items(), key=lambda item: (-item[1], item[0])))
    return averaged


def _add(table: dict[str, float], done: dict[str, float], word: str, change: float, step_count: int) -> None:
    old = table.get(word, 0.0)
    new = max(0.0, old + change)
    table[word] = new
    done[word] = done.get(word, 0.0) + step_count * (new - old)


def folds(keys: Sequence[str], k: int) -> list[int]:
    """A fold number 0..k-1 for each row, from a hash of its key: the same rows share a fold on every run."""
    ranked = sorted(range(len(keys)), key=lambda i: hashlib.sha256(keys[i].encode()).hexdigest())
    fold = [0] * len(keys)
    for position, i in enumerate(ranked):
        fold[i] = position % k
    return fold


def cross_validate(
    examples: Sequence[tuple[str, str]],
    base: Taxonomy,
    k: int,
    extra: Sequence[tuple[str, str]] = (),
    options: Options | None = None,
    tokenizer: jieba.Tokenizer | None = None,
) -> list[str]:
    """The category each example gets from a taxonomy tuned without its fold (and with `extra` rows always in)."""
    fold = folds([text for text, _ in examples], k)
    predicted = [""] * len(examples)
    for held in range(k):
        training = [row for row, f in zip(examples, fold, strict=True) if f != held]
        tuned = Classifier(tune([*training, *extra], base, options, tokenizer), tokenizer)
        for i, (text, _) in enumerate(examples):
            if fold[i] == held:
                predicted[i] = tuned.classify(text).category
    return predicted


def learned_section(taxonomy: Taxonomy, source: str, rows: int, options: Options, when: datetime) -> str:
    """The YAML text of a taxonomy's `learned:` section, with a header saying how it was made."""
    header = [
        f"learned: weights added to the written keywords, made by `flask --app app nlp tune` from {source}",
        f"({rows} labelled messages) on {when:%Y-%m-%d %H:%M %Z}".rstrip(),
        describe(options),
        "Edit or delete freely: the written keywords above stay the reasons people chose. Re-run nlp tune to refit.",
    ]
    body = {c.code: c.learned for c in taxonomy.categories if c.learned}
    text = yaml.safe_dump({"learned": body}, allow_unicode=True, sort_keys=False, width=120)
    return "".join(f"# {line}\n" for line in header) + text


def replace_learned(yaml_text: str, section: str) -> str:
    """A taxonomy file's text with its trailing `learned:` section (and the comment above it) replaced."""
    lines = yaml_text.rstrip("\n").split("\n")
    start = next((i for i, line in enumerate(lines) if line.startswith("learned:")), None)
    if start is not None:
        if any(line and not line.startswith((" ", "#")) for line in lines[start + 1 :]):
            raise ValueError("the learned: section must be the last section of the taxonomy file")
        while start > 0 and lines[start - 1].startswith("#"):
            start -= 1
        lines = lines[:start]
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines) + "\n\n" + section
