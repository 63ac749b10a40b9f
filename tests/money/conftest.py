from __future__ import annotations

import pytest

from tests.money.factories import SHIPPED_DATA


@pytest.fixture(autouse=True)
def _fx_settings(settings):
    """The documented defaults, whatever the environment running the tests says."""
    settings.FX_PROVIDERS = ["ecb_file", "pegged"]
    settings.FX_RATES_FILE = str(SHIPPED_DATA / "eurofxref-daily.xml")
    settings.FX_PEGS_FILE = str(SHIPPED_DATA / "pegs.toml")
    settings.FX_STALE_AFTER_DAYS = 3
