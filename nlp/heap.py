"""Give the C heap's free memory back to the system after a large load.

Parsing the taxonomy file and building jieba's lookup table each make hundreds of thousands of short-lived objects.
Python frees them, but glibc keeps the pages it got for them, so a worker's resident memory stays about 1.5 MB higher
than what it holds (bench speed measures the classifier's share; issue 15 allows it 30 MB). malloc_trim hands those
pages back. Elsewhere than glibc it does not exist, and nothing is done.
"""

from __future__ import annotations

import ctypes


def release() -> None:
    """malloc_trim(0) where the C library has it; otherwise nothing."""
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the process's own symbols, the C library's among them
    except (OSError, AttributeError):
        return
    trim(0)
