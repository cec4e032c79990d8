"""The ``emastats`` command line: prove, verify, report, audit, study, bench, list.

Every user error ends in one line on stderr and exit code 2; the heavy modules
are imported only by the subcommand that needs them, so ``emastats prove``
never pays for importing torch.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from typing import Sequence

from . import params
from .errors import EmastatsError


class _Parser(argparse.ArgumentParser):
    """argparse, but its errors are one line (no usage dump) and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


DESCRIPTION = ("Prove and simulate claims about deep-learning optimisation, audit course notes, and write "
               "offline reports. Run 'emastats COMMAND --help' for one command's options.")
_STORE_HELP = "result store folder (default reports/results)"
_OUT_HELP = "folder the report (index.html, index.md, summary.json) is written to (default reports)"


def _add_format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")


def _add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto = cuda when available)")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="emastats", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"emastats {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("list", help="list the claim catalogue")
    _add_format(p)

    p = sub.add_parser("prove", help="prove or refute the catalogue's claims symbolically")
    p.add_argument("--claim", action="append", metavar="ID", help="claim id or topic prefix (repeatable)")
    # numeric options arrive as text and are checked by emastats.params, the same way for every command
    p.add_argument("--time-limit", default=30.0, metavar="S", help="seconds per proof (default 30)")
    p.add_argument("--jobs", default=None, metavar="N",
                   help="worker processes (default min(2, CPUs); 1 = run in this process)")
    _add_format(p)

    p = sub.add_parser("verify", help="prove and simulate the catalogue, write the result store")
    p.add_argument("--claim", action="append", metavar="ID", help="claim id or topic prefix (repeatable)")
    p.add_argument("--quick", action="store_true", help="smaller Monte Carlo budget (< 1 minute)")
    p.add_argument("--seed", default=20261122, help="seed of the run (default 20261122)")
    p.add_argument("--resume", action="store_true", help="reuse stored records of the current code and settings, finished or interrupted; "
                   "re-run the missing, stale or invalid ones (with --quick, full-budget records are kept)")
    p.add_argument("--store", default="reports/results", metavar="DIR", help=_STORE_HELP)
    p.add_argument("--no-report", action="store_true", help="do not render reports/ after verifying")
    p.add_argument("--out", default="reports", metavar="DIR", help=_OUT_HELP)
    _add_device(p)
    _add_format(p)

    p = sub.add_parser("report", help="render reports from the result store, without re-running")
    p.add_argument("--store", default="reports/results", metavar="DIR", help=_STORE_HELP)
    p.add_argument("--out", default="reports", metavar="DIR", help=_OUT_HELP)

    p = sub.add_parser("audit", help="find mathematical errors in course notes (.md .qmd .ipynb .tex .txt .pdf .html)")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="notes files: .md, .markdown, .qmd, .rmd, .ipynb, .tex, .txt, .pdf, .html, .htm")
    p.add_argument("--report", action="store_true", help="also save the audit in the store and render the report")
    p.add_argument("--explain", metavar="CODE", nargs="?", const="", help="explain a finding code and exit "
                   "(without CODE: how to list the codes)")
    p.add_argument("--list-codes", action="store_true", help="list every finding code with its severity and exit")
    p.add_argument("--show-model", action="store_true",
                   help="print each document's model (scopes, symbols and their roles) instead of auditing")
    p.add_argument("--store", default="reports/results", metavar="DIR", help=_STORE_HELP + " (with --report)")
    p.add_argument("--out", default="reports", metavar="DIR", help=_OUT_HELP + " (with --report)")
    p.add_argument("--format", choices=("text", "json", "sarif", "github"), default="text",
                   help="text (default), json, sarif (SARIF 2.1.0 for code scanning) or github (workflow annotations)")

    p = sub.add_parser("study", help="run an empirical study (sgd-noise, clipping, temperature, adam-coupling, "
                                     "noise-scale, critical-batch, clipping-bias, scaling-rules)")
    p.add_argument("name", metavar="NAME", help="sgd-noise, clipping, temperature, adam-coupling, noise-scale, "
                                                "critical-batch, clipping-bias or scaling-rules")
    p.add_argument("--quick", action="store_true", help="small budget (< 90 s on 2 CPU cores)")
    p.add_argument("--seed", default=20261122, help="seed of the run (default 20261122)")
    p.add_argument("--store", default="reports/results", metavar="DIR", help=_STORE_HELP)
    p.add_argument("--scheduler", default="local", metavar="ADDRESS",
                   help="where a study's grid of training runs goes: 'local' (a Dask LocalCluster on this machine, "
                        "default), 'serial' (this process) or a Dask scheduler address such as tcp://host:8786")
    p.add_argument("--workers", default=2, metavar="N", help="LocalCluster worker processes (default 2)")
    p.add_argument("--fresh", action="store_true",
                   help="re-run every grid cell instead of reusing the cells already in the store")
    _add_device(p)
    _add_format(p)

    p = sub.add_parser("bench", help="measure the Monte Carlo kernels' speed")
    p.add_argument("--quick", action="store_true", help="fewer repetitions")
    _add_device(p)
    _add_format(p)
    return parser


