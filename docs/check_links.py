"""Check every internal link of the built site: the target file exists and so does its ``#anchor``.

Sphinx (with ``-W``) already rejects cross-references it cannot resolve; this catches what it lets through: raw
HTML links, links into notebooks' markdown cells, and anchors. External links are listed, never fetched (the build
is offline). Usage: ``python docs/check_links.py build/docs/html``; exit status 1 lists every broken link.
"""

from __future__ import annotations

import os
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

SKIPPED_SCHEMES = {"http", "https", "mailto", "data", "javascript"}


class _Page(HTMLParser):
    """The ids a page defines and the links (href/src) it makes."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for key in ("id", "name"):
            if values.get(key):
                self.ids.add(values[key] or "")
        if tag in {"a", "link"} and values.get("href"):
            self.links.append(values["href"] or "")
        if tag in {"img", "script", "source"} and values.get("src"):
            self.links.append(values["src"] or "")


def _parse(path: Path, cache: dict[Path, _Page]) -> _Page:
    if path not in cache:
        page = _Page()
        page.feed(path.read_text(encoding="utf-8", errors="replace"))
        cache[path] = page
    return cache[path]


def _problem(site: Path, page_path: Path, link: str, cache: dict[Path, _Page]) -> str | None:
    """What is wrong with one internal ``link`` on ``page_path``, or None."""
    parts = urlsplit(link)
    where = page_path.relative_to(site)
    target = (page_path.parent / unquote(parts.path)).resolve() if parts.path else page_path
    if parts.path.endswith("/") or target.is_dir():
        target = target / "index.html"
    if not target.is_relative_to(site):
        return f"{where}: {link} -> leaves the site ({os.path.relpath(target, site)})"
    if not target.exists():
        return f"{where}: {link} -> no such file {os.path.relpath(target, site)}"
    if parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _parse(target, cache).ids:
        return f"{where}: {link} -> {target.name} has no id '{parts.fragment}'"
    return None


def broken_links(site: Path) -> tuple[list[str], int, int]:
    """(problems, internal links checked, external links skipped) for every HTML page under ``site``."""
    cache: dict[Path, _Page] = {}
    problems: list[str] = []
    checked = external = 0
    for page_path in sorted(site.rglob("*.html")):
        if "_static" in page_path.parts or "_modules" in page_path.parts:
            continue
        for link in _parse(page_path, cache).links:
            parts = urlsplit(link)
            if parts.scheme in SKIPPED_SCHEMES or parts.netloc:
                external += 1
                continue
            checked += 1
            if problem := _problem(site, page_path, link, cache):
                problems.append(problem)
    return problems, checked, external


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not Path(argv[1]).is_dir():
        print("usage: python docs/check_links.py <built html folder>  (run `make docs` first)", file=sys.stderr)
        return 2
    problems, checked, external = broken_links(Path(argv[1]).resolve())
    for problem in problems:
        print(f"broken link: {problem}", file=sys.stderr)
    print(f"{checked} internal links checked, {len(problems)} broken; {external} external links not fetched")
    if checked == 0:
        print("no internal links found: is this the built site?", file=sys.stderr)
    return 1 if problems or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
