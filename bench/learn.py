"""Learning from history: a taxonomy trained by `nlp.learn` against TF-IDF + LinearSVC, by 5-fold cross-validation.

No servers: this measures nlp alone, on a labelled CSV outside the repository (default
../shared/data/teddy2020_titles_dev.csv, columns title,label; see that directory's README). scikit-learn is a dev
dependency, used here for the baselines and the folds only; the app never imports it.
"""

from __future__ import annotations

import csv
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from pathlib import Path

from bench import harness
from bench.harness import ROOT, Options, progress
from bench.results import Report
from nlp import Classifier
from nlp.evaluate import score
from nlp.learn import Options as LearnOptions
from nlp.learn import learn, reader
from nlp.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy, normalize
from nlp.tokenizer import shared_tokenizer

SECTION = "Learning from history"
DATA = ROOT.parent / "shared" / "data" / "teddy2020_titles_dev.csv"
TEXT_COLUMN, LABEL_COLUMN = "title", "label"
FOLDS = 5
SEED = 0
# A smoke run learns from the dev set in the repository (CI has nothing outside it), on two folds.
SMOKE_DATA = ROOT / "tests" / "data" / "complaints_dev.csv"
SMOKE_COLUMNS = ("text", "category")
SMOKE_FOLDS = 2
# Whole messages (title + text) labelled in our categories: the second table trains on their titles only.
WHOLE = ROOT.parent / "shared" / "data" / "community_dev.csv"

INTRO = f"""What the issue asks: `flask --app app nlp train` learns a taxonomy people can read and edit (weighted
jieba keywords per label, and a reader of weighted characters, pairs and words that picks the category, in the same
YAML the bundled classifier loads) from labelled history, and we measure it by
{FOLDS}-fold stratified cross-validation (scikit-learn's `StratifiedKFold`, shuffled, seed {SEED}): train on four
folds, classify the fifth with the normal `nlp.Classifier`, five times. Macro-F1 is the mean F1 over the labels of
the data (`nlp.evaluate`, the same code for every row); a message no keyword matches falls to 其他 and counts as
a miss.

Baselines on the same folds, in the same run: TF-IDF (sublinear tf, l2) + `LinearSVC` (C=1) over character 1-2
grams of the normalised text (the usual strong baseline for short Chinese text), and over our jieba tokens.
"ours ÷" divides our mean by the character baseline's. Training time is per fold (ours: tokenising, counting,
corrections; baselines: vectorising and fitting); classifying is per message, ours one message at a time through
`Classifier.classify`, the baselines in one batch (`transform` + `predict`), so theirs is the cheaper way to count.

The second table asks what the issue asks of whole messages: trained on titles, scored on title + text. We have no
whole messages with department labels, so it uses community_dev.csv (420 board messages labelled in our own
categories, title and text; ../shared/data/README.md): train on the titles of four folds, classify the fifth
fold's title + text. Its thin categories make macro-F1 move a lot between folds: read the ratio, not the level.

The last row of each table is the same trained file with its `reader:` section deleted: the keywords alone, as a
file trained before the reader existed (or with `nlp train --no-reader`) classifies."""


@dataclass
class Method:
    """One row of the table: scores and timings per fold."""

    name: str
    macro_f1: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    train_s: list[float] = field(default_factory=list)
    classify_us: list[float] = field(default_factory=list)

    def add(self, gold: Sequence[str], predicted: Sequence[str], train_s: float, classify_s: float) -> None:
        result = score(gold, predicted)
        self.macro_f1.append(result.macro_f1)
        self.accuracy.append(result.accuracy)
        self.train_s.append(train_s)
        self.classify_us.append(1e6 * classify_s / len(gold))


def load(path: Path, columns: tuple[str, str] = (TEXT_COLUMN, LABEL_COLUMN)) -> list[tuple[str, str]]:
    text, label = columns
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [(row[text], row[label]) for row in csv.DictReader(f) if row[text].strip()]


