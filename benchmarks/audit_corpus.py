"""Measure ``emastats audit`` on a labelled corpus of course notes it was not tuned on.

Usage::

    python benchmarks/audit_corpus.py --corpus /work/corpus --split heldout [--format text|json]

Splits: ``dev`` (develop on), ``heldout`` (the first held-back half, since measured and now developed on),
``heldout2`` (a second held-back split from other repositories, measured once at the end), ``all`` (dev and
heldout, as before heldout2 existed) and ``everything`` (all three).

The corpus lives outside the repository (its documents are third-party text, never committed); the labels live
in ``benchmarks/audit_corpus/manifest.json``: per document its source (repository, commit, path), its split
(``dev`` to develop on, ``heldout`` measured once at the end), its formula count, and the hand-labelled errors
(line in the stored file, severity, a one-line description, ground truth) and known-correct controls.

Each document is audited with the command line (``emastats audit --format json FILE``, one process per document,
so one document that fails cannot take the others down). A finding of severity ``error`` *matches* a labelled
error when its line range comes within ``window`` lines of the label's line. Reported per split:

* high-severity recall: labelled high-severity errors matched by at least one error finding / all of them;
* false errors: error findings matching no labelled error (high or low), per 100 formulas of the manifest;
* statements decided: sum of ``decided`` over sum of ``statements`` in the audit's own stats;
* unchecked reasons: ``stats["unchecked_reasons"]`` when the audit reports them, plus AUD2xx warnings and
  documents the audit could not read (exit 2), counted;
* time: wall seconds per document (the audit's own ``seconds`` when present), and the seconds a 300-formula
  document takes, estimated by a least-squares line through (formulas, seconds) over the split's documents.

The formula count is this module's :func:`count_formulas`, fixed with the manifest, so the denominator does not
move when the audit's own extraction changes.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

MANIFEST = Path(__file__).resolve().parent / "audit_corpus" / "manifest.json"
WINDOW = 2  # lines either side of a label within which an error finding counts as a match
SPLITS = ("dev", "heldout", "heldout2")
# a split name on the command line -> the manifest splits it measures, in report order
SPLIT_GROUPS = {"dev": ("dev",), "heldout": ("heldout",), "heldout2": ("heldout2",),
                "all": ("dev", "heldout"), "everything": SPLITS}

_DISPLAY = re.compile(
    r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\begin\{(equation|align|eqnarray|gather|multline|displaymath|math)(\*?)\}(.+?)"
    r"\\end\{\3\4\}",
    re.S,
)
_INLINE = re.compile(r"(?<![\\$])\$(?!\$)((?:\\\$|[^$\n])+?)\$|\\\((.+?)\\\)", re.S)
_ROW_BREAK = re.compile(r"\\\\(?:\[[^\]]*\])?")


def _drop_code_fences(text: str) -> str:
    """Blank out ``` fenced code blocks line by line; a ```math fence is kept as a $$ block.

    Tilde lines are not treated as fences: slide decks (remark) use a lone ``~~~`` as a reveal marker.
    """
    out, fence, is_math = [], None, False
    for line in text.split("\n"):
        stripped = line.lstrip()
        if fence is None and stripped.startswith("```"):
            fence, is_math = stripped[:3], stripped[3:].strip().lower() == "math"
            out.append("$$" if is_math else "")
        elif fence is not None and stripped.startswith(fence):
            out.append("$$" if is_math else "")
            fence = None
        else:
            out.append(line if fence is None or is_math else "")
    return "\n".join(out)


def count_formulas(text: str) -> int:
    """Number of formulas in a Markdown/LaTeX text: one per inline math span and one per row of display maths.

    Display maths is ``$$..$$``, ``\\[..\\]``, ``equation``/``align``/``eqnarray``/``gather``/``multline``
    environments (starred or not) and ```` ```math ```` fences; a display block counts one formula per row
    (rows split at ``\\\\``, empty rows ignored). Inline maths is ``$..$`` (not ``\\$``) and ``\\(..\\)``.
    Fenced code blocks (```) other than ``math`` are skipped: pseudo-code in code fences is not counted.
    """
    text = _drop_code_fences(text)
    text = re.sub(r"(?m)(?<!\\)%.*$", "", text) if "\\begin{document}" in text or "\\section" in text else text
    count = 0
    rest = []
    last = 0
    for m in _DISPLAY.finditer(text):
        body = next(g for g in (m.group(1), m.group(2), m.group(5)) if g is not None)
        count += max(1, sum(1 for row in _ROW_BREAK.split(body) if row.strip()))
        rest.append(text[last:m.start()])
        last = m.end()
    rest.append(text[last:])
    for chunk in rest:
        count += sum(1 for m in _INLINE.finditer(chunk) if (m.group(1) or m.group(2) or "").strip())
    return count


@dataclass
class DocResult:
    """One document's audit, scored against its labels."""

    id: str
    split: str
    formulas: int
    high_labelled: int
    high_found: int
    low_labelled: int
    low_found: int
    false_errors: int
    false_on_controls: int
    statements: int
    decided: int
    seconds: float
    status: str  # "ok", "unreadable" (exit 2), "failed" (other exit / bad JSON), "timeout", "missing"
    unchecked_reasons: dict[str, int] = field(default_factory=dict)
    missed_high: list[int] = field(default_factory=list)
    false_lines: list[int] = field(default_factory=list)


