"""Empirical studies: SGD noise, clipping, temperature, Adam coupling; on the digits: noise scale, critical
batch, clipping bias, scaling rules.

A study is a module ``experiments/study_<name>.py`` (installed as
``emastats.experiments.study_<name>``) with a function ``run(ctx) -> StudyFacts``.
It receives the Monte Carlo engine's ``Context`` (seeded generator, device,
replica budget, ``check_*`` recorders, ``add_series``) and records its
comparisons as checks. The runner decides all checks of one study as one
family with the engine's rules (``emastats.montecarlo.stats``: simultaneous
intervals, Holm's correction for REFUTED, equivalence margins for CONFIRMED,
INCONCLUSIVE otherwise), and returns a ``StudyResult`` that the CLI prints and
saves to the result store as an ``emastats.study/1`` record; ``emastats report``
draws its series as figures.

Studies on the digits (``noise-scale``, ``critical-batch``, ``clipping-bias``,
``scaling-rules``) train many networks:
their ``run(ctx, sweep)`` hands a grid of cells to ``emastats.studies.sweep``,
which runs it serially or on Dask and streams each cell into the store.
"""
from __future__ import annotations

import argparse
import importlib
import json
import time
from types import ModuleType

from ..errors import UsageError
from .result import ExactValue, StudyFacts, StudyResult, StudyValue
from .sweep import SweepOptions

# study name on the command line -> module in experiments/
STUDIES: dict[str, str] = {
    "sgd-noise": "study_sgd_noise",
    "clipping": "study_clipping",
    "temperature": "study_temperature",
    "adam-coupling": "study_adam_coupling",
    "noise-scale": "study_noise_scale",
    "critical-batch": "study_critical_batch",
    "clipping-bias": "study_clipping_bias",
    "scaling-rules": "study_scaling_rules",
}

__all__ = ["STUDIES", "ExactValue", "StudyFacts", "StudyResult", "StudyValue", "load_study", "run_cli", "run_study"]


def load_study(name: str) -> ModuleType:
    """The module defining study ``name``; a one-line UsageError listing the valid names otherwise."""
    if name not in STUDIES:
        raise UsageError(f"unknown study {name!r}; valid studies: {', '.join(STUDIES)}")
    from ..layout import load_package

    package = load_package("experiments")
    return importlib.import_module(f"{package.__name__}.{STUDIES[name]}")


def run_study(name: str, *, quick: bool = False, seed: int = 20261122, device: str = "auto",
              replicas: int | None = None, sweep: SweepOptions | None = None) -> StudyResult:
    """Run study ``name`` and decide its checks as one family.

    ``replicas`` overrides the engine's per-claim budget (before the --quick
    division); tests use it to run a study at a tiny budget. ``sweep`` says
    where a study with a grid of training runs runs it (default: serially in
    this process, nothing written); studies without a grid ignore it.
    """
    import inspect

    import torch

    from ..montecarlo import Context, describe, resolve_device
    from ..montecarlo import stats
    from ..montecarlo.runner import budget, claim_seed, make_generator
    from ..provenance import run_metadata

    module = load_study(name)
    dev = resolve_device(device)
    key = f"study.{name}"
    cseed = claim_seed(seed, key)
    ctx = Context(claim_id=key, seed=int(seed), claim_seed=cseed, device=dev,
                  generator=make_generator(dev, cseed), quick=quick, replicas=budget(quick, replicas))
    start = time.perf_counter()
    takes_sweep = "sweep" in inspect.signature(module.run).parameters
    facts: StudyFacts = module.run(ctx, sweep=sweep) if takes_sweep else module.run(ctx)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    seconds = round(time.perf_counter() - start, 3)
    values = tuple(StudyValue.from_check(c) for c in stats.finalise(ctx.checks))
    result = StudyResult(
        name=name, title=facts.title, question=facts.question, conclusion="", values=values, exact=facts.exact,
        series=tuple(ctx.series), seed=int(seed), device=describe(dev), quick=quick, seconds=seconds,
        params=dict(ctx.params), meta=run_metadata(command=f"study {name}", replicas=ctx.replicas),
    )
    return _with_conclusion(result, facts.findings)


def _with_conclusion(result: StudyResult, findings: tuple[str, ...]) -> StudyResult:
    from dataclasses import replace

    counts = ", ".join(f"{n} {v}" for v, n in sorted(result.verdict_counts.items()))
    controls = [v for v in result.values if v.control]
    control_text = ""
    if controls:
        refuted = sum(v.verdict.value == "REFUTED" for v in controls)
        control_text = f" Negative controls refuted: {refuted} of {len(controls)}."
    summary = f"Checks: {counts or 'none'}.{control_text}"
    return replace(result, conclusion=" ".join((*findings, summary)))


# ----- command line --------------------------------------------------------------------------------

def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.4g}"


def render_text(result: StudyResult) -> str:
    """A plain-text table of the study's values and exact numbers."""
    lines = [f"{result.title}  [{result.name}, seed {result.seed}, {result.device}, {result.seconds:.1f} s"
             f"{', quick' if result.quick else ''}]", ""]
    width = max([len(v.name) for v in result.values] + [len(e.name) for e in result.exact] + [5])
    lines.append(f"{'value':<{width}}  {'estimate':>10}  {'interval':>23}  {'theory':>10}  verdict")
    for v in result.values:
        interval = f"[{_fmt(v.ci_low)}, {_fmt(v.ci_high)}]"
        tag = " (control)" if v.control else ""
        lines.append(f"{v.name:<{width}}  {_fmt(v.estimate):>10}  {interval:>23}  {_fmt(v.theory):>10}  {v.verdict}{tag}")
    for e in result.exact:
        how = "exact" if e.ci_low is None else f"[{_fmt(e.ci_low)}, {_fmt(e.ci_high)}] (untested)"
        lines.append(f"{e.name:<{width}}  {_fmt(e.value):>10}  {how:>23}")
    lines += ["", result.conclusion]
    return "\n".join(lines)


def run_cli(args: argparse.Namespace) -> int:
    """``emastats study NAME``: run, save to the result store, print."""
    from ..report.store import ResultStore

    load_study(args.name)  # an unknown name fails before any work
    scheduler = getattr(args, "scheduler", "serial")
    workers = getattr(args, "workers", 2)
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    if scheduler not in ("serial", "local") and ":" not in scheduler:
        raise UsageError(f"--scheduler must be 'local', 'serial' or a Dask scheduler address like "
                         f"tcp://host:8786, got {scheduler!r}")
    sweep = SweepOptions(scheduler=scheduler, workers=workers, store=args.store,
                         resume=not getattr(args, "fresh", False))
    result = run_study(args.name, quick=args.quick, seed=args.seed, device=args.device, sweep=sweep)
    path = ResultStore(args.store).save_document(result.to_dict())
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(render_text(result))
        print(f"saved to {path}; 'emastats report --store {args.store}' draws its figures")
    return 0
