"""The issue's MathML payloads in a real page: no navigation, no injected element (issue 11, part A).

An audit record quotes each payload as the document's formula in a finding, the
way ``emastats audit --report`` does; the page is opened in headless system
Chromium and watched for long enough that a meta refresh would have fired.
"""
from __future__ import annotations

import pytest

from emastats.report import render
from emastats.report.store import AUDIT_SCHEMA, ResultStore
from test_report_browser import browser  # noqa: F401  (the shared Chromium fixture)

pytestmark = pytest.mark.browser

PAYLOADS = [
    r"$2+2 = 5\text{<meta/http-equiv='refresh'/content='0;url=about:blank#navigated'>}$",
    r"$x\text{<base/href=https://example.invalid/>}$",
    r"$y\text{<div/id=overlay/style='position:fixed;top:0;left:0;width:100%;height:100%;background:#fff'>"
    r"All claims verified: no errors found</div>}$",
    r"$z\text{<a/id=injected-link/href=https://example.invalid/>click</a>}$",
]


def test_payloads_stay_text_in_the_browser(browser, tmp_path):  # noqa: F811
    store = ResultStore(tmp_path / "store")
    findings = [{"line": i + 1, "end_line": i + 1, "code": "AUD101", "severity": "error",
                 "message": f"numeric example is wrong: {p}", "evidence": p, "suggestion": None}
                for i, p in enumerate(PAYLOADS)]
    store.save_document({"schema": AUDIT_SCHEMA, "path": "notes.md", "findings": findings, "stats": {}, "meta": {}})
    report = render(tmp_path / "store", tmp_path / "out", hasher=lambda cid: None)

    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report.html.as_uri(), wait_until="load")
    page.wait_for_timeout(1500)  # a 0-second meta refresh fires well within this
    assert page.url == report.html.as_uri(), f"the page navigated to {page.url}"
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    for selector in ('meta[http-equiv="refresh" i]', "base", "#overlay", "#injected-link", "math div", "math a", "math meta"):
        assert page.query_selector_all(selector) == [], selector
    # the payloads are still visible, as text inside typeset formulas
    texts = page.eval_on_selector_all("math mtext", "els => els.map(e => e.textContent.replace(/\\u00a0/g, ' '))")
    assert any("<meta/http-equiv=" in t for t in texts) and any("All claims verified" in t for t in texts), texts
    # and nothing covers the page: the element at the centre is the report's own
    assert page.evaluate("document.elementFromPoint(640, 450).id") != "overlay"
    context.close()