def _near(finding: dict, line: int, window: int) -> bool:
    start = int(finding.get("line") or 0)
    end = int(finding.get("end_line") or start)
    return start - window <= line <= end + window


def score_document(doc: dict, audit: dict | None, window: int = WINDOW, status: str = "ok",
                   seconds: float = 0.0) -> DocResult:
    """Match one audit result (the JSON of one document, or None when it failed) to the document's labels.

    A labelled error is found when an error-severity finding lies within ``window`` lines of it; an error
    finding near no labelled error is a false error (and also counted on controls when near a control line).
    """
    errors = doc.get("errors", [])
    controls = doc.get("controls", [])
    findings = [f for f in (audit or {}).get("findings", []) if f.get("severity") == "error"]
    stats = (audit or {}).get("stats", {})
    high = [e for e in errors if e["severity"] == "high"]
    low = [e for e in errors if e["severity"] != "high"]
    found = {id(e) for e in errors if any(_near(f, e["line"], window) for f in findings)}
    false = [f for f in findings if not any(_near(f, e["line"], window) for e in errors)]
    on_controls = [f for f in false if any(_near(f, c["line"], window) for c in controls)]
    reasons: dict[str, int] = {}
    for key, n in (stats.get("unchecked_reasons") or {}).items():
        reasons[key] = reasons.get(key, 0) + int(n)
    for f in (audit or {}).get("findings", []):
        if str(f.get("code", "")).startswith("AUD2"):
            reasons[f["code"]] = reasons.get(f["code"], 0) + 1
    if status != "ok":
        reasons[f"document {status}"] = reasons.get(f"document {status}", 0) + 1
    return DocResult(
        id=doc["id"], split=doc["split"], formulas=int(doc["formulas"]),
        high_labelled=len(high), high_found=sum(1 for e in high if id(e) in found),
        low_labelled=len(low), low_found=sum(1 for e in low if id(e) in found),
        false_errors=len(false), false_on_controls=len(on_controls),
        statements=int(stats.get("statements", 0)), decided=int(stats.get("decided", 0)),
        seconds=float(stats.get("seconds", seconds) if status == "ok" else seconds), status=status,
        unchecked_reasons=reasons,
        missed_high=sorted(e["line"] for e in high if id(e) not in found),
        false_lines=sorted(int(f.get("line") or 0) for f in false),
    )


def seconds_at(results: list[DocResult], formulas: int = 300) -> float | None:
    """Least-squares line through (formulas, seconds) of the audited documents, evaluated at ``formulas``."""
    pts = [(r.formulas, r.seconds) for r in results if r.status == "ok"]
    if len(pts) < 2:
        return None
    n = len(pts)
    mx = sum(x for x, _ in pts) / n
    my = sum(y for _, y in pts) / n
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in pts) / sxx
    return my + slope * (formulas - mx)


def summarise(results: list[DocResult]) -> dict:
    """The per-split figures the issue asks for, from scored documents."""
    formulas = sum(r.formulas for r in results)
    high_l = sum(r.high_labelled for r in results)
    high_f = sum(r.high_found for r in results)
    false = sum(r.false_errors for r in results)
    statements = sum(r.statements for r in results)
    decided = sum(r.decided for r in results)
    reasons: dict[str, int] = {}
    for r in results:
        for k, v in r.unchecked_reasons.items():
            reasons[k] = reasons.get(k, 0) + v
    secs = [r.seconds for r in results if r.status == "ok"]
    at300 = seconds_at(results)
    return {
        "documents": len(results),
        "formulas": formulas,
        "high_found": high_f,
        "high_labelled": high_l,
        "high_recall": round(high_f / high_l, 4) if high_l else None,
        "low_found": sum(r.low_found for r in results),
        "low_labelled": sum(r.low_labelled for r in results),
        "false_errors": false,
        "false_errors_per_100_formulas": round(100 * false / formulas, 3) if formulas else None,
        "false_on_controls": sum(r.false_on_controls for r in results),
        "statements": statements,
        "decided": decided,
        "decided_fraction": round(decided / statements, 4) if statements else None,
        "unchecked_reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        "seconds_total": round(sum(secs), 3),
        "seconds_per_document_mean": round(sum(secs) / len(secs), 3) if secs else None,
        "seconds_per_document_max": round(max(secs), 3) if secs else None,
        "seconds_at_300_formulas": round(at300, 3) if at300 is not None else None,
        "not_audited": sorted(r.id for r in results if r.status != "ok"),
    }


def _audit_command(explicit: str | None) -> list[str]:
    if explicit:
        return explicit.split()
    exe = Path(sys.executable).with_name("emastats")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("emastats")
    return [found] if found else [sys.executable, "-c", "import sys; from emastats.cli import main; sys.exit(main())"]


