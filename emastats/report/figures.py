"""Figures of Monte Carlo estimates against theory, drawn with matplotlib's Agg backend.

One figure per stored ``Series`` (see ``emastats.results.Series``): the Monte
Carlo estimates as points with their interval as error bars, the theory as a
line. On log-log axes the least-squares slope of log(estimate) on log(x) is
drawn too when the theory is a power law of x (e.g. a covariance trace
proportional to 1/B), since that is what such figures are read for; through a
curve that is not a power law no slope is drawn. A series may carry
``theory_stated`` (values the notes' formula gives, with
``theory_stated_label``): a refuted claim's figure then shows the notes' curve
beside the corrected one.
"""
from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import base64

import numpy as np

from .cache import RenderCache, module_version
from .formatting import fmt_level

VERSION = module_version(__file__)  # a cached figure is reused only if this drawing code is unchanged


def _pyplot():
    """matplotlib's pyplot on the Agg backend, imported on first draw (a fully cached render never loads it)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: reports are rendered on servers and in CI
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    return plt, ticker

_REQUIRED = ("name", "x", "estimate", "ci_low", "ci_high")
_COLOURS = {"estimate": "#1f5fa8", "theory": "#c0392b", "fit": "#6c757d", "stated": "#a86a00"}


@dataclass(frozen=True)
class Figure:
    """A rendered figure: PNG bytes, the file name it is saved under and its caption."""

    filename: str
    caption: str
    png: bytes
    slope: float | None  # fitted log-log slope, when the axes are log-log


@dataclass(frozen=True)
class LogLogFit:
    """Least-squares fit log(y) = intercept + slope * log(x) over the positive points."""

    slope: float
    intercept: float


def _floats(values: Sequence[Any] | None, n: int) -> np.ndarray:
    """Stored values as floats; JSON null (a non-finite number when stored) becomes NaN."""
    if values is None:
        return np.full(n, np.nan)
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def is_plottable(series: Any) -> bool:
    """True for a stored series with the fields a figure needs and matching, non-empty lengths."""
    if not isinstance(series, Mapping) or any(k not in series for k in _REQUIRED):
        return False
    try:
        n = len(series["x"])
        lengths = {len(series[k]) for k in ("estimate", "ci_low", "ci_high")}
        if series.get("theory") is not None:
            lengths.add(len(series["theory"]))
    except TypeError:
        return False
    return n > 0 and lengths == {n}


def loglog_fit(x: np.ndarray, y: np.ndarray) -> LogLogFit | None:
    """Slope of log(y) on log(x) by least squares; None with fewer than 3 positive points."""
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if keep.sum() < 3:
        return None
    slope, intercept = np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)
    return LogLogFit(float(slope), float(intercept))


def symlog_threshold(values: np.ndarray, ratio: float = 20.0) -> float | None:
    """Linear range of a symmetric-log axis when the largest |value| exceeds ``ratio`` times the median; else None.

    One outlier (a check 75 times off, a control) then gets a logarithmic
    stretch while the typical deviations keep a readable linear scale.
    """
    finite = np.abs(np.asarray(values, dtype=float))
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if not finite.size:
        return None
    typical = float(np.median(finite))
    return max(typical, 1e-12) if float(np.max(finite)) > ratio * typical else None


def _is_power_law(x: np.ndarray, y: np.ndarray, tolerance: float) -> bool:
    """Whether ``y`` is a power of ``x`` within ``tolerance`` (largest residual of log y on log x).

    The slope of a log-log fit is drawn only then: through a curve that is not a
    power law (the without-replacement trace (N-B)/(B(N-1)), a stationary variance
    with a 1/(2 - eta lambda) factor) a fitted line and its slope would mislead.
    """
    fit = loglog_fit(x, y)
    if fit is None:
        return False
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    residual = np.log(y[keep]) - (fit.intercept + fit.slope * np.log(x[keep]))
    return bool(np.max(np.abs(residual)) <= tolerance)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "series"


def figure_filename(owner: str, series_name: str, index: int) -> str:
    """File name of a figure: the claim id (or study name), its position and the series name."""
    return f"{_slug(owner)}--{index}-{_slug(series_name)}.png"


def draw_series(series: Mapping[str, Any], owner: str, index: int, confidence: float | None = None) -> Figure:
    """Draw one series: estimates with interval bars, the theory line, the log-log slope where relevant."""
    x = _floats(series["x"], len(series["x"]))
    n = len(x)
    est = _floats(series["estimate"], n)
    lo = _floats(series["ci_low"], n)
    hi = _floats(series["ci_high"], n)
    log_x, log_y = bool(series.get("log_x")), bool(series.get("log_y"))
    # The interval must contain the estimate; clip rounding noise so matplotlib gets non-negative bar lengths.
    yerr = np.vstack([np.clip(est - lo, 0, None), np.clip(hi - est, 0, None)])
    yerr = np.where(np.isfinite(yerr), yerr, 0.0)

    plt, ticker = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    try:
        level = f"{fmt_level(confidence)} interval" if confidence else "interval"
        ax.errorbar(x, est, yerr=yerr, fmt="o", ms=4.5, capsize=3, lw=1.2, color=_COLOURS["estimate"],
                    label=f"Monte Carlo estimate ({level})", zorder=3)
        if series.get("theory") is not None:
            theory = _floats(series["theory"], n)
            order = np.argsort(x)
            ax.plot(x[order], theory[order], "-", lw=1.8, color=_COLOURS["theory"],
                    label=_plain(series.get("theory_label") or "theory"), zorder=2)
        stated = series.get("theory_stated")  # a refuted claim: the notes' curve beside the corrected one
        if isinstance(stated, Sequence) and not isinstance(stated, str) and len(stated) == n:
            order = np.argsort(x)
            ax.plot(x[order], _floats(stated, n)[order], "--", lw=1.8, color=_COLOURS["stated"],
                    label=_plain(series.get("theory_stated_label") or "as printed in the notes"), zorder=2)
        slope = None
        reference = _floats(series["theory"], n) if series.get("theory") is not None else est
        if log_x and log_y and _is_power_law(x, reference, 0.02 if series.get("theory") is not None else 0.1):
            fit = loglog_fit(x, est)
            if fit is not None:
                slope = fit.slope
                grid = np.geomspace(np.nanmin(x[x > 0]), np.nanmax(x[x > 0]), 50)
                ax.plot(grid, np.exp(fit.intercept) * grid**fit.slope, "--", lw=1.2, color=_COLOURS["fit"],
                        label=f"least-squares fit, slope {fit.slope:.3f}", zorder=1)
        for on, axis, set_scale in ((log_x, ax.xaxis, ax.set_xscale), (log_y, ax.yaxis, ax.set_yscale)):
            if on:
                set_scale("log")
                # plain numbers (0.25, 16) read better than 2.5 x 10^-1 over the few decades these figures span
                axis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
                axis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: f"{v:g}"))
                axis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlabel(_plain(series.get("x_label") or "x"))
        ax.set_ylabel(_plain(series.get("y_label") or "value"))
        ax.set_title(_plain(series["name"]), fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, frameon=False)
        fig.tight_layout()
        buffer = io.BytesIO()
        # no timestamp/version metadata: the same store renders to the same bytes
        fig.savefig(buffer, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)
    caption = str(series["name"])
    if slope is not None and math.isfinite(slope):
        caption += f" (fitted log-log slope {slope:.3f})"
    return Figure(figure_filename(owner, str(series["name"]), index), caption, buffer.getvalue(), slope)


def _is_number(value: Any) -> bool:
    """A finite int or float from a record (a tampered string or a bool is not drawn)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _plain(text: Any) -> str:
    """Text for a matplotlib label: a ``$`` from a record must not start mathtext (which can fail to parse)."""
    return str(text).replace("$", r"\$")


