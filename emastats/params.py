"""The numeric parameters of every command, checked in one place, so that an option says the same thing
(one line, exit 2) whichever command it is given to.

``check(args)`` runs on the parsed command line before any command starts: it
parses each numeric option that the command has (they reach it as text or as
their default) and replaces it by its value, or raises ``UsageError``. It also
checks the environment variables that set numbers (``EMASTATS_CPU_THREADS``).
Non-finite values (nan, inf), values that overflow (1e308 seconds) and absurd
ones (100000 threads, a negative seed) are refused, never passed on to fail later.
"""
from __future__ import annotations

import math
import os
from typing import Any, Callable, Mapping

from .errors import UsageError

SEED_LIMIT = 2**63  # torch.Generator.manual_seed takes a 64-bit seed; ours must also fit a signed int
MAX_TIME_LIMIT_S = 86_400.0  # a day per proof: more is a typo, and huge values overflow the alarms
THREADS_ENV = "EMASTATS_CPU_THREADS"


def _cpus() -> int:
    return max(1, os.cpu_count() or 1)


def _integer(name: str, raw: Any, low: int, high: int, what: str) -> int:
    """``raw`` as an integer in [low, high]; anything else is a UsageError saying ``name must be what``."""
    value: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str):
        try:
            value = int(raw.strip())
        except ValueError:  # "1e23", "1.5", "abc", or more digits than Python converts
            value = None
    if value is None or not low <= value <= high:
        raise UsageError(f"{name} must be {what}, got {str(raw)[:40]!r}")
    return value


def seed(raw: Any, name: str = "--seed") -> int:
    """A run's seed: an integer in [0, 2^63)."""
    return _integer(name, raw, 0, SEED_LIMIT - 1, "an integer in [0, 2^63)")


def jobs(raw: Any, name: str = "--jobs") -> int:
    """Worker processes: an integer from 1 to the number of CPUs."""
    n = _cpus()
    return _integer(name, raw, 1, n, f"an integer from 1 to {n} (the CPUs of this machine)")


def workers(raw: Any, name: str = "--workers") -> int:
    """Worker processes of a study's LocalCluster: an integer from 1 to the number of CPUs."""
    n = _cpus()
    return _integer(name, raw, 1, n, f"an integer from 1 to {n} (the CPUs of this machine)")


def cpu_threads(raw: Any, name: str = THREADS_ENV) -> int:
    """Intra-op CPU threads: an integer from 1 to the number of CPUs."""
    n = _cpus()
    return _integer(name, raw, 1, n, f"an integer from 1 to {n} (the CPUs of this machine)")


def time_limit(raw: Any, name: str = "--time-limit") -> float:
    """Seconds for one proof: a finite number in (0, 86400]."""
    value: float | None = None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            value = None
    if value is None or not math.isfinite(value) or not 0 < value <= MAX_TIME_LIMIT_S:
        raise UsageError(f"{name} must be a number of seconds in (0, {MAX_TIME_LIMIT_S:g}], got {str(raw)[:40]!r}")
    return value


# Every numeric option of the command line: argparse destination -> (option, check).
OPTIONS: Mapping[str, tuple[str, Callable[[Any, str], Any]]] = {
    "seed": ("--seed", seed),
    "time_limit": ("--time-limit", time_limit),
    "jobs": ("--jobs", jobs),
    "workers": ("--workers", workers),
}


def check_environment(env: Mapping[str, str] | None = None) -> None:
    """UsageError when a numeric environment variable is set to something unusable."""
    env = os.environ if env is None else env
    if env.get(THREADS_ENV) is not None:
        cpu_threads(env[THREADS_ENV])


def check(args: Any) -> Any:
    """Validate and convert the numeric options ``args`` has (None means unset and stays None)."""
    for dest, (option, validate) in OPTIONS.items():
        value = getattr(args, dest, None)
        if value is not None:
            setattr(args, dest, validate(value, option))
    check_environment()
    return args
