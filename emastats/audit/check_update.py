"""Check update rules and bias corrections by running them: zero states, constant gradient, a few steps.

For a definition the notes just made (``context`` already holds it), depending on what it defines:

* any indexed quantity: evaluated at the first step (index 1) it must not divide by zero (AUD003);
* a moving average ``<x>_{t+1} = b <x>_t + c x``: with constant input its fixed point must be the bracketed
  quantity, e.g. g^2 for ``<g^2>`` (AUD007);
* a bias-corrected estimate (``\\hat m``, ``\\hat v``): it must scale with the gradient as its name says (m as g,
  v as g^2; otherwise the averages are swapped, AUD005) and equal its stationary value at every step (AUD004);
* a parameter update ``w_{t+1} = w_t + step``: with a positive gradient the step must be negative (AUD002),
  and with epsilon = 0 it must scale as g (SGD, momentum) or g^0 (RMSProp, Adam) (AUD006); epsilon inside the
  square root is a convention note (AUD101); the canonical form is named (AUD103).

The gradient values 3/2 and 3 are used so that g, g^2 and g^0 give different numbers.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import mpmath
import sympy
from sympy.core.function import AppliedUndef

from .canonical import recognise
from .context import (Context, Definition, averaged_input, base_of, is_epsilon, is_gradient, moment_order,
                      referenced_functions)
from .evaluate import DryRun, Evaluator, Point, Undecidable, _mp, close, show
from .findings import Finding, to_latex

G1, G2 = Fraction(3, 2), Fraction(3)
SMALL_EPSILON = Fraction(1, 10**8)


@dataclass(frozen=True)
class Where:
    line: int
    end_line: int


def _value_at(context: Context, name: str, n: int, gradient: Fraction, epsilon: Fraction, seed: int,
              overrides: dict | None = None):
    point = Point(seed=seed, overrides=dict(overrides or {}))
    source = averaged_input(name)
    inputs = frozenset({source}) if source and source != "g" else frozenset()
    ev = Evaluator(context, point, DryRun(gradient, epsilon, inputs))
    return ev.value(sympy.Function(name)(n))


def _states_read(defn: Definition, context: Context, seen: set[str] | None = None) -> set[str]:
    """Indexed quantities a definition reads, following definitions transitively (not itself)."""
    seen = set() if seen is None else seen
    for name in referenced_functions(defn.rhs):
        if name in seen or name == defn.name:
            continue
        seen.add(name)
        inner = context.definitions.get(name)
        if inner is not None:
            _states_read(inner, context, seen)
    return seen


def _index_symbol(defn: Definition) -> sympy.Symbol | None:
    if not isinstance(defn.lhs, AppliedUndef) or len(defn.lhs.args) != 1:
        return None
    symbols = defn.lhs.args[0].free_symbols
    return next(iter(symbols)) if len(symbols) == 1 else None


def _fix_exponents(defn: Definition) -> sympy.Basic | None:
    """The definition with every power whose exponent is an index expression set to the left side's index."""
    index = _index_symbol(defn)
    if index is None:
        return None
    target = defn.lhs.args[0]
    fixed = defn.rhs.replace(
        lambda e: isinstance(e, sympy.Pow) and index in e.exp.free_symbols and e.exp != target,
        lambda e: sympy.Pow(e.base, target))
    return None if fixed == defn.rhs else fixed


def _zero_from_index_convention(defn: Definition, context: Context, seed: int) -> bool:
    """Whether the first-step zero comes only from another non-recursive indexed quantity read at index 0.

    ``\\theta_{t+1} = \\theta_t - \\eta \\hat m_t / …`` with ``\\hat m_t = m_t / (1 - \\beta^t)`` reads
    ``\\hat m_0`` only if t starts at 0; notes that start t at 1 are right. Which is meant is not stated, so the
    check abstains: with those quantities left free the definition must still divide by zero to be reported.
    """
    own = context.copy()
    own.definitions = {n: d for n, d in context.definitions.items()
                       if n == defn.name or d.recursive or not isinstance(d.lhs, AppliedUndef)}
    if len(own.definitions) == len(context.definitions):
        return False
    try:
        _value_at(own, defn.name, 1, G1, SMALL_EPSILON, seed)
    except ZeroDivisionError:
        return False
    except (Undecidable, ValueError, TypeError, OverflowError):
        return False
    return True


