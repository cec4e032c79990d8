"""The HTML report in a real browser: headless system Chromium, networking blocked.

Checks what a reader sees: no request leaves the file, no console error, the
formulas are typeset (no raw ``$$`` or ``\\frac`` in the visible text, MathML
laid out with a real size), and a full-page screenshot is not blank.
Never downloads a browser: it uses the Debian ``chromium`` package (``.ci/run``
installs it) and skips, saying why, when there is none.
"""
from __future__ import annotations

import io
import re
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from emastats.report import render
from test_report import build_store

pytestmark = pytest.mark.browser

CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


def _chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium executable (/usr/bin/chromium or chromium on PATH); install Debian's 'chromium'")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (the Python package) is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            b.close()


def test_report_page_offline_no_errors_typeset_and_not_blank(browser, tmp_path):
    hashes = build_store(tmp_path / "results")
    report = render(tmp_path / "results", tmp_path / "out", hasher=hashes.get)

    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    page = context.new_page()
    outgoing: list[str] = []

    def guard(route):
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:  # any network request is a failure of the offline promise
            outgoing.append(url)
            route.abort()

    page.route("**/*", guard)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(report.html.as_uri(), wait_until="load")

    assert outgoing == [], f"the page tried to fetch {outgoing}"
    assert errors == [], f"console errors: {errors}"
    text = page.inner_text("body")
    assert "$$" not in text and "\\frac" not in text, "raw TeX is visible"
    assert "emastats verification report" in text and "STALE" in text
    # MathML is laid out, not shown as flat source: a typeset fraction has a real box
    sizes = page.eval_on_selector_all(
        "math", "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; })")
    assert len(sizes) > 12 and all(w > 0 and h > 0 for w, h in sizes)
    assert page.eval_on_selector_all("img", "els => els.every(i => i.complete && i.naturalWidth > 0)")

    shot = page.screenshot(full_page=True)
    keep = os.environ.get("EMASTATS_SCREENSHOT")  # set it to look at the page yourself
    if keep:
        Path(keep).write_bytes(shot)
    context.close()
    import matplotlib.image

    pixels = matplotlib.image.imread(io.BytesIO(shot), format="png")
    assert pixels.shape[0] > 900 and pixels.shape[1] == 1280
    flat = pixels.reshape(-1, pixels.shape[-1])
    assert len(np.unique(flat[:: max(1, len(flat) // 200_000)], axis=0)) > 50, "screenshot is (nearly) one colour"


def _open(browser, html_path, width: int):
    context = browser.new_context(viewport={"width": width, "height": 900}, offline=True)
    page = context.new_page()
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:"))
               else route.abort())
    page.goto(html_path.as_uri(), wait_until="load")
    return context, page


@pytest.mark.parametrize("width", [1280, 390])
def test_layout_no_sideways_scroll_errata_first_no_raw_tex(browser, tmp_path, width):
    from test_report_errata import _refuted_store

    hashes = build_store(tmp_path / "results")
    hashes.update(_refuted_store(tmp_path / "results"))
    report = render(tmp_path / "results", tmp_path / "out", hasher=hashes.get)
    context, page = _open(browser, report.html, width)
    try:
        scroll_width = page.evaluate("document.scrollingElement.scrollWidth")
        assert scroll_width <= page.evaluate("innerWidth"), f"page scrolls sideways at {width} px: {scroll_width}"
        first = page.evaluate("document.querySelector('main').firstElementChild.id")
        assert first == "errata"
        top = page.evaluate("document.getElementById('errata').getBoundingClientRect().top")
        assert top < 900, "the errata start on the first screen"
        text = page.inner_text("body")
        assert not re.search(r"\$\$|\\frac|\\text\{|\\sqrt|\\Sigma", text), "raw TeX is visible"
        if width == 390:  # the contents table reads as one column: no cell wider than the screen
            widths = page.eval_on_selector_all("nav#contents td", "els => els.map(e => e.getBoundingClientRect().right)")
            assert widths and max(widths) <= 390
    finally:
        context.close()


def test_hostile_notes_cannot_navigate_or_inject(browser, tmp_path):
    from test_report_errata import _hostile_store

    hashes = _hostile_store(tmp_path / "results")
    report = render(tmp_path / "results", tmp_path / "out", hasher=hashes.get)
    context, page = _open(browser, report.html, 1280)
    try:
        url = page.url
        page.wait_for_timeout(3000)  # a meta refresh with a 1 s delay would have fired
        assert page.url == url, "the page navigated away"
        injected = page.evaluate("""() => ({
            meta: [...document.querySelectorAll('meta')].filter(m => m.httpEquiv.toLowerCase() == 'refresh').length,
            base: document.querySelectorAll('base').length,
            img: [...document.querySelectorAll('img')].filter(i => !i.src.startsWith('data:image/png')).length,
            fixed: [...document.querySelectorAll('body *')].filter(e => getComputedStyle(e).position == 'fixed').length,
            script: document.querySelectorAll('script').length})""")
        assert injected == {"meta": 0, "base": 0, "img": 0, "fixed": 0, "script": 0}
        shown = page.inner_text("body").replace("\xa0", " ")
        assert "All claims verified: no errors found" in shown, "the payload shows as text"
    finally:
        context.close()
