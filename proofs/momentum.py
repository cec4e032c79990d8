"""Proofs about momentum (EMAT31530 §3 and §3.1).

Run on its own: ``python proofs/momentum.py``.

Trajectory claims are proved by induction on an invariant that maps one
algorithm's state onto the other's, with the gradient at each step an arbitrary
symbol (or an arbitrary function of the point), so they hold for every loss.
Stability claims derive the characteristic polynomial of the iteration matrix,
apply the Jury (Schur-Cohn) conditions, and spot-check the result against the
exact eigenvalues at seeded rational parameters. The ``check_*`` functions take
the claimed formula as an argument so that the tests can feed wrong variants.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

import sympy as sp

from emastats.proving import Derivation, claimed, proof, proved, refuted, script_main
from emastats.symbolic import all_of, all_zero, by_induction, decide, equal, invariant_by_induction, iterate

beta = sp.Symbol("beta", positive=True)  # beta_1 = mu, in (0, 1)
mu = sp.Symbol("mu", nonnegative=True)
eta = sp.Symbol("eta", positive=True)
eta_trad = sp.Symbol("eta_trad", positive=True)
lam = sp.Symbol("lambda", positive=True)
x = sp.Symbol("x", real=True)  # eta * lambda
t = sp.Symbol("t", integer=True, nonnegative=True)
s = sp.Symbol("s", integer=True, positive=True)
g_t = sp.Symbol("g_t", real=True)  # the gradient at step t: arbitrary

IN_UNIT = {beta: (0, 1), mu: (0, 1)}

# --- traditional and average momentum ----------------------------------------------------------

EtaMap = Callable[[sp.Expr, sp.Expr], sp.Expr]  # (eta_trad, beta) -> eta_avg


def momentum_steps(eta_avg: sp.Expr, g: sp.Expr, state: tuple[sp.Expr, ...]) -> tuple[sp.Expr, ...]:
    """One step of both algorithms on state (w_trad, v, w_avg, <g>) with mu = beta and gradient g."""
    w_trad, v, w_avg, m = state
    v_next = beta * v - eta_trad * g
    m_next = beta * m + (1 - beta) * g
    return (w_trad + v_next, v_next, w_avg - eta_avg * m_next, m_next)


def check_equivalence(eta_avg_of: EtaMap) -> Derivation:
    """Invariant w_trad = w_avg and v = -eta_avg <g>, by induction on t with arbitrary gradients."""
    eta_avg = eta_avg_of(eta_trad, beta)
    w, m, m0, w0 = sp.symbols("w m m_0 w_0", real=True)

    def invariant(state: tuple[sp.Expr, ...], n: sp.Expr) -> tuple[sp.Expr, ...]:
        w_trad, v, w_avg, avg = state
        return (w_trad - w_avg, v + eta_avg * avg)

    matched = (w0, -eta_avg * m0, w0, m0)  # the assumption: v_0 = -eta_avg <g>_0
    result = invariant_by_induction(invariant, lambda st, n: momentum_steps(eta_avg, g_t, st), matched,
                                    (w, -eta_avg * m, w, m), t, domains=IN_UNIT)
    steps = [r"v_{t+1} = \beta v_t - \eta_{trad}g_t,\ w_{t+1} = w_t + v_{t+1};\quad "
             r"\langle g\rangle_{t+1} = \beta\langle g\rangle_t + (1-\beta)g_t,\ "
             r"w_{t+1} = w_t - \eta_{avg}\langle g\rangle_{t+1}",
             rf"\eta_{{avg}} = {sp.latex(eta_avg)};\ \text{{invariant }} w^{{trad}}_t = w^{{avg}}_t,\ "
             r"v_t = -\eta_{avg}\langle g\rangle_t",
             *result.latex_steps()]
    if result.verdict is False:
        example = first_divergence(eta_avg, v_start=0, m_start=0)
        if example is not None:
            return refuted("induction on the state mapping", example, steps)
    if result.verdict is True:
        needed = first_divergence(eta_avg, v_start=0, m_start=1)
        if needed is not None:
            steps.append(r"\text{the initial match is needed: } v_0 = 0,\ \langle g\rangle_0 = 1,\ "
                         rf"\beta = \tfrac12,\ \eta_{{trad}} = 1,\ g_t \equiv 1:\ "
                         rf"w^{{trad}}_{{{needed['t']}}} = {needed['w_trad_t']} \ne w^{{avg}}_{{{needed['t']}}} = "
                         rf"{needed['w_avg_t']}")
    return decide(result, "induction on the state mapping", steps)


def first_divergence(eta_avg: sp.Expr, v_start: int, m_start: int, steps: int = 4) -> dict[str, str] | None:
    """The first step where the two trajectories differ, at beta = 1/2, eta_trad = 1, g_t = 1, w_0 = 0."""
    values = {beta: sp.Rational(1, 2), eta_trad: sp.Integer(1)}
    rate = eta_avg.subs(values)
    start = (sp.Integer(0), sp.Integer(v_start), sp.Integer(0), sp.Integer(m_start))
    trajectory = iterate(lambda st, n: tuple(e.subs(values) for e in momentum_steps(rate, sp.Integer(1), st)),
                         start, 0, steps)
    for n, (w_trad, _, w_avg, _) in enumerate(trajectory):
        if w_trad != w_avg:
            return {"beta": "1/2", "eta_trad": "1", "eta_avg": str(rate), "g_t": "1 for all t", "w_0": "0",
                    "v_0": str(v_start), "<g>_0": str(m_start), "t": str(n),
                    "w_trad_t": str(w_trad), "w_avg_t": str(w_avg)}
    return None


@proof("momentum.equivalence")
def equivalence() -> Derivation:
    """Traditional momentum with eta_trad equals average momentum with eta_avg = eta_trad / (1 - beta)."""
    return check_equivalence(claimed("momentum.equivalence").as_function("eta_trad", "beta1"))


# --- heavy ball unrolled -----------------------------------------------------------------------

Weight = Callable[[sp.Expr], sp.Expr]  # s = T - t steps since g_t was applied -> coefficient of -eta g_t


def heavy_ball(state: tuple[sp.Expr, sp.Expr], g: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """(w, v) -> (w + v', v') with v' = mu v - eta g."""
    w, v = state
    v_next = mu * v - eta * g
    return (w + v_next, v_next)


