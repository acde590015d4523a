"""Web tools: read a page as plain text, list the links on a page. Same HTTP plumbing and limits as the http tools."""

from __future__ import annotations

import contextlib
import re
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

from ..base import DangerLevel, Tool
from ..sandbox import Sandbox
from .http import _fetch, _Response

__all__ = ["web_tools"]

MAX_LINKS = 200
_HIDDEN = frozenset({"script", "style", "noscript", "template", "svg"})
_BLOCKS = frozenset(
    "address article aside blockquote br dd div dl dt figcaption figure footer form h1 h2 h3 h4 h5 h6 header "  # noqa: SIM905
    "hr li main nav ol p pre section table td th title tr ul".split()
)


class _Page(HTMLParser):
    """One pass over an HTML page: its visible text (line breaks at block elements) and its <a href> targets."""

    def __init__(self, base_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.parts: list[str] = []
        self.links: list[str] = []
        self._hidden: list[str] = []  # open elements whose text is not shown
        self._pre = 0  # depth of <pre> elements, whose line breaks are kept

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")
        if tag in ("a", "base") and (href := dict(attrs).get("href")):
            with contextlib.suppress(ValueError):  # a malformed href (e.g. "http://[oops") is skipped
                url = urljoin(self.base_url, href.strip())
                if tag == "base":
                    self.base_url = url
                else:
                    self.links.append(url)
        elif tag in _HIDDEN:
            self._hidden.append(tag)
        if tag == "pre":
            self._pre += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self._hidden:  # pop up to the matching element, tolerating unclosed children
            del self._hidden[len(self._hidden) - 1 - self._hidden[::-1].index(tag) :]
        if tag in _BLOCKS:
            self.parts.append("\n")
        if tag == "pre" and self._pre:
            self._pre -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:  # source line breaks are spaces, except inside <pre>
            self.parts.append(data if self._pre else re.sub(r"\s+", " ", data))

    def text(self) -> str:
        lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in "".join(self.parts).split("\n"))
        return "\n".join(line for line in lines if line)


def _parse(response: _Response) -> _Page:
    page = _Page(response.url)
    page.feed(response.text())
    page.close()
    return page


def _readable(response: _Response, limit: int) -> str:
    """HTML as visible text; other text as is; binary content refused."""
    if response.is_binary():
        raise ValueError(
            f"{response.url} is {response.content_type or 'binary data'}, not text; fetch_url only reads pages "
            "and text. Use http_get to see its headers."
        )
    looks_html = "html" in response.content_type or (
        not response.content_type and response.text().lstrip()[:15].lower().startswith(("<!doctype", "<html"))
    )
    text = _parse(response).text() if looks_html else response.text()
    if response.status >= 400:
        text = f"[HTTP {response.status}: this is the server's error page]\n{text}"
    if len(text) > limit:
        text = text[:limit] + f"\n… [{len(text) - limit} more characters cut]"
    elif response.truncated:
        text += f"\n… [page cut at {len(response.data)} bytes, the sandbox's max_response_bytes]"
    return text


def web_tools(sandbox: Sandbox) -> list[Tool]:
    """``fetch_url`` and ``extract_links``, both LOW (read-only)."""

    def fetch_url(url: str) -> str:
        """Download a web page and return its readable text (scripts, styles and markup removed).

        Args:
            url: The full http:// or https:// address of the page.
        """
        return _readable(_fetch(sandbox, "GET", url, tool="fetch_url"), sandbox.max_output_chars)

    def extract_links(url: str) -> list[str]:
        """List the links on a web page as absolute http(s) URLs, in page order, without duplicates (at most 200).

        Args:
            url: The full http:// or https:// address of the page.
        """
        page = _parse(_fetch(sandbox, "GET", url, tool="extract_links"))
        links = (urldefrag(link).url for link in page.links)
        web = [link for link in dict.fromkeys(links) if urlsplit(link).scheme in ("http", "https")]
        return web[:MAX_LINKS]

    return [
        Tool.from_function(fetch_url, danger=DangerLevel.LOW, category="web"),
        Tool.from_function(extract_links, danger=DangerLevel.LOW, category="web"),
    ]
