"""Running the symbolic proofs: a registry keyed by claim id and a time-bounded runner.

Proof functions live in ``proofs/`` (installed as ``emastats.proofs``). Each is a
function of no arguments decorated with ``@proof("claim.id")`` that returns a
``Derivation`` built with ``proved``, ``refuted`` or ``inconclusive``. The runner
adds the claim id and the time taken, turns a timeout or a sympy limitation into
INCONCLUSIVE and any other exception into ERROR.
"""
from __future__ import annotations

import importlib
import pkgutil
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

from .claim import Claim
from .results import ProofResult
from .verdict import Verdict

DEFAULT_TIME_LIMIT = 30.0  # seconds per claim; a proof that needs longer is INCONCLUSIVE


@dataclass(frozen=True)
class Derivation:
    """What a proof function returns; the runner turns it into a ProofResult."""

    verdict: Verdict
    method: str
    steps: tuple[str, ...] = ()
    counterexample: Mapping[str, str] | None = None
    corrected_verdict: Verdict | None = None
    reason: str = ""


def proved(method: str, steps: tuple[str, ...] | list[str] = (), corrected: Verdict | None = None) -> Derivation:
    return Derivation(Verdict.PROVED, method, tuple(steps), corrected_verdict=corrected)


def refuted(
    method: str,
    counterexample: Mapping[str, object],
    steps: tuple[str, ...] | list[str] = (),
    corrected: Verdict | None = None,
) -> Derivation:
    """A refutation must come with concrete values a reader can check by hand."""
    if not counterexample:
        raise ValueError("a refutation needs a concrete counterexample")
    return Derivation(
        Verdict.REFUTED,
        method,
        tuple(steps),
        counterexample={str(k): str(v) for k, v in counterexample.items()},
        corrected_verdict=corrected,
    )


def inconclusive(method: str, reason: str, steps: tuple[str, ...] | list[str] = ()) -> Derivation:
    return Derivation(Verdict.INCONCLUSIVE, method, tuple(steps), reason=reason)


ProofFunction = Callable[[], Derivation]
_REGISTRY: dict[str, ProofFunction] = {}


def proof(claim_id: str) -> Callable[[ProofFunction], ProofFunction]:
    """Register the decorated function as the proof of ``claim_id``."""

    def register(fn: ProofFunction) -> ProofFunction:
        previous = _REGISTRY.get(claim_id)
        if previous is not None and previous.__qualname__ != fn.__qualname__:
            raise RuntimeError(f"two proofs for {claim_id}: {previous.__qualname__} and {fn.__qualname__}")
        fn.claim_id = claim_id  # type: ignore[attr-defined]
        _REGISTRY[claim_id] = fn
        return fn

    return register


def registered() -> dict[str, ProofFunction]:
    """Every proof in the installed ``emastats.proofs`` package, by claim id."""
    from .layout import load_package

    package = load_package("proofs")
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{info.name}")
    return dict(_REGISTRY)


class ProofTimeout(Exception):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ProofTimeout after ``seconds`` (main thread only; elsewhere no bound).

    Catalogue proofs are our own trusted code, so an alarm is enough here; the
    audit, which handles untrusted input, uses a killable worker process instead.
    """
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):  # noqa: ARG001
        raise ProofTimeout

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_proof(claim: Claim, fn: ProofFunction | None, time_limit_s: float = DEFAULT_TIME_LIMIT) -> ProofResult:
    """Run one proof under a time bound and wrap what it says in a ProofResult."""
    start = time.perf_counter()
    if fn is None:
        return ProofResult(claim.id, Verdict.NOT_RUN, "none", reason="no proof is registered for this claim")
    try:
        with time_limit(time_limit_s):
            d = fn()
    except ProofTimeout:
        d = inconclusive("timeout", f"sympy did not finish within {time_limit_s:g} s")
    except NotImplementedError as exc:  # sympy's way of saying it cannot do something
        d = inconclusive("sympy limitation", f"sympy could not do it: {exc}".strip())
    except Exception as exc:  # a broken proof must not take the whole run down
        d = Derivation(Verdict.ERROR, "exception", reason=f"{type(exc).__name__}: {exc}")
    if claim.corrected is not None and d.verdict is Verdict.REFUTED and d.corrected_verdict is None:
        d = Derivation(d.verdict, d.method, d.steps, d.counterexample, Verdict.NOT_RUN,
                       d.reason or "the corrected statement was not checked")
    return ProofResult(
        claim_id=claim.id,
        verdict=d.verdict,
        method=d.method,
        steps=d.steps,
        counterexample=d.counterexample,
        corrected_verdict=d.corrected_verdict,
        reason=d.reason,
        seconds=round(time.perf_counter() - start, 4),
    )


def prove(claims: list[Claim], time_limit_s: float = DEFAULT_TIME_LIMIT) -> list[ProofResult]:
    """Run the proofs of ``claims`` in order."""
    proofs = registered()
    return [run_proof(c, proofs.get(c.id), time_limit_s) for c in claims]


def script_main(module_name: str = "__main__") -> int:
    """Entry point of a ``proofs/*.py`` script run on its own: prove its claims, print a table."""
    from . import catalogue
    from .render_text import verdict_table

    mine = {cid: fn for cid, fn in _REGISTRY.items() if fn.__module__ == module_name}
    results = [run_proof(catalogue.get(cid), fn) for cid, fn in mine.items()]
    print(verdict_table(results, verbose=True))
    return 0 if all(r.verdict is not Verdict.ERROR for r in results) else 1
