"""Running the symbolic proofs: a registry keyed by claim id and a time-bounded runner.

Proof functions live in ``proofs/`` (installed as ``emastats.proofs``). Each is a
function of no arguments decorated with ``@proof("claim.id")`` that returns a
``Derivation`` built with ``proved``, ``refuted`` or ``inconclusive``. The runner
adds the claim id and the time taken, turns a timeout or a sympy limitation into
INCONCLUSIVE and any other exception into ERROR.

:func:`prove` runs many proofs, by default in a small pool of spawned worker
processes (see :func:`default_jobs`); a worker that dies or hangs costs only the
claim it was proving, which becomes ERROR or a timeout.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from multiprocessing.connection import Connection, wait
from typing import Callable, Iterator, Mapping, Sequence

from .claim import Claim, Formula
from .registry import Registry
from .results import ProofResult
from .verdict import Verdict

DEFAULT_TIME_LIMIT = 30.0  # seconds per claim; a proof that needs longer is INCONCLUSIVE


@dataclass(frozen=True)
class Derivation:
    """What a proof function returns; the runner turns it into a ProofResult.

    The fields mean what ProofResult's do: ``method`` names the argument in a few
    words, ``steps`` are its key lines in LaTeX, ``counterexample`` the exact values
    of a refutation, ``corrected_verdict`` the verdict on the claim's corrected
    statement, ``reason`` why a verdict is not PROVED or REFUTED.
    """

    verdict: Verdict
    method: str
    steps: tuple[str, ...] = ()
    counterexample: Mapping[str, str] | None = None
    corrected_verdict: Verdict | None = None
    reason: str = ""


def proved(method: str, steps: tuple[str, ...] | list[str] = (), corrected: Verdict | None = None) -> Derivation:
    """The claim holds under its assumptions, by ``method``."""
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
    """Neither proved nor refuted; ``reason`` says what could not be decided."""
    return Derivation(Verdict.INCONCLUSIVE, method, tuple(steps), reason=reason)


_BEING_PROVED: list[Claim] = []  # the claims whose proofs run_proof is running (innermost last)


def claimed(claim_id: str, corrected: bool = False) -> Formula:
    """The formula claim ``claim_id`` asserts (``corrected``: the law that holds instead), for its proof to prove.

    It is taken from the claim object :func:`run_proof` was given when that is the
    claim being proved (so a claim edited in memory is proved as edited), else from
    the catalogue. A proof never retypes the formula.
    """
    from . import catalogue

    claim = next((c for c in reversed(_BEING_PROVED) if c.id == claim_id), None) or catalogue.get(claim_id)
    formula = claim.corrected_formula if corrected else claim.formula
    if formula is None:
        raise LookupError(f"claim {claim_id} has no {'corrected ' if corrected else ''}formula in the catalogue")
    return formula


ProofFunction = Callable[[], Derivation]
PROOFS: Registry[ProofFunction] = Registry("proof", "proofs")


def proof(claim_id: str) -> Callable[[ProofFunction], ProofFunction]:
    """Register the decorated function as the proof of ``claim_id``."""
    return PROOFS.register(claim_id)


def registered() -> dict[str, ProofFunction]:
    """Every proof in the installed ``emastats.proofs`` package, by claim id."""
    return PROOFS.load()


class ProofTimeout(Exception):
    """Raised inside a proof by :func:`time_limit` when its time is up."""


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


def _result(claim: Claim, d: Derivation, seconds: float) -> ProofResult:
    """The ProofResult of ``claim`` from what its proof said.

    A refutation of a claim that has a corrected statement but says nothing about
    it gets ``corrected_verdict = NOT_RUN``, so a report never shows a blank there.
    """
    if claim.corrected is not None and d.verdict is Verdict.REFUTED and d.corrected_verdict is None:
        d = replace(d, corrected_verdict=Verdict.NOT_RUN, reason=d.reason or "the corrected statement was not checked")
    said = {f.name: getattr(d, f.name) for f in fields(Derivation)}
    return ProofResult(claim_id=claim.id, seconds=round(seconds, 4), **said)


def run_proof(claim: Claim, fn: ProofFunction | None, time_limit_s: float = DEFAULT_TIME_LIMIT) -> ProofResult:
    """Run one proof under a time bound and wrap what it says in a ProofResult."""
    start = time.perf_counter()
    if fn is None:
        return ProofResult(claim.id, Verdict.NOT_RUN, "none", reason="no proof is registered for this claim")
    _BEING_PROVED.append(claim)
    try:
        with time_limit(time_limit_s):
            d = fn()
    except ProofTimeout:
        d = inconclusive("timeout", f"sympy did not finish within {time_limit_s:g} s")
    except NotImplementedError as exc:  # sympy's way of saying it cannot do something
        d = inconclusive("sympy limitation", f"sympy could not do it: {exc}".strip())
    except Exception as exc:  # a broken proof must not take the whole run down
        d = Derivation(Verdict.ERROR, "exception", reason=f"{type(exc).__name__}: {exc}")
    finally:
        _BEING_PROVED.pop()
    return _result(claim, d, time.perf_counter() - start)


def default_jobs() -> int:
    """Worker processes for :func:`prove`: ``min(2, cpu count)``.

    The whole catalogue takes tens of seconds of CPU, and each worker pays about
    a second to import sympy and the proofs, so more than two rarely pays off.
    """
    return max(1, min(2, os.cpu_count() or 1))


def prove(
    claims: Sequence[Claim], time_limit_s: float = DEFAULT_TIME_LIMIT, jobs: int | None = None
) -> list[ProofResult]:
    """Run the proofs of ``claims`` and return their results in the order of ``claims``.

    ``jobs=1`` runs them one after another in this process. More (default
    :func:`default_jobs`) run them in that many spawned worker processes, never
    more than there are claims; each worker imports the proof modules once and
    bounds each proof by ``time_limit_s`` with its own alarm. As with any spawned
    pool, a script calling this must guard its entry point with
    ``if __name__ == "__main__":``.
    """
    jobs = default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if jobs == 1 or len(claims) <= 1:
        proofs = registered()
        return [run_proof(c, proofs.get(c.id), time_limit_s) for c in claims]
    return _prove_in_pool(list(claims), time_limit_s, min(jobs, len(claims)))


# --- the worker pool -------------------------------------------------------------------------------------------

# A worker whose own alarm has not answered this long after the time limit is stuck outside Python bytecode
# (where SIGALRM cannot interrupt it) and is killed; the claim is then reported as a timeout.
KILL_GRACE_S = 10.0
_READY = "ready"


def _worker_main(conn: Connection, time_limit_s: float) -> None:
    """Body of a worker process: import the proofs once, then prove each claim sent until None arrives."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it ends the workers
    proofs = registered()
    conn.send(_READY)
    while True:
        try:
            claim = conn.recv()
        except EOFError:  # the parent has gone
            return
        if claim is None:
            return
        conn.send(run_proof(claim, proofs.get(claim.id), time_limit_s))