def _corrects_an_average(defn: Definition, context: Context) -> bool:
    """``x = A / (1 - p^e)`` with e reading the index and A a recursive quantity (a bias correction of an average),
    whatever the names."""
    index = _index_symbol(defn)
    numerator, denominator = sympy.fraction(sympy.together(defn.rhs))
    for factor in sympy.Mul.make_args(denominator):
        if isinstance(factor, sympy.Add) and len(factor.args) == 2 and sympy.S.One in factor.args:
            other = factor - 1
            power = -other if other.could_extract_minus_sign() else None
            if isinstance(power, sympy.Pow) and index in power.exp.free_symbols and not power.base.free_symbols & {
                    index}:
                return any(context.definitions.get(n) is not None and context.definitions[n].recursive
                           for n in referenced_functions(numerator))
    return False


def check_definition(defn: Definition, context: Context, where: Where, seed: int = 0,
                     decided: list | None = None) -> list[Finding]:
    """Findings about a just-stated indexed definition (see the module docstring).

    ``decided`` (when given) gets one entry when a check that can fail ran to the end (a bias correction that
    gives back a constant input holds: a decision even without a finding)."""
    if _index_symbol(defn) is None:
        return []
    findings: list[Finding] = []
    shown = to_latex(defn.lhs)
    try:
        _value_at(context, defn.name, 1, G1, SMALL_EPSILON, seed)
    except ZeroDivisionError:
        if not (_states_read(defn, context) & context.faulty) and not _zero_from_index_convention(defn, context, seed):
            fixed = _fix_exponents(defn)
            findings.append(Finding(
                where.line, where.end_line, "AUD003",
                f"{shown} divides by zero at the first step (index 1, states starting at zero)",
                evidence=f"evaluating {to_latex(defn.lhs.func(1))} with a constant gradient g = {G1} gives a "
                         f"zero denominator",
                suggestion=(f"{shown} = {to_latex(fixed)}" if fixed is not None else "")))
            context.faulty.add(defn.name)
    except (Undecidable, ValueError, TypeError, OverflowError):
        return findings
    if defn.recursive and defn.name.startswith("<"):
        findings += _check_average(defn, context, where, seed)
    elif not defn.recursive and (moment_order(defn.name) is not None and _reads_average(defn, context)
                                 or _corrects_an_average(defn, context)):
        findings += _check_bias_correction(defn, context, where, seed, decided)
    elif defn.recursive:
        findings += _check_parameter_update(defn, context, where, seed)
    if any(f.severity == "error" for f in findings):
        context.faulty.add(defn.name)
    return _combined_suggestion(defn, context, findings)


def _combined_suggestion(defn: Definition, context: Context, findings: list[Finding]) -> list[Finding]:
    """One corrected formula for all of a bias correction's errors: right average and right exponent."""
    codes = {f.code for f in findings}
    if not codes & {"AUD003", "AUD004", "AUD005"}:
        return findings
    rhs = _swap_averages(defn, context) if "AUD005" in codes else None
    fixed = _fix_exponents(Definition(defn.name, defn.lhs, rhs if rhs is not None else defn.rhs, defn.line,
                                      defn.recursive))
    best = fixed if fixed is not None else rhs
    if best is None:
        return findings
    text = f"{to_latex(defn.lhs)} = {to_latex(best)}"
    return [Finding(f.line, f.end_line, f.code, f.message, f.evidence, text)
            if f.code in ("AUD003", "AUD004", "AUD005") else f for f in findings]


def _swap_averages(defn: Definition, context: Context) -> sympy.Basic | None:
    """The definition with the moving average of the other moment order put in place of the one it reads."""
    wanted_order = moment_order(defn.name)
    read = [n for n in referenced_functions(defn.rhs) if n.startswith("<") and moment_order(n) != wanted_order]
    wanted = [d.name for d in context.definitions.values()
              if d.name.startswith("<") and moment_order(d.name) == wanted_order
              and averaged_input(d.name) == (averaged_input(read[0]) if read else None)]
    if not read or not wanted:
        return None
    swapped = defn.rhs.replace(lambda e: isinstance(e, AppliedUndef) and type(e).__name__ == read[0],
                               lambda e: sympy.Function(wanted[-1])(*e.args))
    old_decay, new_decay = _decay(context.definitions.get(read[0])), _decay(context.definitions.get(wanted[-1]))
    if old_decay is not None and new_decay is not None and old_decay != new_decay:
        swapped = swapped.xreplace({old_decay: new_decay})  # each average's own beta goes with it
    return swapped


