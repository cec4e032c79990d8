"""A registry of functions keyed by claim id, filled by a decorator and by importing a package.

The proofs (``emastats.proving``) and the Monte Carlo experiments
(``emastats.montecarlo.registry``) are both found this way: each module of
``proofs/`` or ``experiments/`` decorates its functions with ``@proof("id")`` /
``@experiment("id")``, and :meth:`Registry.load` imports every module of the
package (see ``emastats.layout.load_package``) so that all decorators have run.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Generic, TypeVar

F = TypeVar("F", bound=Callable[..., object])


class Registry(Generic[F]):
    """Functions of one kind (``what``: "proof", "experiment") by claim id, discovered in package ``package``.

    Registering a second, different function (by qualified name) for a claim id
    is an error; registering the same one again (a module imported twice, e.g.
    as a script and as a package member) replaces it.
    """

    def __init__(self, what: str, package: str) -> None:
        self.what = what
        self.package = package
        self._functions: dict[str, F] = {}

    def register(self, claim_id: str) -> Callable[[F], F]:
        """Decorator: record the function as the ``what`` of ``claim_id`` and set its ``claim_id`` attribute."""

        def record(fn: F) -> F:
            previous = self._functions.get(claim_id)
            if previous is not None and previous.__qualname__ != fn.__qualname__:
                raise RuntimeError(
                    f"two {self.what}s for {claim_id}: {previous.__qualname__} and {fn.__qualname__}"
                )
            fn.claim_id = claim_id  # type: ignore[attr-defined]
            self._functions[claim_id] = fn
            return fn

        return record

    def load(self) -> dict[str, F]:
        """Import every public module of ``emastats.<package>``, then return all registered functions by id."""
        from .layout import load_package

        package = load_package(self.package)
        for info in pkgutil.iter_modules(package.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{package.__name__}.{info.name}")
        return self.items()

    def items(self) -> dict[str, F]:
        """A copy of what is registered so far (no importing), by claim id."""
        return dict(self._functions)

    def defined_in(self, module_name: str) -> dict[str, F]:
        """What the module ``module_name`` registered so far (e.g. '__main__' for a script run on its own)."""
        return {cid: fn for cid, fn in self._functions.items() if fn.__module__ == module_name}

    def discard(self, claim_id: str) -> None:
        """Forget the function of ``claim_id``, if any (for tests that register throwaway functions)."""
        self._functions.pop(claim_id, None)
