"""Proofs about exponential moving averages (EMAT31530 §7 Exercise 1; TTIC 31230 Problems 1-3).

Run on its own: ``python proofs/ema.py``.
"""
from __future__ import annotations

import sympy as sp

from emastats.proving import proof, proved, refuted, script_main

beta = sp.symbols("beta", positive=True)
t = sp.symbols("t", integer=True, nonnegative=True)


@proof("ema.geometric_sum")
def geometric_sum():
    """(1-beta) sum_{tau=0}^t beta^tau = 1 - beta^(t+1), by induction on t."""
    tau = sp.symbols("tau", integer=True, nonnegative=True)
    lhs = (1 - beta) * sp.Sum(beta**tau, (tau, 0, t))
    rhs = 1 - beta ** (t + 1)
    base = sp.simplify(lhs.subs(t, 0).doit() - rhs.subs(t, 0))
    # step: lhs(t+1) - lhs(t) = (1-beta) beta^(t+1) must equal rhs(t+1) - rhs(t)
    step = sp.simplify((1 - beta) * beta ** (t + 1) - (rhs.subs(t, t + 1) - rhs))
    if base == 0 and step == 0:
        return proved("induction on t", [r"t=0:\ (1-\beta)\cdot1 = 1-\beta",
                                         r"(1-\beta)\beta^{t+1} = (1-\beta^{t+2})-(1-\beta^{t+1})"])
    return refuted("induction on t", {"t": 0, "base residual": base, "step residual": step})


if __name__ == "__main__":
    raise SystemExit(script_main())