def _decay(definition: Definition | None) -> sympy.Basic | None:
    """The factor an average keeps of its previous value (beta_1 in <g>_{t+1} = beta_1 <g>_t + ...)."""
    if definition is None or not isinstance(definition.lhs, AppliedUndef) or len(definition.lhs.args) != 1:
        return None
    previous = definition.lhs.func(definition.lhs.args[0] - 1)
    try:
        factor = sympy.expand(definition.rhs).coeff(previous)
    except (TypeError, ValueError):
        return None
    return factor if factor != 0 else None


def _reads_average(defn: Definition, context: Context) -> bool:
    return any(name.startswith("<") or (context.definitions.get(name) and context.definitions[name].recursive)
               for name in _states_read(defn, context))


def _check_average(defn: Definition, context: Context, where: Where, seed: int) -> list[Finding]:
    order = moment_order(defn.name)
    if order is None:
        return []
    try:
        low = _value_at(context, defn.name, 2, G1, Fraction(0), seed, {(defn.name, (1,)): mpmath.mpf(0)})
        high = _value_at(context, defn.name, 2, G1, Fraction(0), seed, {(defn.name, (1,)): mpmath.mpf(1)})
    except (Undecidable, ZeroDivisionError, ValueError, TypeError):
        return []
    source = averaged_input(defn.name) or "g"
    slope = high - low
    if not (0 <= slope < 1):
        return []
    fixed_point = low / (1 - slope)
    expected = _mp(G1) ** order
    if close(fixed_point, expected):
        return []
    detail = "its weights do not sum to one"
    for power in (1, 2, 0.5):
        if power != order and close(fixed_point, _mp(G1) ** power):
            detail = f"it averages g^{power:g}, not g^{order}" + (" (a square is missing)" if power < order else "")
    return [Finding(
        where.line, where.end_line, "AUD007",
        f"{to_latex(defn.lhs)} is not a moving average of {source}^{order}: {detail.replace('g^', source + '^')}",
        evidence=f"with a constant input {source} = {G1} its fixed point is {show(fixed_point)}, not "
                 f"{source}^{order} = {show(expected)}",
        suggestion="")]


def _degree(context: Context, name: str, n: int, seed: int, minus_previous: bool = False) -> float | None:
    try:
        a = _value_at(context, name, n, G1, Fraction(0), seed)
        b = _value_at(context, name, n, G2, Fraction(0), seed)
        if minus_previous:
            a -= _value_at(context, name, n - 1, G1, Fraction(0), seed)
            b -= _value_at(context, name, n - 1, G2, Fraction(0), seed)
    except ZeroDivisionError:
        if not minus_previous:
            return None
        try:  # the step from w_{n-1} = 0, as for the sign: a zero at an earlier step must not hide the scaling
            start = {(name, (n - 1,)): mpmath.mpf(0)}
            a = _value_at(context, name, n, G1, Fraction(0), seed, start)
            b = _value_at(context, name, n, G2, Fraction(0), seed, start)
        except (Undecidable, ZeroDivisionError, ValueError, TypeError):
            return None
    except (Undecidable, ValueError, TypeError):
        return None
    if a == 0 or b == 0 or (a > 0) != (b > 0):
        return None
    return float(mpmath.log(b / a) / mpmath.log(_mp(G2) / _mp(G1)))


