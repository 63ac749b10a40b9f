"""Where daily FX rates come from, behind one small interface.

A provider has a ``source`` name and a ``fetch()`` that returns :class:`Rate` values
(``1 base = rate quote`` for a day). The service stores them; providers never touch the
database. :func:`provider_from_settings` builds the chain named in ``FX_PROVIDERS``:
the first provider publishes the day's market rates, each later one extends them
(the pegged provider adds AED, SAR ... from the USD rate).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.errors import ApplicationError
from apps.money.types import currency_code

# Rates are stored with this many decimal places (see models.RATE_DECIMAL_PLACES).
MAX_RATE_DECIMALS = 10


class ProviderError(ApplicationError):
    """A provider could not deliver usable rates (missing file, malformed data, unreachable)."""

    status = 503


@dataclass(frozen=True, slots=True)
class Rate:
    """``1 base = rate quote`` on ``rate_date``, as published by ``source``."""

    base: str
    quote: str
    rate: Decimal
    rate_date: dt.date
    source: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", currency_code(self.base))
        object.__setattr__(self, "quote", currency_code(self.quote))
        if self.base == self.quote:
            raise ProviderError(f"A rate needs two currencies, got {self.base}/{self.quote}.", code="bad_rate")
        if not isinstance(self.rate, Decimal) or not self.rate.is_finite() or self.rate <= 0:
            raise ProviderError(
                f"{self.base}/{self.quote} rate {self.rate!s} is not a positive decimal.", code="bad_rate"
            )
        if self.rate.as_tuple().exponent < -MAX_RATE_DECIMALS:
            raise ProviderError(
                f"{self.base}/{self.quote} rate {self.rate} has more than {MAX_RATE_DECIMALS} decimals.",
                code="bad_rate",
            )
        if not isinstance(self.rate_date, dt.date) or isinstance(self.rate_date, dt.datetime):
            raise ProviderError(f"{self.base}/{self.quote} rate has no valid date.", code="bad_rate")


class RateProvider(Protocol):
    source: str

    def fetch(self) -> list[Rate]: ...


def _ecb_file() -> RateProvider:
    from apps.money.providers.ecb import EcbFileProvider

    return EcbFileProvider(Path(settings.FX_RATES_FILE))


def _ecb_http() -> RateProvider:
    from apps.money.providers.ecb import EcbHttpProvider

    return EcbHttpProvider(settings.FX_RATES_URL, timeout=settings.FX_HTTP_TIMEOUT)


def _pegged(anchor: RateProvider) -> RateProvider:
    from apps.money.providers.pegged import PeggedProvider, load_pegs

    return PeggedProvider(anchor=anchor, pegs=load_pegs(Path(settings.FX_PEGS_FILE)))


# Providers that publish the day's market rates (first in FX_PROVIDERS) ...
PRIMARY: dict[str, Callable[[], RateProvider]] = {"ecb_file": _ecb_file, "ecb_http": _ecb_http}
# ... and providers that extend what the previous ones fetched.
EXTENSIONS: dict[str, Callable[[RateProvider], RateProvider]] = {"pegged": _pegged}


def check_provider_names(names: list[str]) -> list[str]:
    """Problems with an ``FX_PROVIDERS`` list, as messages (empty when it is usable)."""
    if not names:
        return [f"FX_PROVIDERS is empty; start it with one of {', '.join(sorted(PRIMARY))}"]
    problems = []
    if names[0] not in PRIMARY:
        problems.append(f"FX_PROVIDERS must start with one of {', '.join(sorted(PRIMARY))}, not {names[0]!r}")
    for name in names[1:]:
        if name not in EXTENSIONS:
            problems.append(f"FX_PROVIDERS: {name!r} cannot follow; valid: {', '.join(sorted(EXTENSIONS))}")
    return problems


def provider_from_settings() -> RateProvider:
    names = list(settings.FX_PROVIDERS)
    problems = check_provider_names(names)
    if problems:
        raise ImproperlyConfigured("; ".join(problems))
    provider = PRIMARY[names[0]]()
    for name in names[1:]:
        provider = EXTENSIONS[name](provider)
    return provider


def primary_source() -> str:
    """The source name of the configured market-rate provider (whose snapshots are "current")."""
    names = list(settings.FX_PROVIDERS)
    problems = check_provider_names(names[:1])
    if problems:
        raise ImproperlyConfigured("; ".join(problems))
    return PRIMARY[names[0]]().source
