"""What a result must carry to be reproducible: versions, machine, commit, time."""
from __future__ import annotations

import datetime as _dt
import importlib.metadata as _md
import platform
import subprocess
from pathlib import Path
from typing import Any


def package_version(name: str) -> str | None:
    try:
        return _md.version(name)
    except _md.PackageNotFoundError:
        return None


def git_commit(start: Path | None = None) -> str | None:
    """The commit of the checkout we run from, when there is one (None otherwise)."""
    where = start or Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def run_metadata(**extra: Any) -> dict[str, Any]:
    """Versions of everything that can change a number, plus the caller's fields."""
    meta: dict[str, Any] = {
        "emastats": package_version("emastats"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sympy": package_version("sympy"),
        "numpy": package_version("numpy"),
        "scipy": package_version("scipy"),
        "statsmodels": package_version("statsmodels"),
        "torch": package_version("torch"),
        "git_commit": git_commit(),
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    meta.update(extra)
    return meta
