"""Render the result store to ``index.html``, ``index.md``, ``summary.json`` and ``figures/*.png``.

Rendering reads the store and nothing else that can change a number: no proof
or experiment is run. (The current catalogue and code are read only to hash
them, so that stale records are flagged.) Every file goes through ``emastats.files.write_atomic``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import OutputFileError, UsageError
from ..files import write_atomic
from .html import render_html
from .markdown import render_markdown
from .model import HashFunction, ReportModel, build_model
from .store import ResultStore
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


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputFileError(f"cannot create the folder {folder}: {exc.strerror or exc}") from None


def _holds(path: Path, data: bytes) -> bool:
    """Whether ``path`` is a regular file (not a link) that already holds ``data``: then it is not rewritten."""
    try:
        return not path.is_symlink() and path.is_file() and path.read_bytes() == data
    except OSError:
        return False


def _write_figures(model: ReportModel, figure_dir: Path) -> list[Path]:
    """Write every figure's PNG; PNGs of earlier renders that no longer belong to the report are removed.

    A ``figures`` that is a symbolic link is refused: writing and pruning through it would touch files
    outside the output folder.
    """
    if figure_dir.is_symlink():
        raise OutputFileError(f"{figure_dir} is a symbolic link; remove it so that figures stay inside the report")
    _make_folder(figure_dir)
    written = []
    for view in (*model.claims, *model.studies):
        for fig in view.figures:
            path = figure_dir / fig.filename
            if not _holds(path, fig.png):
                write_atomic(path, fig.png)
            written.append(path)
    keep = set(written)
    for old in figure_dir.glob("*.png"):
        if old not in keep:
            try:
                old.unlink()
            except OSError as exc:
                raise OutputFileError(f"cannot remove the old figure {old}: {exc.strerror or exc}") from None
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
    _make_folder(out)
    figures = _write_figures(model, out / FIGURE_DIR)
    html_path = write_atomic(out / "index.html", render_html(model))
    md_path = write_atomic(out / "index.md", render_markdown(model, FIGURE_DIR))
    summary = build_summary(model)
    summary_path = write_atomic(out / "summary.json", json.dumps(summary, indent=2, allow_nan=False) + "\n")
    return RenderedReport(out, html_path, md_path, summary_path, tuple(figures), dict(model.counts),
                          tuple(model.stale_ids), len(model.problems))