def _wrap(text: str, width: int = 46) -> str:
    """A check's name on at most three lines, whole words, never cut short silently."""
    import textwrap

    lines = textwrap.wrap(_plain(text), width) or [""]
    if len(lines) > 3:
        lines = lines[:2] + [textwrap.shorten(" ".join(lines[2:]), width, placeholder=" ...")]
    return "\n".join(lines)


def draw_checks(checks: Sequence[Mapping[str, Any]], owner: str, index: int) -> Figure | None:
    """Every statistical check of a claim as its deviation from theory, with interval and equivalence margin.

    For a claim whose experiment gives no series. Each check is one row:
    (estimate - theory) / |theory| with its interval scaled the same way, and
    the check's equivalence band (``margin``, else tolerance * |theory|) in
    which the interval must lie for CONFIRMED. When some theory is 0 the
    deviations are absolute instead. Negative controls are drawn hollow: their
    theory is wrong on purpose and their interval must exclude 0.
    """
    rows = [c for c in checks if c.get("kind") == "statistical"
            and all(_is_number(c.get(k)) for k in ("theory", "estimate", "ci_low", "ci_high"))]
    if not rows:
        return None
    theory = np.array([float(c["theory"]) for c in rows])
    relative = bool(np.all(theory != 0))
    scale = np.abs(theory) if relative else np.ones_like(theory)
    dev = (np.array([float(c["estimate"]) for c in rows]) - theory) / scale
    lo = (np.array([float(c["ci_low"]) for c in rows]) - theory) / scale
    hi = (np.array([float(c["ci_high"]) for c in rows]) - theory) / scale
    y = np.arange(len(rows))[::-1]
    control = np.array([bool(c.get("control")) for c in rows])
    names = [_wrap(str(c.get("name"))) for c in rows]
    lines = sum(n.count("\n") + 1 for n in names)
    plt, _ = _pyplot()
    fig, ax = plt.subplots(figsize=(7.2, 1.6 + 0.22 * lines + 0.1 * len(rows)), dpi=110)
    try:
        ax.axvline(0.0, color=_COLOURS["theory"], lw=1.8, label="theory (deviation 0)", zorder=2)
        # each check's equivalence band: its absolute ``margin`` when stored, else tolerance * |theory|
        half = np.array([float(c["margin"]) if c.get("margin") is not None
                         else float(c.get("tolerance") or 0.0) * abs(float(c["theory"])) for c in rows]) / scale
        if np.any(half > 0):
            ax.barh(y, 2 * half, left=-half, height=0.6, color=_COLOURS["theory"], alpha=0.12,
                    label="equivalence margin (CONFIRMED needs the interval inside)", zorder=1)
        for mask, face, label in ((~control, _COLOURS["estimate"], "Monte Carlo estimate with interval"),
                                  (control, "white", "negative control (its interval must exclude 0)")):
            if mask.any():
                err = np.vstack([np.clip(dev - lo, 0, None)[mask], np.clip(hi - dev, 0, None)[mask]])
                ax.errorbar(dev[mask], y[mask], xerr=err, fmt="o", ms=5, capsize=3, color=_COLOURS["estimate"],
                            mfc=face, label=label, zorder=3)
        ax.set_yticks(y, names, fontsize=7)
        # symmetric log axis: linear within the typical margin, logarithmic beyond, so one check 75x off
        # does not squash the others into a line at 0
        threshold = symlog_threshold(np.concatenate([lo, hi, dev, half]))
        if threshold is not None:
            ax.set_xscale("symlog", linthresh=threshold, linscale=1.0)
        ax.set_xlabel(("relative deviation (estimate - theory) / |theory|" if relative
                       else "deviation estimate - theory (units of the quantity)")
                      + (", symmetric log scale" if threshold is not None else ""))
        ax.set_title("Monte Carlo checks against theory", fontsize=10)
        ax.grid(True, axis="x", alpha=0.3)
        axes_inches = fig.get_figheight() * ax.get_position().height
        ax.legend(fontsize=7, frameon=False, loc="upper center", ncol=2,
                  bbox_to_anchor=(0.5, -0.5 / axes_inches))  # half an inch below the axes: under the x label
        buffer = io.BytesIO()
        # bbox "tight": the legend sits below the axes and must be inside the image
        fig.savefig(buffer, format="png", metadata={"Software": None}, bbox_inches="tight")
    finally:
        plt.close(fig)
    caption = "Each statistical check: deviation of the Monte Carlo estimate from theory, with its interval"
    return Figure(figure_filename(owner, "checks", index), caption, buffer.getvalue(), None)


