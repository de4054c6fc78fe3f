"""Text -> Intent for resident complaints: category, urgency, keywords and place. Imports nothing of the project."""

from __future__ import annotations

import threading

from nlp.classifier import Classifier, Intent
from nlp.convert import simplified
from nlp.duplicates import SAME_PROBLEM, similarity
from nlp.place import Place, extract_place
from nlp.taxonomy import DEFAULT_TAXONOMY_PATH, Category, Taxonomy

__all__ = [
    "SAME_PROBLEM",
    "Category",
    "Classifier",
    "Intent",
    "Place",
    "Taxonomy",
    "accept_minutes",
    "categories",
    "category_name",
    "classify",
    "default_classifier",
    "extract_place",
    "find_category",
    "min_confidence",
    "similarity",
    "simplified",
    "sla_hours",
]

_lock = threading.Lock()
_default: Classifier | None = None


def default_classifier() -> Classifier:
    """The classifier for the bundled taxonomy, built once per process on first use."""
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                _default = Classifier.from_file(DEFAULT_TAXONOMY_PATH)
    return _default


def classify(text: str) -> Intent:
    """Classify a resident's message with the default taxonomy."""
    return default_classifier().classify(text)


def category_name(code: str) -> str:
    """Display name of a category code ("facility" -> "市政设施"); the code itself when the taxonomy no longer has it
    (a category retired after tickets were filed under it): a screen or a card shows it rather than failing."""
    try:
        return default_classifier().taxonomy.get(code).name
    except KeyError:
        return code


def sla_hours(code: str, urgent: bool, keywords: tuple[str, ...] | list[str] = ()) -> int:
    """Hours allowed to resolve a ticket: the taxonomy's urgent limit, a matched fault keyword's, or the category's."""
    taxonomy = default_classifier().taxonomy
    if urgent:
        return taxonomy.urgency.hours
    return taxonomy.get(code).hours_for(keywords)


def accept_minutes(urgent: bool) -> int:
    """Minutes a grid worker has to accept a ticket (working minutes unless urgent)."""
    taxonomy = default_classifier().taxonomy
    return taxonomy.urgency.accept_minutes if urgent else taxonomy.accept_minutes


def min_confidence() -> float:
    """Below this confidence a guess should be checked by a person before the ticket is routed on it."""
    return default_classifier().taxonomy.min_confidence


def find_category(word: str) -> str | None:
    """The category code a supervisor means by a code or a name ("parking", "停车交通", "停车"), or None."""
    word = word.strip().lower()
    cats = default_classifier().taxonomy.categories
    exact = [c.code for c in cats if word in (c.code, c.name)]
    if exact:
        return exact[0]
    partial = [c.code for c in cats if word and word in c.name]
    return partial[0] if len(partial) == 1 else None


def categories() -> list[tuple[str, str]]:
    """(code, name) of every category in taxonomy order."""
    return [(c.code, c.name) for c in default_classifier().taxonomy.categories]
