"""The report in a real browser: Debian's headless Chromium driven by selenium through chromedriver.

What a reader sees at 1400x900 without scrolling: each family's headline figure and verdict grid; every image
loads; no absolute path of the run is on the page; text from files (a hostile family note) stays text.
Skipped with a reason when Chromium or chromedriver is not installed (``.ci/run`` installs both).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from lm_eval_mirage.analysis.report import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Chromium and chromedriver (apt-get install chromium chromium-driver; .ci/run does)",
)
SCREEN = (1400, 900)
HOSTILE_NOTE = '<img src=x onerror="window.__pwned = 1"> SIMULATION'


def closed_form_family(
    family: str, models: dict[str, float], *, c: float, alpha: float = -0.5, L: int = 6
) -> list[dict]:
    """A family's rows from the paper's closed form: per-token p = exp(-(N/c)^alpha), 200 problems of L digits."""
    rows = []
    for model, n in models.items():
        p = math.exp(-((n / c) ** alpha))
        em = math.floor(200 * p**L) / 200  # what 200 problems resolve: 0 below 1/200
        common = {"model": model, "x": n, "family": family, "n": 200}
        rows += [
            {**common, "task": "recall", "filter": "parsed", "metric": "exact_match", "value": em},
            {**common, "task": "recall", "filter": "parsed", "metric": "token_edit_distance", "value": L * (1 - p)},
            {**common, "task": "recall_ll", "metric": "per_token_logprob", "value": math.log(p)},
            {**common, "task": "recall_ll", "metric": "token_logprobs", "value": math.log(p)},
            {**common, "task": "recall_ll", "metric": "target_tokens", "value": float(L)},
        ]
    return rows


@pytest.fixture(scope="module")
def report_page(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("browser")
    zoo = root / "zoo" / "checkpoints"  # models named by absolute folders, as the demo's shipped checkpoints are
    trained = {str(zoo / f"recall-w{w}-s0"): float(w) ** 2 * 60 for w in (4, 5, 6, 8, 10, 12, 16, 20)}
    simulated = {f"mirage-sim-{n:.3g}": n for n in (1.25e8, 3.5e8, 7.6e8, 1.3e9, 2.7e9, 6.7e9, 1.3e10, 1.75e11)}
    table = pd.DataFrame(
        closed_form_family("simulated-seed0", simulated, c=2e9)
        + closed_form_family("trained-seed0", trained, c=3e3, alpha=-1.0, L=12)
    )
    out = root / "report"
    write_report(
        table,
        out,
        title="Browser check",
        notes={"simulated-seed0": HOSTILE_NOTE},
        x_label="parameters",
        formats=["png"],
        n_boot=20,
        progress=False,
    )
    return out / "report.html", root


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--window-size={SCREEN[0]},{SCREEN[1]}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    # the viewport itself, not the window, is 1400x900
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": SCREEN[0], "height": SCREEN[1], "deviceScaleFactor": 1, "mobile": False},
    )
    yield driver
    driver.quit()


RECTS = """
const box = el => { const r = el.getBoundingClientRect();
  return {top: r.top, left: r.left, bottom: r.bottom, right: r.right, width: r.width, height: r.height}; };
return {
  families: [...document.querySelectorAll('#at-a-glance .family')].map(f => ({
    name: f.querySelector('h2').textContent,
    figure: [...f.querySelectorAll('.headline-figure')].map(box),
    grid: [...f.querySelectorAll('.verdict-grid > table.grid')].map(box),
    cells: [...f.querySelectorAll('td.cell[data-verdict]')].map(c => [c.dataset.verdict, c.title]),
  })),
  images: [...document.images].map(i => [i.alt, i.complete, i.naturalWidth]),
  viewport: [window.innerWidth, window.innerHeight],
  pwned: window.__pwned === undefined ? null : window.__pwned,
  notes: [...document.querySelectorAll('.fam-note')].map(n => n.textContent),
  html: document.documentElement.outerHTML,
};
"""


def test_the_answer_is_on_the_first_screen(report_page, browser, tmp_path):
    page, root = report_page
    browser.get(page.as_uri())
    found = browser.execute_script(RECTS)
    browser.save_screenshot(str(tmp_path / "first-screen.png"))  # kept by pytest's tmp_path for a look
    assert found["viewport"] == list(SCREEN)
    assert [f["name"] for f in found["families"]] == ["simulated-seed0", "trained-seed0"]
    for fam in found["families"]:
        assert len(fam["figure"]) == 1 and len(fam["grid"]) == 1, fam["name"]
        for what, box in (("headline figure", fam["figure"][0]), ("verdict grid", fam["grid"][0])):
            assert box["width"] > 100 and box["height"] > 40, f"{fam['name']}: {what} is not drawn: {box}"
            assert box["top"] >= 0 and box["left"] >= 0, f"{fam['name']}: {what} starts off screen: {box}"
            assert box["bottom"] <= SCREEN[1] and box["right"] <= SCREEN[0], (
                f"{fam['name']}: {what} is not inside the first {SCREEN[0]}x{SCREEN[1]} screen: {box}"
            )
        verdicts = dict((v, t) for v, t in fam["cells"])
        assert "emergent" in verdicts and "smooth" in verdicts, fam["cells"]
        assert all(title.strip() for _, title in fam["cells"])  # every cell says why on hover
    assert found["images"] and all(ok and width > 0 for _, ok, width in found["images"]), found["images"]


def test_no_absolute_path_of_the_run_and_file_text_stays_text(report_page, browser):
    page, root = report_page
    browser.get(page.as_uri())
    found = browser.execute_script(RECTS)
    assert str(root) not in found["html"] and "/zoo/checkpoints" not in found["html"]
    assert "recall-w4-s0" in found["html"]  # the model is named by its folder
    assert found["pwned"] is None  # the note's onerror handler never ran
    assert any(note.startswith("<img src=x onerror=") for note in found["notes"])  # shown as text
    assert "token_logprobs" not in found["html"].split("<main>", 1)[0]  # a repeated quantity is not on top
