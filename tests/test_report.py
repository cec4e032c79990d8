"""Rendering the result store: index.html, index.md, summary.json and figures agree with the store.

The store is built from real ProofResult objects (from the proof runner) and
real EmpiricalResult objects (from a small seeded numpy simulation of an EMA),
so the renderers see exactly what ``emastats verify`` writes.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from emastats import catalogue
from emastats.cli import main as cli_main
from emastats.errors import InputFileError, UsageError
from emastats.proving import proved, refuted, run_proof
from emastats.report import ClaimRecord, ResultStore, render
from emastats.report.figures import draw_checks, draw_series, loglog_fit, symlog_threshold
from emastats.report.mathml import normalise, split_prose, to_mathml
from emastats.results import Check, EmpiricalResult, Series
from emastats.verdict import Verdict, combine

SEED = 1234
CONFIDENCE = 0.95


def _ema_mean_experiment(claim_id: str, beta: float = 0.8, mu: float = 1.0, replicas: int = 4000) -> EmpiricalResult:
    """E[EMA_t] against (1 - beta^t) mu for t = 1..12, from ``replicas`` seeded N(mu, 1) streams.

    Test: per-t two-sided z-test of mean == theory, Bonferroni over the 12 t's at
    5%; CONFIRMED needs every interval inside theory +- 0.1 (absolute), which
    the standard error 1/sqrt(4000) ~ 0.016 makes decidable.
    """
    rng = np.random.default_rng(SEED)
    steps = np.arange(1, 13)
    x = rng.normal(mu, 1.0, size=(replicas, steps[-1]))
    ema = np.zeros(replicas)
    means, halves = [], []
    z = stats.norm.ppf(1 - (1 - CONFIDENCE) / (2 * len(steps)))
    for t in steps:
        ema = beta * ema + (1 - beta) * x[:, t - 1]
        means.append(ema.mean())
        halves.append(z * ema.std(ddof=1) / np.sqrt(replicas))
    theory = (1 - beta**steps) * mu
    checks = []
    for t, m, h, th in zip(steps, means, halves, theory):
        inside = th - 0.1 <= m - h and m + h <= th + 0.1
        checks.append(Check(claim_id, f"mean at t={t}", "statistical", "sample mean", "z-test, Bonferroni",
                            float(th), float(m), float(m - h), float(m + h), CONFIDENCE, 0.1, replicas,
                            Verdict.CONFIRMED if inside else Verdict.INCONCLUSIVE,
                            pvalue_holm=float(min(1.0, 2 * stats.norm.sf(abs(m - th) / (h / z)) * len(steps)))))
    series = Series("EMA mean versus t", "step t (updates)", "E[EMA_t] (units of mu)", tuple(map(float, steps)),
                    tuple(map(float, means)), tuple(float(m - h) for m, h in zip(means, halves)),
                    tuple(float(m + h) for m, h in zip(means, halves)), tuple(map(float, theory)),
                    theory_label=r"(1 - beta^t) mu")
    verdict = Verdict.CONFIRMED if all(c.verdict is Verdict.CONFIRMED for c in checks) else Verdict.INCONCLUSIVE
    return EmpiricalResult(claim_id, verdict, tuple(checks), SEED, "cpu", replicas, 0.01,
                           params={"beta": beta, "mu": mu}, series=(series,))


def _power_law_series() -> Series:
    """A covariance trace 2/B on log-log axes (exact values, tiny symmetric intervals)."""
    b = (1.0, 2.0, 4.0, 8.0, 16.0)
    est = tuple(2.0 / v for v in b)
    return Series("trace of minibatch covariance versus B", "batch size B", "tr Sigma_B", b, est,
                  tuple(e * 0.95 for e in est), tuple(e * 1.05 for e in est), est, "tr Sigma_1 / B", True, True)


def _record(claim_id: str, symbolic, empirical, source_hash: str = "h", final: bool = True) -> ClaimRecord:
    claim = catalogue.get(claim_id)
    sym_v = symbolic.verdict if symbolic else Verdict.NOT_RUN
    emp_v = empirical.verdict if empirical else Verdict.NOT_RUN
    return ClaimRecord(
        claim=claim.to_dict(),
        symbolic=symbolic.to_dict() if symbolic else None,
        empirical=empirical.to_dict() if empirical else None,
        combined=combine(sym_v, emp_v).value,
        source_hash=source_hash,
        meta={"seed": SEED, "device": "cpu", "git_commit": "0123456789abcdef", "quick": True},
        final=final,
    )


AUDIT = {
    "schema": "emastats.audit/1",
    "path": "notes/lecture7.md",
    "findings": [
        {"line": 12, "end_line": 12, "code": "EMA001", "severity": "error",
         "message": "variance of the EMA is missing a factor", "evidence": r"\frac{1}{2-\beta} \ne \frac{1}{2}",
         "suggestion": r"use $\frac{1-\beta}{1+\beta}\sigma^2$"},
        {"line": 30, "end_line": 33, "code": "GEN002", "severity": "warning",
         "message": "sign of the update", "evidence": "w + eta g vs w - eta g", "suggestion": "descend"},
    ],
    "stats": {"formulas": 14, "checked": 12},
    "meta": {"emastats": "0.1.0"},
}

STUDY = {
    "schema": "emastats.study/1",
    "name": "sgd-noise",
    "title": "Stationary SGD variance against batch size",
    "values": {"slope": {"estimate": -0.98, "ci_low": -1.03, "ci_high": -0.93, "theory": -1.0}},
    "series": [_power_law_series().to_dict()],
    "meta": {"seed": SEED, "device": "cpu"},
}


def build_store(root: Path) -> dict[str, str]:
    """A store with a proved+confirmed, a refuted (with counterexample), a stale and a partial claim,
    one audit and one study. Returns the current source hash of every stored claim (for ``hasher``)."""
    store = ResultStore(root)
    hashes = {}

    def geometric():
        return proved("induction on t", [r"t=0:\ (1-\beta)\cdot1 = 1-\beta",
                                         r"(1-\beta)\beta^{t+1} = (1-\beta^{t+2})-(1-\beta^{t+1})"])

    def without_replacement():
        return refuted("exact enumeration of B-subsets", {"N": 3, "B": 2, "stated": "1/2", "exact": "1/4"},
                       [r"\Sigma^{B} = \frac{1}{B}\,\frac{N-B}{N-1}\,\Sigma^{1}"], corrected=Verdict.PROVED)

    def mean():
        return proved("linearity of expectation", [r"E[\langle X\rangle_t] = (1-\beta)\sum_{k=1}^t \beta^{t-k}\mu"])

    ema_mean = _ema_mean_experiment("ema.bias.mean")
    store.save(_record("ema.bias.mean", run_proof(catalogue.get("ema.bias.mean"), mean), ema_mean, "h-mean"))
    hashes["ema.bias.mean"] = "h-mean"
    store.save(_record("ema.geometric_sum", run_proof(catalogue.get("ema.geometric_sum"), geometric), None, "h-geo"))
    hashes["ema.geometric_sum"] = "h-geo"
    wr = catalogue.get("minibatch.covariance.without_replacement")
    store.save(_record(wr.id, run_proof(wr, without_replacement), None, "h-old"))
    hashes[wr.id] = "h-new"  # code changed since: stale
    cov = EmpiricalResult("minibatch.covariance.with_replacement", Verdict.CONFIRMED, (), SEED, "cpu", 1000, 0.5,
                          series=(_power_law_series(),))
    store.save(_record("minibatch.covariance.with_replacement", None, cov, "h-cov", final=False))
    hashes["minibatch.covariance.with_replacement"] = "h-cov"
    store.save_document(AUDIT)
    store.save_document(STUDY)
    return hashes


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    hashes = build_store(root / "results")
    report = render(root / "results", root / "out", hasher=hashes.get)
    return report


def test_all_outputs_exist_and_summary_counts_match_the_store(rendered):
    assert rendered.html.is_file() and rendered.markdown.is_file() and rendered.summary.is_file()
    summary = json.loads(rendered.summary.read_text())
    assert summary["schema"] == "emastats.summary/1"
    assert summary["claims_total"] == 4
    records = ResultStore(Path(summary["store"])).records()
    expected = {v.value: sum(r.combined == v.value for r in records) for v in Verdict}
    assert summary["counts"] == expected
    assert expected["REFUTED"] == 1 and expected["PROVED"] == 2 and expected["CONFIRMED"] == 1
    assert summary["stale"] == ["minibatch.covariance.without_replacement"]
    assert summary["partial"] == ["minibatch.covariance.with_replacement"]
    row = {c["id"]: c for c in summary["claims"]}["ema.bias.mean"]
    assert row["seed"] == SEED and row["device"] == "cpu" and row["replicas"] == 4000
    assert len(row["checks"]) == 12 and all(c["ci_low"] <= c["estimate"] <= c["ci_high"] for c in row["checks"])
    assert summary["audits"][0]["by_severity"] == {"error": 1, "warning": 1}
    assert summary["studies"][0]["name"] == "sgd-noise"


def test_figures_are_written_and_linked_from_markdown(rendered):
    md = rendered.markdown.read_text()
    links = re.findall(r"!\[[^\]]*\]\((figures/[^)]+\.png)\)", md)
    # ema.bias.mean, minibatch.covariance.with_replacement and the study have one series each
    assert len(links) == 3 and len(rendered.figures) == 3
    for link in links:
        png = rendered.out_dir / link
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads(rendered.summary.read_text())
    assert sorted(f for c in summary["claims"] for f in c["figures"]) + summary["studies"][0]["figures"] == sorted(links)


def test_markdown_has_dollar_math_and_every_claim_with_its_verdict(rendered):
    md = rendered.markdown.read_text()
    assert re.search(r"\$\$\n.*\\frac.*\n\$\$", md), "display statements in $$...$$"
    assert re.search(r"(?<!\$)\$[^$\n]+\$(?!\$)", md), "inline $...$ math (assumptions, steps)"
    summary = json.loads(rendered.summary.read_text())
    for row in summary["claims"]:
        section = md.split(f"### `{row['id']}`", 1)[1].split("\n### ", 1)[0]
        assert f"combined verdict **{row['combined']}**" in section
    assert "**STALE**" in md.split("### `minibatch.covariance.without_replacement`", 1)[1]
    assert "| 12 | **error** | `EMA001` |" in md


def test_html_is_self_contained_typeset_and_agrees_with_summary(rendered):
    page = rendered.html.read_text()
    assert "<script" not in page.lower()
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?!data:|#)""", page), "every src/href is data: or an anchor"
    assert "http://" not in page.replace("http://www.w3.org/1998/Math/MathML", "") and "https://" not in page
    assert page.count("<math") > 12
    assert "\\frac" not in page and "$$" not in page, "formulas typeset, no raw TeX"
    assert page.count('src="data:image/png;base64,') == 3
    summary = json.loads(rendered.summary.read_text())
    for row in summary["claims"]:
        section = page.split(f'id="claim-{row["id"]}"', 1)[1].split("</section>", 1)[0]
        assert f'class="badge v-{row["combined"]} ' in section
    stale_section = page.split('id="claim-minibatch.covariance.without_replacement"', 1)[1].split("</section>")[0]
    assert ">STALE<" in stale_section and "Corrected statement (what holds instead)" in stale_section
    assert "exact enumeration of B-subsets" in stale_section and "<code>1/4</code>" in stale_section
    audit = page.split('id="audit-0"', 1)[1].split("</section>")[0]
    assert '"line">12</td>' in audit and '"line">30\u201333</td>' in audit and "sev-error" in audit and "<math" in audit
    assert "Stationary SGD variance against batch size" in page and "[-1.03, -0.93]" in page


