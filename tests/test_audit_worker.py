"""The worker process: hard kill on timeout, memory bound, errors as values, restart after a kill."""
from __future__ import annotations

import time

from emastats.audit.worker import Worker


def _sleep(seconds: float) -> str:
    time.sleep(seconds)
    return "woke"


def _allocate(n_bytes: int) -> int:
    block = bytearray(n_bytes)
    return len(block)


def _fail() -> None:
    raise ValueError("bad formula")


def _square(x: int) -> int:
    return x * x


def test_timeout_kills_and_the_next_call_restarts():
    with Worker() as worker:
        result = worker.call(_sleep, 30, timeout=0.5)
        assert not result.ok and result.timed_out
        assert worker.kills == 1
        assert worker.call(_square, 7).value == 49


def test_memory_limit_is_an_error_not_a_crash():
    with Worker(memory_bytes=200 << 20) as worker:
        result = worker.call(_allocate, 2 << 30, timeout=20)
        assert not result.ok and "memory" in result.error
        assert worker.call(_allocate, 1 << 20).value == 1 << 20


def test_exceptions_come_back_as_values():
    with Worker() as worker:
        result = worker.call(_fail)
        assert not result.ok and "bad formula" in result.error
        assert worker.call(_square, 3).value == 9