def run(options: Options) -> list[Report]:
    path, columns, folds = (
        (SMOKE_DATA, SMOKE_COLUMNS, SMOKE_FOLDS) if options.smoke else (DATA, (TEXT_COLUMN, LABEL_COLUMN), FOLDS)
    )
    title = f"{path.name}, {folds}-fold cross-validation"
    if not path.exists():
        reason = f"skipped: {path} not found (the development data lives outside the repository: see {SECTION})"
        return [Report(SECTION, INTRO, title, reason, valid=False, errors=[reason])]
    try:
        from sklearn.model_selection import StratifiedKFold
    except ImportError:
        reason = "skipped: scikit-learn is not installed (.venv/bin/python -m pip install -e '.[dev]')"
        return [Report(SECTION, INTRO, title, reason, valid=False, errors=[reason])]

    rows = load(path, columns)
    texts = [text for text, _ in rows]
    labels = [label for _, label in rows]
    base = Taxonomy.from_file(DEFAULT_TAXONOMY_PATH)
    ours = Method("ours: trained taxonomy (`nlp train` defaults)")
    chars = Method("TF-IDF char 1-2-grams + LinearSVC")
    words = Method("TF-IDF jieba tokens + LinearSVC")
    keywords_only = Method("ours, keywords alone (the `reader:` section deleted)")
    splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED).split(texts, labels)
    for number, (train, test) in enumerate(splits, start=1):
        progress(f"learn: fold {number}/{folds}")
        train_rows = [rows[i] for i in train]
        gold = [labels[i] for i in test]
        test_texts = [texts[i] for i in test]

        trained_and_scored(train_rows, gold, test_texts, base, ours, keywords_only)
        for method, analyzer in ((chars, "char"), (words, "jieba")):
            predicted, fit_s, predict_s = svm_baseline(analyzer, train_rows, test_texts)
            method.add(gold, predicted, fit_s, predict_s)
    table = render(options, path, rows, [ours, chars, words, keywords_only], folds)
    reports = [Report(SECTION, INTRO, title, table)]
    if not options.smoke and WHOLE.exists():
        reports.append(titles_to_whole(options))
    return reports


def trained_and_scored(
    train_rows: Sequence[tuple[str, str]],
    gold: Sequence[str],
    test_texts: Sequence[str],
    base: Taxonomy,
    ours: Method,
    keywords_only: Method,
) -> None:
    """`nlp train` with its defaults on one fold, then the fold's test messages classified by the trained file
    (`ours`) and by the same file without its reader (`keywords_only`), one message at a time."""
    tokenizer = shared_tokenizer()
    started = time.perf_counter()
    learned = learn(train_rows, base, LearnOptions(), tokenizer)
    trained = time.perf_counter() - started
    names = learned.code_to_label()
    for method, taxonomy in ((ours, learned.taxonomy()), (keywords_only, replace(learned, reader=None).taxonomy())):
        classifier = Classifier(taxonomy, tokenizer)
        classifier.classify(test_texts[0])
        started = time.perf_counter()
        predicted = [names[classifier.classify(text).category] for text in test_texts]
        method.add(gold, predicted, trained, time.perf_counter() - started)