def test_render_reuses_nothing_stale_and_removes_orphan_figures(tmp_path):
    hashes = build_store(tmp_path / "results")
    orphan = tmp_path / "out" / "figures" / "old--0-gone.png"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"x")
    hashes["ema.bias.mean"] = "changed"
    report = render(tmp_path / "results", tmp_path / "out", hasher=hashes.get)
    assert not orphan.exists()
    assert set(report.stale) == {"ema.bias.mean", "minibatch.covariance.without_replacement"}


def test_a_corrupt_record_is_reported_in_the_page_not_fatal(tmp_path):
    hashes = build_store(tmp_path / "results")
    (tmp_path / "results" / "claims" / "ema.bias.debias.json").write_text('{"schema": "emastats.claim/1", "cla')
    report = render(tmp_path / "results", tmp_path / "out", hasher=hashes.get)
    assert report.problems == 1
    assert "ema.bias.debias.json" in report.html.read_text()
    assert json.loads(report.summary.read_text())["problems"][0]["path"].endswith("ema.bias.debias.json")


def test_empty_or_missing_store_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(UsageError, match="run 'emastats verify' first"):
        render(tmp_path / "nothing", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    # in-process through the real entry point (argument parsing, dispatch, one-line error, exit 2)
    assert cli_main(["report", "--store", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"emastats: error: the result store {tmp_path / 'empty'} is empty or missing; run 'emastats verify' first"]
    assert not (tmp_path / "out").exists(), "nothing is written for an empty store"


def test_cli_report_renders_from_the_store_and_flags_records_of_other_code(tmp_path, capsys):
    build_store(tmp_path / "results")
    code = cli_main(["report", "--store", str(tmp_path / "results"), "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "4 claims: 2 PROVED, 1 CONFIRMED, 1 REFUTED" in out
    # the fixture's hashes are not those of the installed code, so every record is stale against it
    assert "4 stale record(s)" in out
    assert (tmp_path / "out" / "index.html").is_file() and (tmp_path / "out" / "index.md").is_file()


def test_prose_in_assumptions_becomes_text_and_bad_tex_falls_back_to_code():
    assert normalise("E[X_t] = \\mu for all t") == r"E[X_t] = \mu \text{ for all } t"
    assert normalise("x_t iid with variance sigma_x^2") == r"x_t \text{ iid with variance } \sigma _x^2"
    assert normalise("N >= 1") == r"N \ge  1"
    assert normalise(r"\frac{-c-m}{s}") == r"\frac{-c-m}{s}", "a difference of variables is not a hyphenated word"
    assert normalise(r"\frac{S_aS_b}{N}") == r"\frac{S_aS_b}{N}", "TeX subscripts stay single-token"
    assert normalise("uniform on {1..N}") == r"\text{ uniform on } \{1,\dots,N\}"
    assert to_mathml(r"\frac{1}{2}").typeset
    for broken in (r"\frac{a}{", r"x^", r"\unknowncommand{x}"):
        markup = to_mathml(broken)
        assert not markup.typeset and 'class="tex-fallback"' in markup.html and "could not be typeset" in markup.html
    every = [s for c in catalogue.CLAIMS.values() for s in (c.statement, c.corrected, *c.assumptions) if s]
    assert all(to_mathml(s).typeset for s in every), [s for s in every if not to_mathml(s).typeset]


def test_loglog_fit_recovers_a_power_law_and_figures_tolerate_missing_values():
    x = np.array([1.0, 2.0, 4.0, 8.0])
    fit = loglog_fit(x, 3.0 * x**-1.0)
    assert fit is not None and fit.slope == pytest.approx(-1.0) and np.exp(fit.intercept) == pytest.approx(3.0)
    assert loglog_fit(np.array([1.0, 2.0]), np.array([1.0, 0.5])) is None
    series = _power_law_series().to_dict()
    series["estimate"][1] = None  # a non-finite estimate is stored as null
    figure = draw_series(series, "minibatch.covariance.with_replacement", 0, 0.95)
    assert figure.png[:4] == b"\x89PNG" and figure.slope == pytest.approx(-1.0)


def test_record_with_newer_schema_is_refused_clearly():
    data = _record("ema.geometric_sum", None, None).to_dict()
    data["schema"] = "emastats.claim/2"
    with pytest.raises(InputFileError, match="newer than this emastats reads"):
        ClaimRecord.from_dict(data)


def test_audit_only_store_renders_as_an_audit_report(tmp_path):
    store = ResultStore(tmp_path / "results")
    store.save_document(AUDIT)
    report = render(tmp_path / "results", tmp_path / "out", hasher=lambda claim_id: None)
    page = report.html.read_text()
    assert "<title>emastats audit report</title>" in page and "EMA001" in page
    assert report.markdown.read_text().startswith("# emastats audit report")
    summary = json.loads(report.summary.read_text())
    assert summary["claims_total"] == 0 and summary["audits"][0]["findings"] == 2


def test_statistical_claim_without_series_gets_a_checks_figure(tmp_path):
    ema_mean = _ema_mean_experiment("ema.bias.mean", replicas=500)
    no_series = EmpiricalResult(ema_mean.claim_id, ema_mean.verdict, ema_mean.checks, SEED, "cpu", 500, 0.01)
    store = ResultStore(tmp_path / "results")
    store.save(_record("ema.bias.mean", None, no_series, "h"))
    report = render(tmp_path / "results", tmp_path / "out", hasher={"ema.bias.mean": "h"}.get)
    assert [p.name for p in report.figures] == ["ema-bias-mean--0-checks.png"]
    assert "checks" in json.loads(report.summary.read_text())["claims"][0]["figures"][0]


def test_prose_messages_are_cut_into_text_and_formulas():
    def cut(text):
        return [(s.is_math, s.text) for s in split_prose(text)]

    assert cut("the update of {w}_{t + 1} adds the step: it climbs") == [
        (False, "the update of "), (True, "{w}_{t + 1}"), (False, " adds the step: it climbs")]
    assert cut("at epsilon = 1/2, t = 5 the left side is 2.5") == [
        (False, "at "), (True, "epsilon = 1/2"), (False, ", "), (True, "t = 5"), (False, " the left side is 2.5")]
    assert cut("add it outside, \\eta g/(\\sqrt{v}+\\epsilon)")[-1] == (True, "\\eta g/(\\sqrt{v}+\\epsilon)")
    assert cut("catalogue rmsprop.constant_gradient (scale as g^1)") == [
        (False, "catalogue rmsprop.constant_gradient (scale as "), (True, "g^1"), (False, ")")]
    assert cut("plain words only") == [(False, "plain words only")]


def test_checks_figure_survives_an_outlier_and_keeps_whole_labels():
    assert symlog_threshold(np.array([0.01, -0.02, 0.015, 0.75])) == pytest.approx(0.0175)
    assert symlog_threshold(np.array([0.01, -0.02, 0.015])) is None
    long_name = "variance of the stationary EMA against sigma^2 (1 - beta)/(1 + beta) at beta = 0.9, t = 400"
    checks = [{"name": long_name if i == 0 else f"check {i}", "kind": "statistical", "theory": 1.0,
               "estimate": 1.0 + (75.0 if i == 3 else 0.01 * i), "ci_low": 0.99 + (75.0 if i == 3 else 0.01 * i),
               "ci_high": 1.01 + (75.0 if i == 3 else 0.01 * i), "tolerance": 0.05} for i in range(5)]
    checks.append({**checks[1], "name": "tampered $\\frac{", "theory": "<b>"})  # not a number: not drawn
    figure = draw_checks(checks, "ema.bias.mean", 0)
    assert figure is not None and figure.png[:4] == b"\x89PNG"


def test_loglog_slope_is_drawn_only_through_a_power_law():
    b = (1.0, 2.0, 4.0, 8.0, 16.0)
    without = tuple((20 - v) / (v * 19) for v in b)  # (N-B)/(B(N-1)), N = 20: not a power law of B
    series = Series("trace without replacement", "B", "tr", b, without, tuple(w * 0.99 for w in without),
                    tuple(w * 1.01 for w in without), without, "tr Sigma (N-B)/(B(N-1))", True, True).to_dict()
    assert draw_series(series, "x", 0).slope is None
    assert draw_series(_power_law_series().to_dict(), "x", 0).slope == pytest.approx(-1.0)
