"""The symbolic toolkit shared by the proofs in proofs/.

* :mod:`.zero`: is an expression identically zero? (simplify + exact spot checks)
* :mod:`.recurrences`: closed forms of linear recurrences (rsolve, checked back)
* :mod:`.induction`: proof by induction (base and step residuals)
* :mod:`.moments`: moments of linear forms of random variables, independence declared
* :mod:`.enumeration`: exact minibatch moments over all minibatches (small N)
* :mod:`.sums`: closed forms of geometric sums (no Piecewise)
* :mod:`.lyapunov`: stationary covariances of linear stochastic recursions (discrete Lyapunov)
* :mod:`.gaussian`: means of value- and norm-clipped Gaussians (sympy integrals, mpmath quadrature)
* :mod:`.decide`: a check's True / False / None as PROVED / REFUTED / INCONCLUSIVE
"""
from .decide import AllOf, DerivationCheck, all_of, as_check, decide, verdict_of
from .enumeration import MinibatchMoments, minibatch_moments, population_moments
from .induction import InductionResult, by_induction, invariant_by_induction, iterate, peel_last_term
from .moments import ExchangeableFamily, IidSequence, IndependentFamily
from .recurrences import Recurrence, RecurrenceCheck, RecurrenceError, check_solution, limit_at_infinity, solve_linear
from .sums import closed_sum, generic_branch
from .zero import ZeroTest, all_zero, conjunction, equal, is_zero

__all__ = [
    "AllOf", "DerivationCheck", "all_of", "as_check", "decide", "verdict_of",
    "MinibatchMoments", "minibatch_moments", "population_moments",
    "InductionResult", "by_induction", "invariant_by_induction", "iterate", "peel_last_term",
    "ExchangeableFamily", "IidSequence", "IndependentFamily",
    "Recurrence", "RecurrenceCheck", "RecurrenceError", "check_solution", "limit_at_infinity", "solve_linear",
    "closed_sum", "generic_branch",
    "ZeroTest", "all_zero", "conjunction", "equal", "is_zero",
]