def _check_bias_correction(defn: Definition, context: Context, where: Where, seed: int,
                           decided: list | None = None) -> list[Finding]:
    expected_order = moment_order(defn.name)
    if expected_order is not None and base_of(defn.name) in {base_of(n) for n in referenced_functions(defn.rhs)}:
        # \hat s = s / (1 - \beta^t) corrects its own letter's average, whatever moment s is in these notes (the
        # letters s and r name the first moment in some texts, the second in others): nothing can be swapped
        expected_order = None
    shown = to_latex(defn.lhs)
    degree = _degree(context, defn.name, 3, seed)
    if degree is None:
        return []
    if expected_order is not None and abs(degree - expected_order) > 0.05:
        other = [name for name in _states_read(defn, context) if moment_order(name) not in (None, expected_order)]
        wanted = [d for d in context.definitions.values()
                  if d.name.startswith("<") and moment_order(d.name) == expected_order]
        suggestion = ""
        if other and wanted:
            swapped = defn.rhs.replace(lambda e: isinstance(e, AppliedUndef) and type(e).__name__ == other[0],
                                       lambda e: sympy.Function(wanted[-1].name)(*e.args))
            suggestion = f"{shown} = {to_latex(swapped)}"
        return [Finding(
            where.line, where.end_line, "AUD005",
            f"{shown} should estimate the {'first' if expected_order == 1 else 'second'} moment (scale as "
            f"g^{expected_order}) but scales as g^{degree:.3g}: the first- and second-moment averages are swapped",
            evidence=f"dry run from zero states with constant gradient g = {G1} and g = {G2}, step 3",
            suggestion=suggestion)]
    for n in (2, 3):
        try:
            value = _value_at(context, defn.name, n, G1, Fraction(0), seed)
        except (Undecidable, ZeroDivisionError, ValueError, TypeError):
            continue
        stationary = _mp(G1) ** round(degree)
        if not close(value, stationary):
            fixed = _fix_exponents(defn)
            return [Finding(
                where.line, where.end_line, "AUD004",
                f"{shown} does not remove the zero-start bias of the moving average it corrects",
                evidence=f"with a constant gradient g = {G1} from zero states, {to_latex(defn.lhs.func(n))} = "
                         f"{show(value)} instead of g^{round(degree)} = {show(stationary)}",
                suggestion=(f"{shown} = {to_latex(fixed)}" if fixed is not None else ""))]
        if decided is not None and not decided:
            decided.append(n)  # the corrected value equals the constant input's power at this step
    return []


def _epsilon_inside_root(expr: sympy.Basic) -> bool:
    for power in expr.atoms(sympy.Pow):
        if power.exp == sympy.Rational(1, 2) or power.exp == -sympy.Rational(1, 2):
            names = {s.name for s in power.base.free_symbols}
            names |= {type(f).__name__ for f in power.base.atoms(AppliedUndef)}
            if any(is_epsilon(n) for n in names):
                return True
    return False


def _read_from(defn: Definition, context: Context, states: set[str]) -> str:
    """The other lines the step is built from (a direction or velocity defined elsewhere), for the evidence."""
    lines = sorted({(d.line, to_latex(d.lhs)) for n in states if (d := context.definitions.get(n)) is not None
                    and d.line != defn.line and not is_gradient(n)})
    if not lines:
        return ""
    return "; the step reads " + ", ".join(f"{name} (line {line})" for line, name in lines[:3])


def _even_in_gradient(defn: Definition, context: Context, seed: int) -> bool:
    """Whether the first step from zero is the same for gradients +g and -g (a descent step is odd in g)."""
    previous = {(defn.name, (0,)): mpmath.mpf(0)}
    try:
        up = _value_at(context, defn.name, 1, G1, SMALL_EPSILON, seed, previous)
        down = _value_at(context, defn.name, 1, -G1, SMALL_EPSILON, seed, previous)
    except (Undecidable, ZeroDivisionError, ValueError, TypeError, OverflowError):
        return False
    return up != 0 and close(up, down)


