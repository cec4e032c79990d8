"""Time formula extraction on the hostile inputs of issue 11 and check that it scales linearly.

Run: ``.venv/bin/python benchmarks/audit_extract.py [--copies 8000,16000,32000,64000]``. Prints seconds per input
and size, and the ratio time(64k) / time(8k), which is about 8 for linear work and about 64 for quadratic work.
"""
from __future__ import annotations

import argparse
import time

from emastats.audit.extract import extract

HOSTILE = {
    "unclosed \\[": lambda n: "\\[ x\n\n" * n,
    "unclosed \\begin{equation}": lambda n: "\\begin{equation} x\n\n" * n,
    "$$x$$ in one paragraph": lambda n: "$$x$$" * n,
    "$x$ in one paragraph": lambda n: "$x$ " * n,
    "[ (markdown)": lambda n: "[" * (n * 30),
    "[ after a fence (markdown-it)": lambda n: "```\nc\n```\n" + "[" * (n * 30),
    "\\[ paragraphs after a fence": lambda n: "```\nc\n```\n" + "\\[ x\n\n" * n,
}


def seconds(text: str, kind: str = "md") -> float:
    start = time.perf_counter()
    extract(text, kind)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", default="8000,16000,32000,64000")
    sizes = [int(s) for s in parser.parse_args().copies.split(",")]
    for name, make in HOSTILE.items():
        times = [seconds(make(n)) for n in sizes]
        row = "  ".join(f"{n}: {t:.3f} s" for n, t in zip(sizes, times))
        print(f"{name:28s} {row}  ratio {times[-1] / max(times[0], 1e-9):.1f} for x{sizes[-1] / sizes[0]:g} input")
    text = "[" * 1_999_000
    print(f"'[' * 1999000 (md): {seconds(text):.3f} s")
    near_limit = ("$$x$$" * 399_000)[:1_999_000]
    print(f"$$x$$ up to 1999000 chars (md): {seconds(near_limit):.3f} s")


if __name__ == "__main__":
    main()