def titles_to_whole(options: Options) -> Report:
    """Trained on titles, scored on whole messages (title + text), as a work-order history of titles is then used
    on residents' full messages: community_dev.csv, labelled in our own categories, 5-fold (plain KFold: some of
    its categories have fewer rows than folds)."""
    from sklearn.model_selection import KFold

    with WHOLE.open(encoding="utf-8-sig", newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["title"].strip()]
    titles = [row["title"] for row in rows]
    whole = [f"{row['title']}。{row['text']}" for row in rows]
    labels = [row["category"] for row in rows]
    base = Taxonomy.from_file(DEFAULT_TAXONOMY_PATH)
    ours = Method("ours: trained taxonomy (`nlp train` defaults)")
    chars = Method("TF-IDF char 1-2-grams + LinearSVC")
    keywords_only = Method("ours, keywords alone (the `reader:` section deleted)")
    for number, (train, test) in enumerate(KFold(n_splits=FOLDS, shuffle=True, random_state=SEED).split(rows), 1):
        progress(f"learn: titles to whole messages, fold {number}/{FOLDS}")
        train_rows = [(titles[i], labels[i]) for i in train]
        gold = [labels[i] for i in test]
        test_texts = [whole[i] for i in test]
        trained_and_scored(train_rows, gold, test_texts, base, ours, keywords_only)
        predicted, fit_s, predict_s = svm_baseline("char", train_rows, test_texts)
        chars.add(gold, predicted, fit_s, predict_s)
    title = f"{WHOLE.name}: trained on titles, scored on title + text, {FOLDS}-fold"
    return Report(
        SECTION,
        INTRO,
        title,
        render(options, WHOLE, list(zip(titles, labels, strict=True)), [ours, chars, keywords_only]),
    )


def svm_baseline(
    analyzer: str, train_rows: Sequence[tuple[str, str]], test_texts: Sequence[str]
) -> tuple[list[str], float, float]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    if analyzer == "char":
        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True, preprocessor=normalize)
    else:
        vectorizer = TfidfVectorizer(analyzer=reader((), shared_tokenizer()).tokenize, sublinear_tf=True)
    started = time.perf_counter()
    model = LinearSVC(C=1.0).fit(
        vectorizer.fit_transform([t for t, _ in train_rows]), [label for _, label in train_rows]
    )
    fitted = time.perf_counter() - started
    started = time.perf_counter()
    predicted = [str(label) for label in model.predict(vectorizer.transform(list(test_texts)))]
    return predicted, fitted, time.perf_counter() - started


def render(
    options: Options, path: Path, rows: Sequence[tuple[str, str]], methods: list[Method], folds: int = FOLDS
) -> str:
    ours, baseline = methods[0], methods[1]
    counts: dict[str, int] = {}
    for _, label in rows:
        counts[label] = counts.get(label, 0) + 1

    def spread(values: list[float]) -> str:
        return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"

    def ratio(mine: list[float], theirs: list[float]) -> str:
        return f"{statistics.mean(mine) / statistics.mean(theirs):.3f}"

    table = [
        "| method | macro-F1 (mean ± sd) | accuracy (mean ± sd) | macro-F1 ours ÷ | train s / fold "
        "| classify µs / msg |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for m in methods:
        table.append(
            f"| {m.name} | {spread(m.macro_f1)} | {spread(m.accuracy)} | {ratio(ours.macro_f1, m.macro_f1)} "
            f"| {statistics.mean(m.train_s):.2f} | {statistics.mean(m.classify_us):.0f} |"
        )
    per_fold = ["| method | " + " | ".join(f"fold {i + 1}" for i in range(folds)) + " |", "|---|" + "--:|" * folds]
    per_fold += [f"| {m.name} | " + " | ".join(f"{f:.3f}" for f in m.macro_f1) + " |" for m in methods]
    alone = methods[-1]
    gain = statistics.mean(ours.macro_f1) - statistics.mean(alone.macro_f1)
    return "\n".join(
        [
            *harness.provenance(options),
            f"- Data: {path.name}, {len(rows)} rows, {len(counts)} labels: "
            + ", ".join(f"{label} {n}" for label, n in sorted(counts.items(), key=lambda item: -item[1])),
            f"- Libraries: jieba {version('jieba')}, scikit-learn {version('scikit-learn')}",
            f"- Learner: {'; '.join(LearnOptions().describe())}",
            "",
            f"Ours ÷ the character baseline: macro-F1 **{ratio(ours.macro_f1, baseline.macro_f1)}**, accuracy "
            f"**{ratio(ours.accuracy, baseline.accuracy)}**. The reader's gain over the keywords alone: "
            f"{gain:+.3f} macro-F1.",
            "",
            *table,
            "",
            "Macro-F1 per fold:",
            "",
            *per_fold,
        ]
    )
