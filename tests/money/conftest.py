from __future__ import annotations

import pytest

from apps.accounts.selectors import ShopperContext
from regions import all_regions
from tests.money.factories import SHIPPED_DATA


def shopper_locales(languages: set[str] | None = None) -> list[str]:
    """The Babel locale of every shopper (of ``languages``): each region's languages in each of its countries."""
    return sorted(
        {
            ShopperContext(
                region=region, country=country.code, language=language, currency=country.currency, time_zone="UTC"
            ).locale
            for region in all_regions()
            for country in region.countries
            for language in region.languages
            if languages is None or language in languages
        }
    )


@pytest.fixture(autouse=True)
def _fx_settings(settings):
    """The documented defaults, whatever the environment running the tests says."""
    settings.FX_PROVIDERS = ["ecb_file", "pegged"]
    settings.FX_RATES_FILE = str(SHIPPED_DATA / "eurofxref-daily.xml")
    settings.FX_PEGS_FILE = str(SHIPPED_DATA / "pegs.toml")
    settings.FX_STALE_AFTER_DAYS = 3
