"""Open every page of the built site that has a plotly chart in headless Chromium and check each chart drew.

A chart is a div and a script on a static page: a theme that loads plotly.js late, a figure that fails to parse
or a JS error leaves an empty box that no HTML check notices. Uses Debian's /usr/bin/chromium (never a downloaded
browser). Usage: ``python docs/check_charts.py build/docs/html``; exit status 1 names every page that failed.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
DRAWN = "n => document.querySelectorAll('.js-plotly-plot').length >= n"


def chart_pages(site: Path) -> list[Path]:
    markers = ('class="kaizen-plotly"', 'class="plotly-graph-div"')  # our notebook charts, plotly.io.to_html's
    return sorted(
        p for p in site.rglob("*.html") if any(m in p.read_text(encoding="utf-8", errors="ignore") for m in markers)
    )


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not Path(argv[1]).is_dir():
        print("usage: python docs/check_charts.py <built html folder>  (run `make docs` first)", file=sys.stderr)
        return 2
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    site = Path(argv[1]).resolve()
    pages = chart_pages(site)
    failures: list[str] = []
    drawn_total = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        for path in pages:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
            page.goto(path.as_uri(), wait_until="load")
            charts = page.locator(".kaizen-plotly, .plotly-graph-div")
            expected = charts.count()
            with contextlib.suppress(PlaywrightTimeout):  # plotly draws after DOMContentLoaded; then count
                page.wait_for_function(DRAWN, arg=expected, timeout=15000)
            drawn = page.locator(".js-plotly-plot").count()
            drawn_total += drawn
            if errors or drawn < expected:
                failures.append(f"{path.relative_to(site)}: {drawn} of {expected} charts drawn; errors: {errors[:3]}")
            page.close()
        browser.close()
    for failure in failures:
        print(f"chart not drawn: {failure}", file=sys.stderr)
    print(f"{drawn_total} charts drawn on {len(pages)} pages, {len(failures)} pages failed")
    return 1 if failures or not pages else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