def _check_parameter_update(defn: Definition, context: Context, where: Where, seed: int) -> list[Finding]:
    states = _states_read(defn, context)
    symbols = set(defn.rhs.free_symbols)
    for name in states:  # m_{t+1} = beta m_t + (1 - beta) g: the gradient reaches w through m's definition
        if context.definitions.get(name) is not None:
            symbols |= context.definitions[name].rhs.free_symbols
    reads_gradient = any(is_gradient(n) for n in states) or any(is_gradient(s.name) for s in symbols)
    if not reads_gradient or defn.name.startswith("<") or is_gradient(defn.name):
        return []
    grows = _grows_without_gradient(defn, context, where, seed)
    if grows:
        return grows
    previous = defn.lhs.func(defn.lhs.args[0] - 1)
    try:
        # \nabla L(w_t) reads w_t too: the gradient is an input here, so it is held fixed for the derivative
        inputs = {f: sympy.Dummy() for f in defn.rhs.atoms(AppliedUndef) if is_gradient(type(f).__name__)}
        carries_over = sympy.simplify(defn.rhs.xreplace(inputs).diff(previous)) == 1
    except (TypeError, ValueError, AttributeError):
        carries_over = False
    if not carries_over:
        return []  # a decaying state (velocity, running sum), not a parameter: w_{t+1} = w_t + step
    if _even_in_gradient(defn, context, seed):
        return []  # s_{t+1} = s_t + g_t^2: an accumulator (AdaGrad's sum of squares), not a descent step
    findings: list[Finding] = []
    shown = to_latex(defn.lhs)
    steps = []
    for n in (1, 2, 3, 4):
        try:  # the step from w_{n-1} = 0, so that a division by zero at step 1 does not poison later steps
            steps.append(_value_at(context, defn.name, n, G1, SMALL_EPSILON, seed,
                                   {(defn.name, (n - 1,)): mpmath.mpf(0)}))
        except ZeroDivisionError:
            continue  # a first-step division by zero is reported where it is defined
        except (Undecidable, ValueError, TypeError):
            steps = []
            break
    faulty_input = bool(states & context.faulty)  # then the scaling is off because of that input, not this line
    degree = None if faulty_input else _degree(context, defn.name, 3, seed, minus_previous=True)
    velocity = any(context.definitions.get(n) is not None and context.definitions[n].recursive
                   and not n.startswith("<") for n in states)
    form = recognise(round(degree) if degree is not None and abs(degree - round(degree)) < 0.05 else None,
                     any(moment_order(n) == 1 for n in states if n.startswith("<") or n.startswith("m")),
                     any(moment_order(n) == 2 for n in states),
                     any(n.endswith("^") or "^_" in n for n in states), velocity)
    form_text = f" ({form.name} form; catalogue {', '.join(form.claim_ids)})" if form else ""
    moving = [step for step in steps if step != 0]  # (a state still at zero makes the first steps zero)
    if len(moving) >= 2 and all(step > 0 for step in moving):
        index = _index_symbol(defn)
        flipped = 2 * previous - defn.rhs
        direction = _direction_line(defn, context, where)
        findings.append(Finding(
            min(where.line, direction or where.line), where.end_line, "AUD002",
            f"the update of {to_latex(defn.lhs)} adds the step: it climbs the loss instead of descending"
            f"{form_text}" + (f" (with the direction as defined at line {direction})" if direction else ""),
            evidence=f"from zero states with a constant gradient g = {G1} > 0 the first steps change "
                     f"{to_latex(sympy.Function(defn.name)(index))} by "
                     + ", ".join("+" + show(s) for s in moving) + _read_from(defn, context, referenced_functions(defn.rhs) - {defn.name}),
            suggestion=f"{shown} = {to_latex(flipped)}"))
    if degree is not None and abs(degree - 1) > 0.05 and abs(degree) > 0.05:
        findings.append(Finding(
            where.line, where.end_line, "AUD006",
            f"the step of {shown} scales as g^{degree:.3g}: SGD/momentum steps scale as g and RMSProp/Adam steps "
            f"are scale-free (g^0), so a square root or a square is missing",
            evidence=f"dry run with epsilon = 0 and constant gradient g = {G1} vs g = {G2}, third step"))
    if _epsilon_inside_root(defn.rhs) or any(
            _epsilon_inside_root(context.definitions[n].rhs) for n in states if n in context.definitions):
        findings.append(Finding(
            where.line, where.end_line, "AUD101",
            "epsilon is inside the square root; PyTorch's and optax's RMSProp/Adam add it outside, "
            r"\eta g/(\sqrt{v}+\epsilon)",
            evidence="a convention, not an error: the two differ only when v is comparable to epsilon^2"))
    if form is not None and not faulty_input and not any(f.code in ("AUD002", "AUD006") for f in findings):
        findings.append(Finding(where.line, where.end_line, "AUD103",
                                f"{shown}: recognised as the {form.name} update",
                                evidence=f"canonical form {form.latex}; catalogue {', '.join(form.claim_ids)}"))
    return findings


