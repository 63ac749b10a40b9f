"""Region data and its loader. Imports no app: every other floor reads regions."""

# Registers the holiday calendar check with Django's system checks (settings import this package).
from regions import checks  # noqa: F401
from regions.loader import (
    REGIONS_DIR,
    CountryDefaults,
    Holiday,
    PaymentMethods,
    Region,
    RegionError,
    Subdivision,
    SupportChannel,
    TaxModel,
    all_regions,
    available_region_codes,
    current_region,
    home_region,
    load_region,
    parse_region_file,
)

__all__ = [
    "REGIONS_DIR",
    "CountryDefaults",
    "Holiday",
    "PaymentMethods",
    "Region",
    "RegionError",
    "Subdivision",
    "SupportChannel",
    "TaxModel",
    "all_regions",
    "available_region_codes",
    "current_region",
    "home_region",
    "load_region",
    "parse_region_file",
]
