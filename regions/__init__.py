"""Region data and its loader. Imports no app: every other floor reads regions."""

from regions.loader import (
    REGIONS_DIR,
    CountryDefaults,
    Holiday,
    PaymentMethods,
    Region,
    RegionError,
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
    "SupportChannel",
    "TaxModel",
    "all_regions",
    "available_region_codes",
    "current_region",
    "home_region",
    "load_region",
    "parse_region_file",
]