@dataclass
class _Worker:
    """A worker process, its end of the pipe, and the claim (an index into the run's list) it is proving."""

    process: multiprocessing.process.BaseProcess
    conn: Connection
    ready: bool = False
    task: int | None = None
    sent_at: float = 0.0


def _prove_in_pool(claims: list[Claim], time_limit_s: float, workers: int) -> list[ProofResult]:
    """:func:`prove` with ``workers`` spawned processes; see there.

    Each worker gets one claim at a time, so when one dies (a segfault, the OOM
    killer) or stops answering, the claim it held is known: it becomes ERROR
    (died) or INCONCLUSIVE (timeout), the worker is replaced, and the run goes on.
    """
    context = multiprocessing.get_context("spawn")  # fork is unsafe with threads (torch) in the parent
    results: list[ProofResult | None] = [None] * len(claims)
    todo = deque(range(len(claims)))
    pool: list[_Worker] = []

    def start_worker() -> _Worker:
        parent_end, child_end = context.Pipe()
        process = context.Process(target=_worker_main, args=(child_end, time_limit_s), daemon=True,
                                  name="emastats-prove")
        process.start()
        child_end.close()
        return _Worker(process, parent_end)

    def hand_out(worker: _Worker) -> None:
        if not todo:
            return
        task = todo.popleft()
        try:
            worker.conn.send(claims[task])
        except OSError:  # it died just after its last answer: the claim goes back, the death is seen next round
            todo.appendleft(task)
            return
        worker.task, worker.sent_at = task, time.perf_counter()

    def lost(worker: _Worker, d: Derivation) -> None:
        """Record ``d`` for the worker's claim (or for the run, if it died importing) and replace the worker."""
        worker.process.kill()
        worker.process.join()
        pool.remove(worker)
        if worker.task is not None:
            results[worker.task] = _result(claims[worker.task], d, time.perf_counter() - worker.sent_at)
        elif not worker.ready:  # it died before proving anything, and a new worker would too
            raise RuntimeError(f"a proof worker died while starting (exit code {worker.process.exitcode}); a script "
                               "that calls prove() with jobs > 1 needs an 'if __name__ == \"__main__\":' guard")
        if todo:
            pool.append(start_worker())

    def deadline(worker: _Worker) -> float:
        return worker.sent_at + time_limit_s + KILL_GRACE_S

    try:
        pool.extend(start_worker() for _ in range(workers))
        while any(r is None for r in results):
            deadlines = [deadline(w) for w in pool if w.task is not None]
            timeout = max(0.05, min(deadlines) - time.perf_counter()) if deadlines else None
            wait([w.conn for w in pool] + [w.process.sentinel for w in pool], timeout)
            for worker in list(pool):
                message = None
                if worker.conn.poll():
                    try:
                        message = worker.conn.recv()
                    except EOFError:  # it died; is_alive() below says so once it has exited
                        pass
                if message == _READY:
                    worker.ready = True
                    hand_out(worker)
                elif isinstance(message, ProofResult) and worker.task is not None:
                    results[worker.task] = message
                    worker.task = None
                    hand_out(worker)
                elif not worker.process.is_alive():
                    code = worker.process.exitcode
                    lost(worker, Derivation(Verdict.ERROR, "worker died",
                                            reason=f"the proof's worker process died (exit code {code})"))
                elif worker.task is not None and time.perf_counter() > deadline(worker):
                    lost(worker, inconclusive("timeout", f"the proof's worker did not answer within "
                                                         f"{time_limit_s + KILL_GRACE_S:g} s and was stopped"))
    finally:
        for worker in pool:
            if worker.process.is_alive() and worker.task is None:
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
        for worker in pool:
            worker.process.join(timeout=2)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
    return [r for r in results if r is not None]


def script_main(module_name: str = "__main__") -> int:
    """Entry point of a ``proofs/*.py`` script run on its own: prove its claims in-process, print a table."""
    from . import catalogue
    from .render_text import verdict_table

    mine = PROOFS.defined_in(module_name)
    results = [run_proof(catalogue.get(cid), fn) for cid, fn in mine.items()]
    print(verdict_table(results, verbose=True))
    return 0 if all(r.verdict is not Verdict.ERROR for r in results) else 1
