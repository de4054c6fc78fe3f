"""Traditional -> simplified Chinese, so 繁體 messages meet the same (simplified) keywords and dictionary.

zhconv, not opencc-python-reimplemented: both are pure Python and neither has seen a release in years, but zhconv's
MediaWiki zh-cn tables convert phrases OpenCC's t2s leaves alone (沒著火 -> 没着火, 睡不著 -> 睡不着; OpenCC keeps 著,
so 着火 would never match), and it converts a short message about 7x faster (~3 µs against ~25 µs) by greedy longest
match over one dict. Its table also maps Taiwan and Hong Kong words to mainland ones (網路 -> 网络).
"""

from __future__ import annotations

import threading
import unicodedata
from pathlib import Path

from nlp import heap
from nlp.thirdparty import zhconv as _zhconv

_DICT_PATH = Path(_zhconv.__file__).with_name("zhcdict.json")
_LOCALE = "zh-cn"
# 著 is also a simplified character (著作), so it is not in zhconv's traditional-only set, yet 著火 / 睡不著 need it
# converted; it is the one such character that matters (239 of the 462 table phrases made only of shared characters).
_SHARED_BUT_CONVERTED = frozenset("著")

_UNUSED = ("zh2Hant", "zh2TW", "zh2HK", "zh2SG", "zh2Hans", "zh2CN", "SIMPONLY", "TRADONLY")

_lock = threading.Lock()
_triggers: frozenset[str] | None = None


def _load() -> frozenset[str]:
    """Load zhconv's tables once; return the characters whose presence means conversion can change the text."""
    global _triggers
    if _triggers is None:
        with _lock:
            if _triggers is None:
                _zhconv.loaddict(str(_DICT_PATH))
                table = _zhconv.getdict(_LOCALE)
                variants = {key for key, value in table.items() if len(key) == 1 and key != value}
                _triggers = frozenset(_zhconv.zhcdicts["TRADONLY"]) | variants | _SHARED_BUT_CONVERTED
                # convert(text, "zh-cn") reads only the table and prefix set getdict has just built from zh2Hans and
                # zh2CN; the file's tables for the other way and other regions (and zh2Hans, copied) would cost every
                # worker about 3 MB (bench speed's memory line).
                for name in _UNUSED:
                    _zhconv.zhcdicts[name] = type(_zhconv.zhcdicts[name])()
                heap.release()  # the JSON parser's scratch memory (nlp/heap.py)
    return _triggers


def to_simplified(text: str) -> str:
    """The text in simplified characters; most messages have no traditional character and come back unchanged."""
    triggers = _triggers if _triggers is not None else _load()
    if triggers.isdisjoint(text):
        # Skipping also keeps zh-cn's word localisation off text that is already simplified.
        return text
    return str(_zhconv.convert(text, _LOCALE))


def simplified(text: str) -> str:
    """NFKC (full-width letters and digits made plain), then traditional characters made simplified: how place
    names and grid aliases are compared."""
    return to_simplified(unicodedata.normalize("NFKC", text))


def has_traditional(text: str) -> bool:
    """Whether the text holds a character that conversion to simplified would change."""
    triggers = _triggers if _triggers is not None else _load()
    return not triggers.isdisjoint(text)
