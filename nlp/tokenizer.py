"""The package's own jieba tokenizer, built once per process with the governance user dictionary."""

from __future__ import annotations

import logging
import threading
import warnings
from pathlib import Path

with warnings.catch_warnings():
    # jieba 0.42 imports pkg_resources, which newer setuptools deprecate with a warning at import time;
    # we never use that code path (the dictionary path is passed explicitly below).
    warnings.filterwarnings("ignore", message=r".*pkg_resources.*", category=DeprecationWarning)
    import jieba

USERDICT_PATH = Path(__file__).with_name("userdict.txt")
# Passing the path avoids jieba's pkg_resources lookup of its bundled dictionary.
_JIEBA_DICT_PATH = Path(jieba.__file__).with_name("dict.txt")

_lock = threading.Lock()
_shared: jieba.Tokenizer | None = None


def new_tokenizer(userdict: str | Path | None = USERDICT_PATH) -> jieba.Tokenizer:
    """Build and initialise a private jieba tokenizer (never the global jieba.dt)."""
    # jieba logs "Building prefix dict..." at DEBUG to stderr on every load
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer(str(_JIEBA_DICT_PATH))
    tokenizer.initialize()
    if userdict is not None:
        # jieba leaves a file it opened from a path unclosed (a ResourceWarning): hand it an open file instead
        with open(userdict, "rb") as f:
            tokenizer.load_userdict(f)
    return tokenizer


def shared_tokenizer() -> jieba.Tokenizer:
    """The process-wide tokenizer with the default user dictionary, loaded on first use."""
    global _shared
    if _shared is None:
        with _lock:
            if _shared is None:
                _shared = new_tokenizer()
    return _shared
