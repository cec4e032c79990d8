"""Where proofs/ and experiments/ are found.

They sit at the top of the repository so that they are easy to read and run on
their own. An installed emastats carries them as ``emastats.proofs`` and
``emastats.experiments`` (see pyproject's package-dir); in a source checkout that
is imported without installing, they are loaded from beside the package.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_package(name: str) -> ModuleType:
    """Import ``emastats.<name>`` (``proofs`` or ``experiments``) wherever it lives."""
    full = f"emastats.{name}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name != full:
            raise
    init = Path(__file__).resolve().parent.parent / name / "__init__.py"
    if not init.is_file():
        raise ModuleNotFoundError(f"neither {full} nor {init} exists", name=full)
    spec = importlib.util.spec_from_file_location(full, init, submodule_search_locations=[str(init.parent)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[full] = module
    spec.loader.exec_module(module)
    return module