def check_unrolled(weight: Weight) -> Derivation:
    """Coefficient of g_t in w_T - w_0 is -eta weight(T - t), by superposition and induction on s = T - t.

    The iteration is linear in (w - w_0, v) with the gradients as inputs, so w_T - w_0 is
    a sum over t of the response to g_t alone; s steps after g_t that response (c_s, d_s)
    starts at c_1 = d_1 = -eta g_t and follows d_{s+1} = mu d_s, c_{s+1} = c_s + d_{s+1}.
    """
    response = by_induction(
        closed_form=lambda n: (-eta * weight(n), -eta * mu ** (n - 1)),
        step=lambda st, n: (st[0] + mu * st[1], mu * st[1]),
        initial=(-eta, -eta),
        n=s,
        start=1,
        domains={mu: (0, 1), s: (1, 12)},
    )
    # cross-check without superposition: unroll T = 5 steps from rest with symbolic g_0..g_4
    grads = sp.symbols("g_0:5", real=True)
    w0 = sp.Symbol("w_0", real=True)
    state = (w0, sp.Integer(0))
    for g in grads:
        state = heavy_ball(state, g)
    claimed = -eta * sum(weight(sp.Integer(5 - n)) * grads[n] for n in range(5))
    direct = all_zero([state[0] - w0 - claimed], domains={mu: (0, 1)})
    steps = [r"w_T - w_0 = \sum_{t<T} c_{T-t}\,g_t\ \text{(linear in the inputs)},\ c_1 = d_1 = -\eta,\ "
             r"d_{s+1} = \mu d_s,\ c_{s+1} = c_s + d_{s+1}",
             rf"\text{{claimed }} c_s = {sp.latex(-eta * weight(s))},\ d_s = -\eta\mu^{{s-1}}",
             *response.latex_steps(),
             r"\text{direct unrolling, } T=5,\ \text{symbolic } g_0..g_4:\ \text{residual } 0"
             if direct.verdict else r"\text{direct unrolling, } T=5:\ \text{residual} \ne 0"]
    return decide(all_of(response, direct), "superposition + induction on s = T - t", steps)


