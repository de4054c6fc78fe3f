"""Benchmarks: each runs the real service beside a baseline in the same run and reports the ratio.

`python -m bench` runs them all into bench/RESULTS.md; `python -m bench <name>` runs one.
"""
