"""How well a taxonomy classifies labelled messages: accuracy, macro-F1, per-label scores, confusion matrix.

Plain Python, so a street office can check a trained taxonomy on the server that runs it. Gold labels may be
category codes or names. Results name labels the way the file does: by name if any gold label is a category name,
else by code. A gold label the taxonomy does not have stays as written and is always a miss. Macro-F1 is the mean
F1 over the labels that occur in the gold column (the competition's definition for the 7 Teddy labels): a
prediction of a label nobody wrote, such as the fallback 其他, costs the true label its recall but adds no class.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nlp.classifier import Classifier


@dataclass(frozen=True)
class LabelScores:
    """Precision, recall and F1 of one label (0 where undefined), and how many gold rows carry it."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Evaluation:
    """Scores of predictions against gold labels; the matrix has gold labels as rows, predictions as columns."""

    rows: int
    accuracy: float
    macro_f1: float
    per_class: dict[str, LabelScores]
    labels: tuple[str, ...]
    matrix: tuple[tuple[int, ...], ...]

    def as_dict(self, digits: int = 4) -> dict[str, Any]:
        """The JSON shape `flask nlp eval` prints."""
        return {
            "rows": self.rows,
            "accuracy": round(self.accuracy, digits),
            "macro_f1": round(self.macro_f1, digits),
            "per_class": {
                label: {
                    "precision": round(s.precision, digits),
                    "recall": round(s.recall, digits),
                    "f1": round(s.f1, digits),
                    "support": s.support,
                }
                for label, s in self.per_class.items()
            },
            "confusion": {"labels": list(self.labels), "matrix": [list(row) for row in self.matrix]},
        }


@dataclass(frozen=True)
class Prediction:
    """One evaluated row: its 1-based data row number, gold label and prediction, both as the results name them."""

    row: int
    gold: str
    predicted: str


def score(gold: Sequence[str], predicted: Sequence[str], order: Sequence[str] = ()) -> Evaluation:
    """Compare predictions with gold labels; `order` lists labels first (others follow as first seen)."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    present = set(gold) | set(predicted)
    labels = [label for label in dict.fromkeys(order) if label in present]
    labels += [label for label in dict.fromkeys([*gold, *predicted]) if label not in labels]
    position = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, predicted, strict=True):
        matrix[position[g]][position[p]] += 1
    support = Counter(gold)
    per_class: dict[str, LabelScores] = {}
    for i, label in enumerate(labels):
        hits = matrix[i][i]
        predicted_as = sum(row[i] for row in matrix)
        precision = hits / predicted_as if predicted_as else 0.0
        recall = hits / support[label] if support[label] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = LabelScores(precision, recall, f1, support[label])
    gold_labels = [label for label in labels if support[label]]
    return Evaluation(
        rows=len(gold),
        accuracy=sum(matrix[i][i] for i in range(len(labels))) / len(gold) if gold else 0.0,
        macro_f1=sum(per_class[label].f1 for label in gold_labels) / len(gold_labels) if gold_labels else 0.0,
        per_class=per_class,
        labels=tuple(labels),
        matrix=tuple(tuple(row) for row in matrix),
    )


# (1-based data row, message text, gold label)
Labelled = tuple[int, str, str]
# One row in this many is held out: a fixed part of a labelled file nobody looks at while tuning (`--part`).
HOLDOUT_EVERY = 5
_TRUE = frozenset({"1", "true", "yes", "y", "是", "紧急", "t"})


def held_out(row_id: str) -> bool:
    """Whether a row belongs to the held-out fifth: decided by a hash of its id, so it never changes."""
    return int(hashlib.sha256(row_id.strip().encode()).hexdigest(), 16) % HOLDOUT_EVERY == 0


def truthy(value: str) -> bool:
    """A yes in a spreadsheet: 1, true, yes, 是, 紧急 (any case)."""
    return value.strip().lower() in _TRUE


def evaluate(
    classifier: Classifier, examples: Sequence[Labelled], categories: Sequence[str] | None = None
) -> tuple[Evaluation, list[Prediction]]:
    """Classify (row number, text, gold label) examples and score them against their gold labels.

    `categories` are predictions made elsewhere (cross-validation: each by a classifier that did not learn from
    it), one per example, as category codes; the classifier then only names the labels.
    """
    taxonomy = classifier.taxonomy.categories
    codes = {c.code for c in taxonomy}
    code_of_name = {c.name: c.code for c in taxonomy}
    if categories is not None and len(categories) != len(examples):
        raise ValueError(f"{len(examples)} examples but {len(categories)} predictions")
    rows: list[tuple[int, str, str]] = []
    by_name = False
    for i, (row, text, label) in enumerate(examples):
        label = label.strip()
        if label not in codes and label in code_of_name:
            by_name = True
        rows.append((row, label, categories[i] if categories is not None else classifier.classify(text).category))

    shown = {c.code: c.name if by_name else c.code for c in taxonomy}

    def show(label: str) -> str:
        code = label if label in codes else code_of_name.get(label)
        return shown[code] if code is not None else label

    predictions = [Prediction(row, show(label), shown[code]) for row, label, code in rows]
    evaluation = score(
        [p.gold for p in predictions], [p.predicted for p in predictions], [shown[c.code] for c in taxonomy]
    )
    return evaluation, predictions


def subset(predictions: Sequence[Prediction], keep: Sequence[bool]) -> Evaluation:
    """The scores of the predictions whose `keep` is true (a group of rows, such as the clear ones)."""
    kept = [p for p, k in zip(predictions, keep, strict=True) if k]
    return score([p.gold for p in kept], [p.predicted for p in kept])


def urgency_scores(rows: Sequence[int], gold: Sequence[bool], said: Sequence[bool]) -> dict[str, Any]:
    """Urgent rows found and missed, normal rows flagged urgent (false alarms), with the row numbers to read."""
    missed = [r for r, g, s in zip(rows, gold, said, strict=True) if g and not s]
    alarms = [r for r, g, s in zip(rows, gold, said, strict=True) if s and not g]
    urgent, normal = sum(gold), len(gold) - sum(gold)
    return {
        "urgent_rows": urgent,
        "found": urgent - len(missed),
        "missed_rows": missed,
        "normal_rows": normal,
        "false_alarms": len(alarms),
        "false_alarm_rate": round(len(alarms) / normal, 4) if normal else 0.0,
        "false_alarm_rows": alarms,
    }