# Each subcommand's implementation: module path and function taking the parsed args, returning an exit code.
_COMMANDS = {
    "list": "emastats.cli:_cmd_list",
    "prove": "emastats.cli:_cmd_prove",
    "verify": "emastats.verification:run_cli",
    "report": "emastats.report:run_cli",
    "audit": "emastats.audit.command:run_cli",
    "study": "emastats.studies:run_cli",
    "bench": "emastats.montecarlo.bench:run_cli",
}


def _cmd_list(args: argparse.Namespace) -> int:
    from . import catalogue

    claims = list(catalogue.CLAIMS.values())
    if args.format == "json":
        print(json.dumps({"claims": [c.to_dict() for c in claims]}, indent=2))
    else:
        width = max(len(c.id) for c in claims)
        for c in claims:
            print(f"{c.id:<{width}}  {c.title}")
    return 0


def prove_payload(results, claims, seconds: float) -> dict:
    """The JSON document of ``emastats prove --format json``."""
    from .provenance import run_metadata

    by_id = {c.id: c for c in claims}
    rows = []
    for r in results:
        c = by_id[r.claim_id]
        rows.append({
            "id": c.id,
            "title": c.title,
            "verdict": str(r.verdict),
            "sources": [s.to_dict() for s in c.sources],
            "statement": c.statement,
            "corrected": c.corrected,
            "corrected_verdict": str(r.corrected_verdict) if r.corrected_verdict else None,
            "method": r.method,
            "steps": list(r.steps),
            "counterexample": dict(r.counterexample) if r.counterexample else None,
            "reason": r.reason,
            "seconds": r.seconds,
        })
    return {"claims": rows, "meta": run_metadata(command="prove", wall_seconds=round(seconds, 3))}


def _cmd_prove(args: argparse.Namespace) -> int:
    from . import catalogue
    from .proving import prove
    from .render_text import verdict_table
    from .verdict import Verdict

    claims = catalogue.select(args.claim)
    start = time.perf_counter()
    results = prove(claims, args.time_limit, jobs=args.jobs)
    seconds = time.perf_counter() - start
    if args.format == "json":
        print(json.dumps(prove_payload(results, claims, seconds), indent=2))
    else:
        print(verdict_table(results, verbose=True))
        print(f"wall time {seconds:.1f} s")
    return 1 if any(r.verdict is Verdict.ERROR for r in results) else 0


def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    args = build_parser().parse_args(argv)
    args.started = started  # commands that report a total time count from here
    module_name, func_name = _COMMANDS[args.command].split(":")
    try:
        params.check(args)  # every numeric option and variable, one message each, before any work
        func = getattr(importlib.import_module(module_name), func_name)
        return int(func(args) or 0)
    except EmastatsError as exc:
        print(f"emastats: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("emastats: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into head
        return 0
    except OSError as exc:  # the OS refused a file: the user's to fix (permissions, disk space), not a bug
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"emastats: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: still one line, the traceback on request
        if os.environ.get("EMASTATS_DEBUG"):
            raise
        print(f"emastats: internal error: {type(exc).__name__}: {exc} (set EMASTATS_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