@proof("momentum.heavy_ball.unrolled")
def heavy_ball_unrolled() -> Derivation:
    """w_T - w_0 = -eta sum_t (1 - mu^(T-t)) / (1 - mu) g_t for the heavy ball from rest."""
    law = claimed("momentum.heavy_ball.unrolled")
    return check_unrolled(lambda n: law.bind({"s": n, "mu": mu}))


# --- Nesterov ------------------------------------------------------------------------------------


@proof("momentum.nesterov.lookahead")
def nesterov_lookahead() -> Derivation:
    """Invariant phi = w + mu u and b = -u/eta along both forms, for an arbitrary gradient function."""
    grad = sp.Function("gradL")
    w, u, w0 = sp.symbols("w u w_0", real=True)

    def step(state: tuple[sp.Expr, ...], n: sp.Expr) -> tuple[sp.Expr, ...]:
        w_, u_, phi, b = state
        u_next = mu * u_ - eta * grad(w_ + mu * u_)
        b_next = mu * b + grad(phi)
        return (w_ + u_next, u_next, phi - eta * (grad(phi) + mu * b_next), b_next)

    def invariant(state: tuple[sp.Expr, ...], n: sp.Expr) -> tuple[sp.Expr, ...]:
        w_, u_, phi, b = state
        return (phi - (w_ + mu * u_), b + u_ / eta)

    result = invariant_by_induction(invariant, step, (w0, 0, w0, 0), (w, u, w + mu * u, -u / eta), t,
                                    domains={mu: (0, 1)})
    steps = [r"\phi_t = w_t + \mu u_t,\ b_t = -u_t/\eta:\ \text{both gradients are taken at } \phi_t",
             *result.latex_steps()]
    return decide(result, "induction on the variable change", steps)


# --- stability on a quadratic --------------------------------------------------------------------


@dataclass(frozen=True)
class Region:
    """A claimed stability region lo < eta*lambda < hi (hi may depend on mu)."""

    lo: sp.Expr
    hi: sp.Expr

    def contains(self, value: sp.Expr) -> bool:
        """Whether lo < value < hi."""
        return bool(self.lo < value) and bool(value < self.hi)


def spectral_radius_below_one(matrix: sp.Matrix) -> bool:
    """Exact test rho(A) < 1 for a 2x2 rational A, from the roots of z^2 + a1 z + a0 themselves.

    Complex pair (D = a1^2 - 4 a0 < 0): |z|^2 = a0. Real roots (-a1 +- sqrt(D))/2: the larger
    modulus is (|a1| + sqrt(D))/2 < 1 iff |a1| < 2 and D < (2 - |a1|)^2. Rational arithmetic
    only; deliberately not the Jury conditions, so that it checks them.
    """
    if matrix.shape != (2, 2):
        raise ValueError("the eigenvalue spot check is written for 2x2 matrices")
    a1, a0 = -matrix.trace(), matrix.det()
    if not (a1.is_Rational and a0.is_Rational):
        raise ValueError(f"the spot check needs a rational matrix, got {matrix}")
    discriminant = a1**2 - 4 * a0
    if discriminant < 0:
        return bool(a0 < 1)
    return bool(abs(a1) < 2 and discriminant < (2 - abs(a1)) ** 2)


