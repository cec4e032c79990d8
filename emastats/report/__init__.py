"""The result store and the reports (HTML, Markdown, JSON, figures).

``store`` keeps one JSON record per claim, audited document and study;
``render`` turns a store into ``index.html``, ``index.md``, ``summary.json`` and
``figures/``. Importing this package is cheap: matplotlib is loaded only when
a report is rendered.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .store import ClaimRecord, ResultStore, StoreProblem, source_hash

if TYPE_CHECKING:
    from .rendering import RenderedReport

__all__ = ["ClaimRecord", "ResultStore", "StoreProblem", "source_hash", "render", "run_cli"]


def render(store_dir: str | Path, out_dir: str | Path,
           hasher: Callable[[str], str | None] | None = None) -> "RenderedReport":
    """Render the store at ``store_dir`` into ``out_dir``: index.html, index.md, summary.json, figures/.

    ``hasher`` gives a claim's current source hash (default: the installed
    catalogue, proofs and experiments); see ``emastats.report.rendering.render``.
    """
    from .rendering import render as _render

    return _render(store_dir, out_dir, hasher)


def run_cli(args: argparse.Namespace) -> int:
    """``emastats report [--store DIR] [--out DIR]``: render from the store alone, print where it went."""
    import time

    started = getattr(args, "started", None) or time.perf_counter()
    report = render(args.store, args.out)
    counts = ", ".join(f"{n} {v}" for v, n in report.counts.items() if n)
    print(f"wrote {report.html}, {report.markdown}, {report.summary} and {len(report.figures)} figures "
          f"in {time.perf_counter() - started:.1f} s")
    print(f"report: {report.html.resolve()}")
    print(f"{sum(report.counts.values())} claims: {counts or 'none'}")
    if report.stale:
        print(f"{len(report.stale)} stale record(s), re-run with 'emastats verify --resume': {', '.join(report.stale)}")
    if report.problems:
        print(f"{report.problems} unreadable record(s) skipped; see the report")
    return 0
