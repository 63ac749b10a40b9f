"""Currencies fixed by their central bank to another currency, which the ECB does not publish.

The Gulf currencies are pegged to the US dollar (1 USD = 3.6725 AED, 3.75 SAR ...). The
pegs are data (``FX_PEGS_FILE``, a small TOML file); this provider wraps the market-rate
provider and, for every day on which that one publishes the anchor currency, adds
``1 USD = peg`` rows with source ``peg``. Crossing them with the day's EUR/USD happens at
read time, so the stored figures are exactly the official ones.
"""

from __future__ import annotations

import datetime as dt
import logging
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from apps.errors import ApplicationError
from apps.money.providers import ProviderError, Rate, RateProvider
from apps.money.types import currency_code

logger = logging.getLogger(__name__)

SOURCE = "peg"
# Only used to let Rate() validate a peg value read from the file; pegs have no date of their own.
_ANY_DAY = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class Pegs:
    anchor: str
    per_anchor: dict[str, Decimal]


def load_pegs(path: Path) -> Pegs:
    """Read and check a pegs file: ``anchor = "USD"`` and ``[per_anchor] AED = 3.6725``."""
    try:
        with Path(path).open("rb") as handle:
            # parse_float=Decimal keeps 3.6725 exact: a float would store 3.67249999...
            data = tomllib.load(handle, parse_float=Decimal)
    except OSError as exc:
        raise ProviderError(f"Cannot read FX pegs file {path}: {exc.strerror}.", code="rates_unavailable") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProviderError(f"{path}: not valid TOML ({exc}).", code="bad_rates_file") from None
    try:
        anchor = currency_code(data.get("anchor"))
        table = data.get("per_anchor")
        if not isinstance(table, dict) or not table:
            raise ProviderError("a [per_anchor] table of currency = rate is required.", code="bad_rates_file")
        per_anchor = {}
        for code, value in table.items():
            if isinstance(value, str):
                try:
                    value = Decimal(value)
                except ArithmeticError:
                    raise ProviderError(f"{code} = {value!r} is not a number.", code="bad_rates_file") from None
            if isinstance(value, bool) or not isinstance(value, Decimal | int):
                raise ProviderError(f"{code} = {value!r} is not a number.", code="bad_rates_file")
            # Rate() checks the value is positive and storable.
            Rate(anchor, code, Decimal(value), _ANY_DAY, SOURCE)
            per_anchor[currency_code(code)] = Decimal(value)
    except ApplicationError as exc:
        raise ProviderError(f"{path}: {exc.message}", code="bad_rates_file") from None
    return Pegs(anchor=anchor, per_anchor=per_anchor)


class PeggedProvider:
    """The anchor provider's rates, plus the pegged currencies for each day it covers."""

    def __init__(self, *, anchor: RateProvider, pegs: Pegs) -> None:
        self.anchor = anchor
        self.pegs = pegs
        # The snapshot belongs to the market-rate source; peg rows say "peg" themselves.
        self.source = anchor.source

    def fetch(self) -> list[Rate]:
        rates = list(self.anchor.fetch())
        published: dict[dt.date, set[str]] = {}
        for rate in rates:
            published.setdefault(rate.rate_date, set()).update((rate.base, rate.quote))
        for day in sorted(published):
            currencies = published[day]
            if self.pegs.anchor not in currencies:
                logger.warning("No %s rate on %s: pegged currencies skipped for that day", self.pegs.anchor, day)
                continue
            for code, value in self.pegs.per_anchor.items():
                if code in currencies:
                    continue  # the market source already publishes it; do not give two paths
                rates.append(Rate(self.pegs.anchor, code, value, day, SOURCE))
        return rates
