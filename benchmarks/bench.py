"""Script form of ``emastats bench``: the EMA and minibatch-SGD kernels against their baselines.

Usage: ``python benchmarks/bench.py [--device auto|cpu|cuda] [--quick] [--format text|json]``.
What is measured and how is described in ``emastats/montecarlo/bench.py``.
"""
from __future__ import annotations

import sys

from emastats.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