def spot_check_region(matrix_of: Callable[[dict], sp.Matrix], region_of: Callable[[dict], Region],
                      draws: Callable[[random.Random], dict], trials: int = 24, seed: int = 0) -> dict[str, str] | None:
    """Seeded rational points where the eigenvalue test and the claimed region disagree (None: all agree)."""
    rng = random.Random(seed)
    for _ in range(trials):
        point = draws(rng)
        stable = spectral_radius_below_one(matrix_of(point))
        region = region_of(point)
        claimed = region.contains(point[x])
        if claimed != stable:
            return {"mu": str(point[mu]), "eta*lambda": str(point[x]), "rho < 1": str(stable),
                    "claimed stable": str(claimed)}
    return None


def jury_quadratic(poly: sp.Expr, z: sp.Symbol) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """Jury conditions for a monic z^2 + a1 z + a0: both roots inside the unit circle iff
    p(1) > 0, p(-1) > 0 and 1 - |a0| > 0. Returns (p(1), p(-1), a0)."""
    p = sp.Poly(poly, z)
    if p.degree() != 2 or p.LC() != 1:
        raise ValueError(f"{poly} is not a monic quadratic in {z}")
    return sp.expand(p.eval(1)), sp.expand(p.eval(-1)), p.all_coeffs()[2]


def rational_in(rng: random.Random, lo: sp.Rational, hi: sp.Rational, denominator: int = 24) -> sp.Rational:
    """A seeded rational in [lo, hi] on the grid of step (hi - lo) / denominator."""
    return lo + (hi - lo) * sp.Rational(rng.randint(0, denominator), denominator)


def check_gd_stability(region: Region) -> Derivation:
    """GD on L = lambda w^2 / 2: w_{t+1} = (1 - eta lambda) w_t, stable iff |1 - x| < 1, x = eta lambda."""
    derived = sp.solve_univariate_inequality(sp.Abs(1 - x) < 1, x, relational=False)
    claimed = sp.Interval.open(region.lo, region.hi)
    steps = [r"w_{t+1} = w_t - \eta\lambda w_t = (1-\eta\lambda)w_t",
             rf"\{{x: |1-x|<1\}} = {sp.latex(derived)},\ \text{{claimed }} {sp.latex(claimed)}"]
    if derived == claimed:
        # the spot check: the multiplier's modulus at seeded rationals, exact
        rng = random.Random(0)
        for _ in range(24):
            value = rational_in(rng, sp.Integer(-1), sp.Integer(3))
            if (abs(1 - value) < 1) != region.contains(value):
                return refuted("solve |1 - x| < 1", {"eta*lambda": value, "|1-eta*lambda|": abs(1 - value)}, steps)
        return proved("solve |1 - x| < 1, spot-checked", steps)
    gap = derived.symmetric_difference(claimed)
    point = _a_rational_point_in(gap)
    return refuted("solve |1 - x| < 1", {"eta*lambda": point, "|1-eta*lambda|": abs(1 - point),
                                         "claimed stable": region.contains(point)}, steps)


def _a_rational_point_in(region: sp.Set) -> sp.Rational:
    """A simple rational point of a nonempty union of intervals (its first piece's midpoint or endpoint)."""
    piece = region.args[0] if isinstance(region, sp.Union) else region
    if isinstance(piece, sp.FiniteSet):
        return sp.Rational(min(piece))
    lo, hi = piece.inf, piece.sup
    if lo.is_infinite:
        return sp.Rational(hi) - 1
    if hi.is_infinite:
        return sp.Rational(lo) + 1
    return sp.Rational(lo + hi, 2) if not piece.contains(lo) else sp.Rational(lo)


@proof("momentum.stability.gd")
def stability_gd() -> Derivation:
    """GD on lambda w^2 / 2 is stable iff 0 < eta lambda < 2."""
    return check_gd_stability(Region(sp.Integer(0), claimed("momentum.stability.gd").expr))