def run_audit(path: Path, command: list[str], timeout: float) -> tuple[dict | None, str, float]:
    """Audit one file with the CLI; (the document's JSON or None, status, wall seconds)."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([*command, "audit", "--format", "json", str(path)], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timeout", time.perf_counter() - t0
    wall = time.perf_counter() - t0
    if proc.returncode == 2:
        return None, "unreadable", wall
    try:
        docs = json.loads(proc.stdout)["documents"]
        return docs[0], "ok", wall
    except (ValueError, KeyError, IndexError):
        return None, "failed", wall


def measure(corpus: Path, split: str, manifest: dict, command: list[str], window: int = WINDOW,
            timeout: float = 900.0, progress=None) -> tuple[list[DocResult], dict]:
    """Audit every document of ``split`` (a key of :data:`SPLIT_GROUPS`) and score it."""
    wanted = SPLIT_GROUPS[split]
    results = []
    for doc in manifest["documents"]:
        if doc["split"] not in wanted:
            continue
        path = corpus / doc["file"]
        if not path.exists():
            results.append(score_document(doc, None, window, status="missing"))
            continue
        audit, status, wall = run_audit(path, command, timeout)
        results.append(score_document(doc, audit, window, status=status, seconds=wall))
        if progress:
            progress(results[-1])
    return results, summarise(results)


def format_text(split: str, summary: dict, results: list[DocResult], detail: bool) -> str:
    s = summary
    rec = f"{s['high_recall']:.0%}" if s["high_recall"] is not None else "n/a"
    fp = f"{s['false_errors_per_100_formulas']:.2f}" if s["false_errors_per_100_formulas"] is not None else "n/a"
    dec = f"{s['decided_fraction']:.0%}" if s["decided_fraction"] is not None else "n/a"
    at300 = f"{s['seconds_at_300_formulas']:.1f} s" if s["seconds_at_300_formulas"] is not None else "n/a"
    lines = [
        f"split {split}: {s['documents']} documents, {s['formulas']} formulas",
        f"  high-severity recall   {s['high_found']}/{s['high_labelled']} ({rec}); low-severity found "
        f"{s['low_found']}/{s['low_labelled']}",
        f"  false errors           {s['false_errors']} ({fp} per 100 formulas; {s['false_on_controls']} on controls)",
        f"  statements decided     {s['decided']}/{s['statements']} ({dec})",
        f"  time                   {s['seconds_total']:.1f} s total, mean {s['seconds_per_document_mean']} s, "
        f"max {s['seconds_per_document_max']} s per document; 300-formula document ~ {at300}",
        "  unchecked reasons      " + (", ".join(f"{k}: {v}" for k, v in s["unchecked_reasons"].items()) or "none"),
    ]
    if s["not_audited"]:
        lines.append("  not audited            " + ", ".join(s["not_audited"]))
    if detail:
        lines.append("  per document (id: high found/labelled, false errors, decided/statements, seconds, status)")
        for r in results:
            lines.append(f"    {r.id}: {r.high_found}/{r.high_labelled}, {r.false_errors}, {r.decided}/{r.statements}, "
                         f"{r.seconds:.1f} s, {r.status}"
                         + (f"; missed lines {r.missed_high}" if r.missed_high else "")
                         + (f"; false at lines {r.false_lines}" if r.false_lines else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", required=True,
                   help="corpus root holding dev/, heldout/ and heldout2/ (e.g. /work/corpus)")
    p.add_argument("--split", choices=list(SPLIT_GROUPS), default="dev",
                   help="all = dev + heldout; everything = dev + heldout + heldout2")
    p.add_argument("--manifest", default=str(MANIFEST))
    p.add_argument("--window", type=int, default=WINDOW, help="lines either side of a label that count as a match")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--detail", action="store_true",
                   help="per-document lines (missed labels, false-error lines): use on dev only")
    p.add_argument("--emastats", default=None, help="command that runs emastats (default: the one beside python)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds allowed per document")
    args = p.parse_args(argv)
    corpus = Path(args.corpus)
    if not corpus.is_dir():
        print(f"error: corpus root {corpus} is not a directory (expected dev/, heldout/ and heldout2/ under it)", file=sys.stderr)
        return 2
    try:
        manifest = json.loads(Path(args.manifest).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"error: cannot read manifest {args.manifest}: {exc}", file=sys.stderr)
        return 2
    splits = list(SPLIT_GROUPS[args.split])
    out = {}
    texts = []
    for split in splits:
        results, summary = measure(corpus, split, manifest, _audit_command(args.emastats), args.window, args.timeout)
        out[split] = {"summary": summary, "documents": [asdict(r) for r in results] if args.detail else None}
        texts.append(format_text(split, summary, results, args.detail))
    if args.format == "json":
        print(json.dumps({"window": args.window, "splits": out}, indent=2))
    else:
        print("\n".join(texts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
