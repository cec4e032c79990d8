"""Render the result store to ``index.html``, ``index.md``, ``summary.json`` and ``figures/*.png``.

Rendering reads the store and nothing else that can change a number: no proof
or experiment is run. (The current catalogue and code are read only to hash
them, so that stale records are flagged.) Every file is written atomically.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from .html import render_html
from .markdown import render_markdown
from .model import HashFunction, ReportModel, build_model
from .store import ResultStore, atomic_write_text
from .summary import build_summary

FIGURE_DIR = "figures"


@dataclass(frozen=True)
class RenderedReport:
    """Where the report went and what it says in brief."""

    out_dir: Path
    html: Path
    markdown: Path
    summary: Path
    figures: tuple[Path, ...]
    counts: dict[str, int]
    stale: tuple[str, ...]
    problems: int


def _write_figures(model: ReportModel, figure_dir: Path) -> list[Path]:
    """Write every figure's PNG; PNGs of earlier renders that no longer belong to the report are removed."""
    figure_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for view in (*model.claims, *model.studies):
        for fig in view.figures:
            path = figure_dir / fig.filename
            if not path.is_file() or path.read_bytes() != fig.png:
                tmp = path.with_name(f".{path.name}.tmp")
                tmp.write_bytes(fig.png)
                tmp.replace(path)
            written.append(path)
    keep = set(written)
    for old in figure_dir.glob("*.png"):
        if old not in keep:
            old.unlink()
    return written


def render(store_dir: str | Path, out_dir: str | Path, hasher: HashFunction | None = None) -> RenderedReport:
    """Render the store at ``store_dir`` into ``out_dir``.

    ``hasher`` maps a claim id to its current source hash (default: from the
    installed catalogue, proofs and experiments); records whose hash differs are
    shown as STALE. An empty or missing store is a UsageError.
    """
    store = ResultStore(store_dir)
    if not store.root.is_dir() or store.is_empty():
        raise UsageError(f"the result store {store.root} is empty or missing; run 'emastats verify' first")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a directory")
    model = build_model(store, hasher, cache_dir=out / ".cache")
    out.mkdir(parents=True, exist_ok=True)
    figures = _write_figures(model, out / FIGURE_DIR)
    html_path = atomic_write_text(out / "index.html", render_html(model))
    md_path = atomic_write_text(out / "index.md", render_markdown(model, FIGURE_DIR))
    summary = build_summary(model)
    summary_path = atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, allow_nan=False) + "\n")
    return RenderedReport(out, html_path, md_path, summary_path, tuple(figures), dict(model.counts),
                          tuple(model.stale_ids), len(model.problems))
