"""A persistent worker process for the symbolic work, with a memory limit and a hard kill on timeout.

sympy can hang (``simplify`` on a power tower) or eat memory, and an alarm signal only works in the main thread
and bounds no memory. So each formula's parsing and checking runs in a child process: its address space is
capped with ``resource.setrlimit(RLIMIT_AS)``, and a call that does not answer within its time bound gets the
child SIGKILLed; the next call starts a fresh child. The child is persistent otherwise, so a document's
formulas do not each pay a process start and sympy's import.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import traceback
from dataclasses import dataclass
from typing import Any, Callable

DEFAULT_MEMORY_BYTES = 1 << 30  # headroom above what the child holds when it starts
DEFAULT_TIMEOUT_S = 4.0


@dataclass(frozen=True)
class CallResult:
    """The outcome of one call: ``value`` when ``ok``; otherwise ``error`` says why (timeout, memory, bug)."""

    ok: bool
    value: Any = None
    error: str = ""
    timed_out: bool = False


def _limit_memory(extra_bytes: int) -> None:
    try:
        import resource

        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[0])
        current = pages * os.sysconf("SC_PAGE_SIZE")
        limit = current + extra_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (OSError, ValueError, ImportError):  # not Linux: the timeout still bounds the work
        pass


def _serve(conn, extra_bytes: int) -> None:
    _limit_memory(extra_bytes)
    sys.setrecursionlimit(6000)  # deep but finite expressions; the evaluator bounds its own depth
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        func, args = message
        try:
            conn.send(CallResult(True, func(*args)))
        except MemoryError:
            conn.send(CallResult(False, error="memory limit exceeded"))
        except RecursionError:
            conn.send(CallResult(False, error="expression nested too deeply"))
        except Exception as exc:  # a bug in a check: reported as unchecked, never a traceback to the user
            detail = traceback.format_exc(limit=-1).strip().splitlines()[-1]
            conn.send(CallResult(False, error=f"{type(exc).__name__}: {exc}"[:200] or detail))


class Worker:
    """Runs functions of this package in a child process; ``call`` never raises for what happens in the child."""

    def __init__(self, memory_bytes: int = DEFAULT_MEMORY_BYTES) -> None:
        self.memory_bytes = memory_bytes
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn = None
        self.kills = 0

    def warm_up(self, func: Callable[..., Any], *args: Any, timeout: float = 90.0) -> CallResult:
        """A first call with a long bound: imports and the parser's tables are built once per child."""
        return self.call(func, *args, timeout=timeout)

    def _start(self) -> None:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        parent, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, self.memory_bytes), daemon=True)
        self._process.start()
        child.close()
        self._conn = parent

    def _kill(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.kill()
        if self._process is not None:
            self._process.join(timeout=5)
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn = None, None

    def call(self, func: Callable[..., Any], *args: Any, timeout: float = DEFAULT_TIMEOUT_S) -> CallResult:
        """``func(*args)`` in the child, or a failed CallResult after ``timeout`` seconds (child killed)."""
        if self._process is None or not self._process.is_alive():
            self._kill()
            self._start()
        assert self._conn is not None
        try:
            self._conn.send((func, args))
            if not self._conn.poll(timeout):
                self.kills += 1
                self._kill()
                return CallResult(False, error=f"no answer within {timeout:.3g} s", timed_out=True)
            return self._conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError, OSError):
            self._kill()  # the child died (memory limit hit in C code, or killed)
            return CallResult(False, error="worker process died (memory limit?)")

    def close(self) -> None:
        if self._conn is not None and self._process is not None and self._process.is_alive():
            try:
                self._conn.send(None)
            except OSError:
                pass
        self._kill()

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