def draw_all(series_list: Sequence[Any], owner: str, confidence: float | None = None,
             cache: RenderCache | None = None) -> list[Figure]:
    """One figure per plottable series of a claim or study, in order; malformed series are skipped."""
    out = []
    for i, s in enumerate(series_list or ()):
        if is_plottable(s):
            fig = cached(cache, "series", [dict(s), owner, i, confidence],
                         lambda s=s, i=i: draw_series(s, owner, i, confidence))
            if fig is not None:
                out.append(fig)
    return out


def cached(cache: RenderCache | None, kind: str, payload: Any, draw) -> Figure | None:
    """``draw()`` memoised in ``cache`` by the hash of ``payload`` and of this module's source."""
    if cache is None:
        return draw()

    def compute() -> dict[str, Any] | None:
        fig = draw()
        if fig is None:
            return None
        return {"filename": fig.filename, "caption": fig.caption, "slope": fig.slope,
                "png": base64.b64encode(fig.png).decode("ascii")}

    value = cache.get("figure-" + kind, VERSION, payload, compute)
    if not isinstance(value, dict):
        return None
    try:
        return Figure(str(value["filename"]), str(value["caption"]), base64.b64decode(value["png"]),
                      value.get("slope"))
    except (KeyError, TypeError, ValueError):
        return draw()