HEAVY_BALL_MATRIX = sp.Matrix([[1 + mu - x, -mu], [1, 0]])


def check_heavy_ball_stability(upper: Callable[[sp.Expr], sp.Expr]) -> Derivation:
    """Jury conditions of det(zI - A) for A = [[1 + mu - x, -mu], [1, 0]] against 0 < x < upper(mu)."""
    z = sp.Symbol("z")
    poly = HEAVY_BALL_MATRIX.charpoly(z).as_expr()
    at_one, at_minus_one, a0 = jury_quadratic(poly, z)
    # with 0 <= mu < 1, |a0| = mu < 1 always holds; the region is {p(1) > 0} & {p(-1) > 0}, both linear in x
    lower_ok = equal(at_one, x)  # p(1) > 0  <=>  x > 0
    slope = sp.diff(at_minus_one, x)
    upper_bound = sp.solve(at_minus_one, x)[0]
    upper_ok = all_of(equal(slope, -1), equal(upper_bound, upper(mu), domains=IN_UNIT))  # p(-1)>0 <=> x < bound
    a0_ok = equal(a0, mu)
    jury = all_of(lower_ok, upper_ok, a0_ok)
    # a wrong bound: show a point between the two bounds; otherwise an independent check of the
    # Jury algebra: exact eigenvalues at seeded rational points must agree with the claimed region
    mismatch = between_the_bounds(upper_bound, upper, jury.witness or {}) if jury.verdict is False else None
    checked = "a point between the two bounds"
    if mismatch is None:
        checked = "24 seeded rational points"
        mismatch = spot_check_region(
            lambda p: HEAVY_BALL_MATRIX.subs(p),
            lambda p: Region(sp.Integer(0), upper(mu).subs(p)),
            lambda rng: {mu: rational_in(rng, sp.Integer(0), sp.Rational(23, 24)),
                         x: rational_in(rng, sp.Integer(-1), sp.Integer(5))},
        )
    steps = [rf"\det(zI-A) = {sp.latex(poly)}",
             rf"p(1) = {sp.latex(at_one)} > 0,\ p(-1) = {sp.latex(at_minus_one)} > 0,\ |a_0| = {sp.latex(a0)} < 1",
             rf"\Rightarrow 0 < \eta\lambda < {sp.latex(upper_bound)};\ "
             rf"\text{{claimed upper bound }} {sp.latex(upper(mu))}",
             rf"\text{{exact eigenvalues at {checked}: }}"
             + ("\\text{all agree}" if mismatch is None else "\\text{disagreement}")]
    if mismatch is not None:
        return refuted("Jury conditions + exact eigenvalues", mismatch, steps)
    return decide(jury, "Jury conditions + exact eigenvalues", steps)


def between_the_bounds(derived: sp.Expr, upper: Callable[[sp.Expr], sp.Expr],
                       witness: dict[str, str]) -> dict[str, str] | None:
    """A point (mu, x) halfway between the derived and the claimed upper bound, with its exact eigenvalue verdict."""
    m = sp.Rational(witness.get("mu", "1/2"))
    point = {mu: m, x: (derived.subs(mu, m) + upper(mu).subs(mu, m)) / 2}
    stable = spectral_radius_below_one(HEAVY_BALL_MATRIX.subs(point))
    claimed = Region(sp.Integer(0), upper(mu).subs(mu, m)).contains(point[x])
    if stable == claimed:
        return None
    return {"mu": str(m), "eta*lambda": str(point[x]), "rho < 1": str(stable), "claimed stable": str(claimed)}


@proof("momentum.stability.heavy_ball")
def stability_heavy_ball() -> Derivation:
    """The heavy ball on lambda w^2 / 2 is stable iff 0 < eta lambda < 2 (1 + mu), 0 <= mu < 1."""
    return check_heavy_ball_stability(claimed("momentum.stability.heavy_ball").as_function("mu"))


if __name__ == "__main__":
    raise SystemExit(script_main())
