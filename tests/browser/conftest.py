"""Fixtures for the real-browser tests; see _support.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from ._support import Lab, chromium_page, running_lab


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives JupyterLab in a real headless Chromium (/usr/bin/chromium)")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    with running_lab(tmp_path) as server:
        yield server


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    with chromium_page(tmp_path / "chromium-profile") as browser_page:
        yield browser_page
