"""The first screen and the escaping boundary: errata per document, differing terms, summary.json,
HTML and Markdown that no document or store record can turn into live markup."""
from __future__ import annotations

import json
import re

import pytest

from emastats import catalogue
from emastats.report import ResultStore, render
from emastats.report import escape as E
from emastats.report.errata import differing_terms
from emastats.proving import refuted, run_proof
from emastats.verdict import Verdict
from test_report import AUDIT, _record, build_store

IMG_NAME = "x`<img src=x onerror=alert(9)>`.md"
PAYLOADS = (
    r"$2+2 = 5\text{<meta/http-equiv='refresh'/content='1;url=https://example.invalid/'>}$",
    r"$x\text{<base/href=https://example.invalid/>}$",
    r"$y\text{<div/style='position:fixed;inset:0;background:#fff'>All claims verified: no errors found</div>}$",
)


def test_differing_terms_come_from_the_sympy_parses_and_abstain_when_unparsed():
    d = differing_terms(r"\Sigma^{B} = \frac{1}{B}\Sigma^{1}", r"\Sigma^{B} = \frac{1}{B}\,\frac{N-B}{N-1}\,\Sigma^{1}")
    assert d is not None and d.level == "factors" and d.printed == ()
    assert sorted(d.corrected) == sorted([r"\frac{1}{N - 1}", "- B + N"])
    sign = differing_terms(r"w_{t+1} = w_t + \eta g_t", r"w_{t+1} = w_t - \eta g_t")
    assert sign is not None and sign.level == "terms" and len(sign.printed) == len(sign.corrected) == 1
    assert sign.corrected[0].startswith("-") and not sign.printed[0].startswith("-")
    chained = differing_terms(r"v_{t} = \frac{x}{1-b^{t}},\ m_{t} = y", r"m_{t} = y,\quad v_{t} = \frac{x}{1-b^{t+1}}")
    assert chained is not None and len(chained.printed) == len(chained.corrected) == 1, "statements paired by side"
    assert "t + 1" in chained.corrected[0] and "t + 1" not in chained.printed[0]
    assert differing_terms(r"w = v + x^{t}", r"w = v - x^{t}"), "control: with a real exponent the terms differ"
    assert differing_terms(r"w = v + x^{torch}", r"w = v - x^{t}") is None, "a word read as a product is not compared"
    assert differing_terms(r"a = b", r"a = b") is None, "no difference is claimed between equal formulas"
    assert differing_terms(r"a = b", r"c \le d \le e") is None, "different equations: abstain, never guess"
    assert differing_terms(r"x = \frac{1}{", r"x = 2") is None


def _refuted_store(root):
    store = ResultStore(root)
    wr = catalogue.get("minibatch.covariance.without_replacement")
    proof = run_proof(wr, lambda: refuted("enumeration", {"N": 3, "B": 2}, [r"\text{claimed: } \frac{\Sigma^{1}}{B}"],
                                          corrected=Verdict.PROVED))
    store.save(_record(wr.id, proof, None, "h1"))
    conv = catalogue.get("impl.torch_adam.eps_placement")
    store.save(_record(conv.id, run_proof(conv, lambda: refuted("evaluation", {"g": 1}, [])), None, "h2"))
    store.save(_record("ema.geometric_sum", None, None, "h3"))
    store.save_document(AUDIT)
    return {wr.id: "h1", conv.id: "h2", "ema.geometric_sum": "h3"}


def test_errata_first_per_document_and_conventions_apart(tmp_path):
    hashes = _refuted_store(tmp_path / "results")
    report = render(tmp_path / "results", tmp_path / "out", hasher=hashes.get)
    page = report.html.read_text()
    main = page.split("<main>", 1)[1].lstrip()
    assert main.startswith('<section id="errata"'), "the errata section is the first thing in the page"
    errata = main.split("</section>", 1)[0]
    wr = catalogue.get("minibatch.covariance.without_replacement")
    for source in wr.sources:  # one erratum per document the claim cites, at its location
        assert E.text(source.document) in errata and E.text(source.location) in errata
    assert 'class="term ins"' in errata, "the correction's differing factors are highlighted"
    assert "lecture7.md" in errata and "EMA001" in errata, "audit errors are errata of their file"
    conventions = errata.split('id="conventions"', 1)[1]
    assert "impl.torch_adam.eps_placement" in conventions
    assert "impl.torch_adam.eps_placement" not in errata.split('id="conventions"', 1)[0]

    summary = json.loads(report.summary.read_text())
    docs = {d["document"]: d["errata"] for d in summary["errata"]}
    assert set(docs) == {s.document for s in wr.sources} | {"notes/lecture7.md"}
    entry = docs[wr.sources[0].document][0]
    assert entry["claim"] == wr.id and entry["printed"] == wr.statement and entry["corrected"] == wr.corrected
    assert entry["difference"]["level"] == "factors" and entry["difference"]["printed_only"] == []
    assert [c["claim"] for c in summary["conventions"]] == ["impl.torch_adam.eps_placement"]
    row = {c["id"]: c for c in summary["claims"]}[wr.id]
    assert row["sources"] == [s.to_dict() for s in wr.sources] and row["statement"] == wr.statement
    assert row["quick"] is True and summary["counts_symbolic"]["REFUTED"] == 2
    md = report.markdown.read_text()
    assert md.index("## Errata") < md.index("## Summary") < md.index("## Claims")


