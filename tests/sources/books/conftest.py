"""Books tests' shared fixtures: the real text of Botchan (PG #8868), as distributed and stripped."""

from __future__ import annotations

import pytest

from pipeline.assets import asset_path
from sources.books.gutenberg import strip_gutenberg


@pytest.fixture(scope="module")
def botchan_raw() -> str:
    with open(asset_path("botchan.txt"), encoding="utf-8-sig") as f:
        return f.read()


@pytest.fixture(scope="module")
def botchan(botchan_raw) -> str:
    return strip_gutenberg(botchan_raw)[0]
