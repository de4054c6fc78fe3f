"""jieba 0.42 and zhconv 1.4, imported without pkg_resources.

Both import pkg_resources at import time only to find their bundled data files, and open the files by path when it
is missing. We hand them every file by path anyway (nlp/tokenizer.py, nlp/convert.py), so that import is waste:
pkg_resources scans every installed distribution and keeps about 12 MB in each process, web workers included (and
newer setuptools warn that it is deprecated). Import jieba and zhconv from here, never directly.
"""

from __future__ import annotations

import sys

__all__ = ["jieba", "zhconv"]

_blocked = "pkg_resources" not in sys.modules
if _blocked:
    sys.modules["pkg_resources"] = None  # type: ignore[assignment]  # `import pkg_resources` now raises ImportError
try:
    import jieba
    from zhconv import zhconv
finally:
    if _blocked:
        del sys.modules["pkg_resources"]