def test_proof_steps_say_what_they_show(tmp_path):
    hashes = _refuted_store(tmp_path / "results")
    page = render(tmp_path / "results", tmp_path / "out", hasher=hashes.get).html.read_text()
    section = page.split('id="claim-minibatch.covariance.without_replacement"', 1)[1].split("</section>", 1)[0]
    section = section.replace("\xa0", " ")  # MathML text keeps its spaces as no-break spaces
    assert "claimed" not in section and "as printed in the notes" in section


def _hostile_store(root):
    store = ResultStore(root)
    store.save_document({**AUDIT, "path": IMG_NAME, "findings": [
        {"line": i + 1, "end_line": i + 1, "code": "AUD010", "severity": "error", "message": payload,
         "evidence": payload, "suggestion": payload} for i, payload in enumerate(PAYLOADS)]})
    wr = catalogue.get("ema.bias.mean")
    data = _record(wr.id, None, None, "h").to_dict()
    data["empirical"] = {"claim_id": wr.id, "verdict": "CONFIRMED", "seed": "<b>7</b>", "device": "cpu",
                         "replicas": 10, "seconds": "<img src=x onerror=alert(1)>", "checks": [
                             {"name": "m <script>", "kind": "statistical", "theory": "<img src=x onerror=alert(2)>",
                              "estimate": 1.0, "ci_low": 0.9, "ci_high": 1.1, "replicas": 10, "verdict": "CONFIRMED"}]}
    (root / "claims").mkdir(parents=True, exist_ok=True)
    (root / "claims" / f"{wr.id}.json").write_text(json.dumps(data))
    return {wr.id: "h"}


def test_markdown_never_carries_live_html_from_names_or_records(tmp_path):
    markdown_it = pytest.importorskip("markdown_it")
    hashes = _hostile_store(tmp_path / "results")
    report = render(tmp_path / "results", tmp_path / "out", hasher=hashes.get)
    html = markdown_it.MarkdownIt("commonmark").enable("table").render(report.markdown.read_text())
    assert not re.search(r"<(?:img|meta|base|div|script)\b", html), "no element from the data is live"
    assert "&lt;img src=x onerror=alert(9)&gt;" in html, "the file name is shown, as text"


def test_html_escapes_records_at_one_boundary(tmp_path):
    hashes = _hostile_store(tmp_path / "results")
    page = render(tmp_path / "results", tmp_path / "out", hasher=hashes.get).html.read_text()
    body = page.split("</head>", 1)[1]
    assert not re.search(r"<(?:img|meta|base|script)\b", body.replace('<img src="data:image/png;base64,', ""))
    assert "<div/style" not in body and "position:fixed" not in body.replace("&#x27;", "'").split("<code")[0]
    head = page.split("</head>", 1)[0]
    assert "base-uri 'none'" in head and "form-action 'none'" in head and "unsafe-inline" not in head


def test_escape_functions():
    assert E.text('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;"
    assert E.number("<b>") == "&lt;b&gt;" and E.number(12345) == "12\u2009345"
    # escaped text in <mtext>, or the TeX as code: either way no live element
    assert "<meta" not in E.math(r"2\text{<meta/http-equiv='refresh'>}") and "<b>" not in E.math(r"\text{<b>}")
    assert E.math(r"\frac{a}{b}").startswith("<math")
    assert E.md_code("a`b") == "``a`b``" and E.md_code("`x`") == "`` `x` ``"
    assert E.md_text("*a* <b> [c](d) $x$ |") == r"\*a\* \<b\> \[c\](d) \$x\$ \|"
    assert E.md_math("a<b$c") == r"$a\lt b\$c$"


def test_fields_of_the_richer_records_are_shown_when_present(tmp_path):
    """formula_latex / corrected_latex (the formulas the proof checked), margin and per-check parameters."""
    hashes = _refuted_store(tmp_path / "results")
    path = tmp_path / "results" / "claims" / "minibatch.covariance.without_replacement.json"
    data = json.loads(path.read_text())
    data["claim"].update(formula_latex=r"\frac{\sigma^{2}}{B}", corrected_latex=r"\frac{\sigma^{2} (N - B)}{B (N - 1)}",
                         margin=0.05)
    data["empirical"] = {"claim_id": data["claim"]["id"], "verdict": "REFUTED", "seed": 1, "device": "cpu",
                         "replicas": 64, "seconds": 0.1, "checks": [
                             {"name": "Sigma^1 / B", "kind": "statistical", "theory": 0.5, "estimate": 0.3,
                              "ci_low": 0.28, "ci_high": 0.32, "replicas": 4096, "verdict": "REFUTED",
                              "confidence": 0.95, "tolerance": 0.05, "min_detectable": 0.01,
                              "parameters": {"N": 8, "B": 4}}]}
    path.write_text(json.dumps(data))
    report = render(tmp_path / "results", tmp_path / "out", hasher=hashes.get)
    page = report.html.read_text()
    section = page.split('id="claim-minibatch.covariance.without_replacement"', 1)[1].split("</section>", 1)[0]
    assert "Formula checked" in section and "relative): 0.05" in section
    assert "4096 replicas per check" in section, "the header gives what the checks simulated, not the budget"
    assert '<mi>N</mi></mrow></math> = 8' in section or "N</mi>" in section
    row = {c["id"]: c for c in json.loads(report.summary.read_text())["claims"]}[data["claim"]["id"]]
    assert row["formula_latex"] == data["claim"]["formula_latex"] and row["margin"] == 0.05
    assert row["checks"][0]["parameters"] == {"N": 8, "B": 4} and row["replicas_per_check"] == [4096, 4096]
    assert "$N$ = 8" in report.markdown.read_text()