def _grows_without_gradient(defn: Definition, context: Context, where: Where, seed: int) -> list[Finding]:
    """AUD016: with every gradient zero (and zero states) the update must not scale the parameter up.

    ``w_{t+1} = w_t - \\eta(g_t - \\lambda w_t)`` maps w to (1 + \\eta\\lambda) w when g = 0: the decay grows the
    parameters. Judged only for an update that reads no earlier iterate than the previous one (momentum written
    with w_{t-1} moves without a gradient), when the map is linear in w (the value from w = 2 is twice that from
    w = 1, so nothing else moves it) and the factor exceeds 1 at two seeded points of the parameters.
    """
    previous = defn.lhs.func(defn.lhs.args[0] - 1)
    own = [f for f in defn.rhs.atoms(AppliedUndef) if f.func == defn.lhs.func]
    if any(f != previous for f in own):
        return []
    factors = []
    for k in range(2):
        try:  # the first step from w_0 = 1 and from w_0 = 2, every gradient 0
            one, two = (_value_at(context, defn.name, 1, Fraction(0), SMALL_EPSILON, seed + k,
                                  {(defn.name, (0,)): mpmath.mpf(start)}) for start in (1, 2))
        except (Undecidable, ZeroDivisionError, ValueError, TypeError, OverflowError):
            return []
        if not close(two, 2 * one) or not one > 1 + mpmath.mpf(10) ** -6:
            return []
        factors.append(one)
    return [Finding(
        where.line, where.end_line, "AUD016",
        f"with a zero gradient the update of {to_latex(defn.lhs)} multiplies {to_latex(previous)} by a factor above "
        f"1: the decay term has the wrong sign, so the parameters grow without any gradient",
        evidence=f"dry run with every gradient 0 and zero states: {to_latex(defn.lhs.func(1))} = "
                 f"{show(factors[0])} \\cdot {to_latex(defn.lhs.func(0))} at a random point of the parameters",
        suggestion="")]


def _direction_line(defn: Definition, context: Context, where: Where, reach: int = 6) -> int | None:
    """The line of a search direction the update reads (``\\rho_t = M_t g_t``), when the finding should span it.

    A direction that is neither recursive nor built on a recursive state (unlike a momentum or a bias-corrected
    average) decides the step's sign on its own line: an update ``w + \\epsilon \\rho`` climbs because of it, so the
    finding covers both lines. Only a direction stated in the same scope, at most ``reach`` lines before.
    """
    lines = []
    for name in referenced_functions(defn.rhs) - {defn.name}:
        d = context.definitions.get(name)
        if d is None or is_gradient(name) or d.recursive or d.scope != defn.scope:
            continue
        if any((inner := context.definitions.get(n)) is not None and inner.recursive for n in _states_read(d, context)):
            continue  # built on a recursive state (m_t, v_t): the update's own form decides
        if not any(is_gradient(n) for n in referenced_functions(d.rhs)) and not any(
                is_gradient(s.name) for s in d.rhs.free_symbols):
            continue
        if 0 < where.line - d.line <= reach:
            lines.append(d.line)
    return min(lines) if lines else None


def divided_estimate(numerator: sympy.Basic, divisor: sympy.Basic, context: Context, seed: int = 0) -> tuple | None:
    """Whether ``numerator / divisor`` gives back a constant input: the unbiased estimate a text describes as
    "divide r_t by (1 - \\beta_2^t)". ``numerator`` is a quantity at a symbolic index (``r(t)``) that the context
    defines; with every gradient a constant g (zero states) the quotient must be g^k at t = 1..3, where k is the
    power of g it scales with. Returns None when not judged, else (holds, index value, quotient, g^k)."""
    if not isinstance(numerator, AppliedUndef) or len(numerator.args) != 1 or not numerator.args[0].is_Symbol:
        return None
    if context.definitions.get(type(numerator).__name__) is None:
        return None
    index = numerator.args[0]
    if divisor.free_symbols - {index} == set() or index not in (divisor.free_symbols | numerator.free_symbols):
        return None
    quotient = numerator / divisor

    def value(n: int, gradient: Fraction):
        point = Point(seed=seed)
        return Evaluator(context, point, DryRun(gradient, Fraction(0))).value(quotient.xreplace({index: n}))
    try:
        a, b = value(3, G1), value(3, G2)
    except (Undecidable, ZeroDivisionError, ValueError, TypeError, OverflowError):
        return None
    if a == 0 or b == 0 or (a > 0) != (b > 0):
        return None
    degree = float(mpmath.log(b / a) / mpmath.log(_mp(G2) / _mp(G1)))
    if abs(degree - round(degree)) > 0.05 or round(degree) not in (1, 2):
        return None
    expected = _mp(G1) ** round(degree)
    for n in (1, 2, 3):
        try:
            got = value(n, G1)
        except (Undecidable, ZeroDivisionError, ValueError, TypeError, OverflowError):
            return None
        if not close(got, expected):
            return False, n, show(got), show(expected)
    return True, 3, show(a), show(expected)
