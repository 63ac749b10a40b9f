"""Reading FX rates: the current snapshot, a recorded snapshot, and conversion with it.

Display and checkout convert the same way: :func:`convert` with an :class:`FxSnapshot`
whose ``id`` the order (or the pinned product) records. The arithmetic is exact
(fractions built from the stored decimals, crossed through the source's pivot, EUR for
the ECB) and rounded once, half-up, to the target currency's price step - see
:mod:`apps.money.types` for why half-up.

A snapshot older than ``FX_STALE_AFTER_DAYS`` is still usable but never silently:
every :class:`Conversion` carries ``stale``, and ``allow_stale=False`` refuses it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext

from apps.cache_generations import Generation
from apps.money.models import FxRate, RateSnapshot
from apps.money.providers import primary_source
from apps.money.types import Money, MoneyError, currency_code, currency_digits, price_step, round_minor
from regions import Region

logger = logging.getLogger(__name__)

# Bumped by the update service after it commits new rates; keys from before go unread.
RATES_GENERATION = Generation("money:fx:generation")
CACHE_TIMEOUT = 60 * 10
# Effective rates are shown and recorded with this many significant digits; the
# conversion itself uses the exact ratio.
RATE_DISPLAY_DIGITS = 12
# Missing or stale rates fail every request (every price on a page) until the operator acts:
# each (source, condition, rate date) is logged once per process in this many seconds, not
# once per request.
RATES_LOG_INTERVAL = 5 * 60.0

# A rates problem for the log: (once-per-interval key, message, arguments).
_RatesProblem = tuple[tuple[str, str, dt.date | None], str, tuple[object, ...]]
_rates_logged: dict[tuple[str, str, dt.date | None], tuple[float, int]] = {}
_rates_logged_lock = threading.Lock()


def _log_rates_problem(key: tuple[str, str, dt.date | None], message: str, *args: object) -> None:
    """``logger.error(message, *args)`` unless ``key`` was logged in the last ``RATES_LOG_INTERVAL``.

    The next line after a quiet interval says how many were left out, so the log still shows
    whether the outage went on.
    """
    now = time.monotonic()
    with _rates_logged_lock:
        last, skipped = _rates_logged.get(key, (None, 0))
        if last is not None and now - last < RATES_LOG_INTERVAL:
            _rates_logged[key] = (last, skipped + 1)
            return
        if len(_rates_logged) > 256:  # keys carry a date: drop the ones that went quiet
            for old in [k for k, (at, _n) in _rates_logged.items() if now - at >= RATES_LOG_INTERVAL]:
                del _rates_logged[old]
        _rates_logged[key] = (now, 0)
    if skipped and last is not None:
        message += " (Not logged %d more times in the %d seconds before.)"
        args = (*args, skipped, int(now - last))
    logger.error(message, *args)


def rates_log_reset() -> None:
    """Forget what was logged, so the next rates problem is logged at once (tests start from here)."""
    with _rates_logged_lock:
        _rates_logged.clear()


def utc_today() -> dt.date:
    return timezone.now().date()


def is_stale_date(rate_date: dt.date, today: dt.date | None = None) -> bool:
    """Rates for ``rate_date`` are stale when older than ``FX_STALE_AFTER_DAYS`` days.

    The default 3 lets Friday's ECB rates serve a whole weekend and a Monday morning
    (the ECB publishes only on TARGET working days, around 16:00 CET), and flags them by
    Tuesday; a holiday weekend such as Easter is flagged, which is what we want to see.
    """
    return ((today or utc_today()) - rate_date).days > settings.FX_STALE_AFTER_DAYS


@dataclass(frozen=True)
class FxSnapshot:
    """One day's rates from one source, resolved to "units per one pivot" for every currency."""

    id: int
    source: str
    rate_date: dt.date
    pivot: str
    fetched_at: dt.datetime
    units_per_pivot: dict[str, Fraction]

    @property
    def currencies(self) -> frozenset[str]:
        return frozenset(self.units_per_pivot)

    def age_days(self, today: dt.date | None = None) -> int:
        return ((today or utc_today()) - self.rate_date).days

    def is_stale(self, today: dt.date | None = None) -> bool:
        """Older than ``FX_STALE_AFTER_DAYS``; see :func:`is_stale_date`."""
        return is_stale_date(self.rate_date, today)

    def ratio(self, from_currency: str, to_currency: str) -> Fraction:
        """Exact units of ``to_currency`` per one unit of ``from_currency``.

        Without a rate for either, raises ``MoneyError(code="no_rate")`` (400): the shopper may pick
        another currency; which source and date lack what is the operator's, in the log.
        """
        missing = [c for c in (from_currency, to_currency) if c not in self.units_per_pivot]
        if missing:
            _log_rates_problem(
                (self.source, f"no_rate:{','.join(missing)}", self.rate_date),
                "No exchange rate for %s in the %s rates of %s; rates exist for %s. Add it to the rates "
                "source or FX_PEGS_FILE, or stop offering the currency in the region file.",
                ", ".join(missing),
                self.source,
                self.rate_date,
                ", ".join(sorted(self.units_per_pivot)),
            )
            # The shopper chose the currency they are shown: name that one, and what they can do.
            names = {"currency": to_currency}
            raise MoneyError(
                gettext("Prices in %(currency)s cannot be shown right now; please choose another currency.") % names,
                code="no_rate",
                fields={"currency": [gettext("%(currency)s is not available right now.") % names]},
            )
        return self.units_per_pivot[to_currency] / self.units_per_pivot[from_currency]


@dataclass(frozen=True)
class Conversion:
    """The result of converting: the amount, and what it was converted with."""

    original: Money
    money: Money
    snapshot_id: int
    rate_date: dt.date
    rate: Decimal
    stale: bool


def _resolve(pivot: str, rows: list[tuple[str, str, str, Decimal]], source: str) -> dict[str, Fraction]:
    """Walk published pairs outward from the pivot: EUR→USD from the ECB, then USD→AED from a peg.

    The snapshot's own source goes first, so when two paths reach a currency the market
    source's wins; a pair whose base is not reached yet waits for the next pass.
    """
    units: dict[str, Fraction] = {pivot: Fraction(1)}
    pending = sorted(rows, key=lambda row: (row[0] != source, row[1], row[2]))
    while pending:
        waiting = []
        for row in pending:
            _, base, quote, rate = row
            if base in units and quote not in units:
                units[quote] = units[base] * Fraction(rate)
            elif quote in units and base not in units:
                units[base] = units[quote] / Fraction(rate)
            elif base not in units:
                waiting.append(row)
        if len(waiting) == len(pending):
            break  # what is left is not connected to the pivot
        pending = waiting
    return units


def _load(snapshot: RateSnapshot) -> FxSnapshot:
    rows = list(FxRate.objects.filter(snapshot=snapshot).values_list("source", "base", "quote", "rate"))
    return FxSnapshot(
        id=snapshot.pk,
        source=snapshot.source,
        rate_date=snapshot.rate_date,
        pivot=snapshot.pivot,
        fetched_at=snapshot.fetched_at,
        units_per_pivot=_resolve(snapshot.pivot, rows, snapshot.source),
    )


def _prices_unavailable_message() -> str:
    """What a shopper is told when their currency cannot be priced: what to do is the operator's, in the log."""
    return gettext("Prices in your currency are not available right now; please try again shortly.")


def _no_rates_problem(source: str) -> _RatesProblem:
    return (
        (source, "no_fx_rates", None),
        "No %s exchange rates are loaded yet; run `manage.py fx_rates_update`.",
        (source,),
    )


def rates_generation() -> int:
    """Changes whenever new rates are stored; part of the keys of anything cached with prices."""
    return RATES_GENERATION.current()


def rate_snapshot_current(*, today: dt.date | None = None, source: str | None = None) -> FxSnapshot:
    """The newest snapshot of the configured source dated ``today`` or earlier.

    Raises ``MoneyError(code="no_fx_rates", status=503)`` when none has been loaded yet; the
    shopper reads :func:`_prices_unavailable_message`, the log says to run ``fx_rates_update``.
    """
    today = today or utc_today()
    source = source or primary_source()
    key = f"money:fx:{rates_generation()}:current:{source}:{today.isoformat()}"
    snapshot = cache.get(key)
    if snapshot is None:
        row = RateSnapshot.objects.filter(source=source, rate_date__lte=today).order_by("-rate_date").first()
        if row is None:
            problem_key, message, args = _no_rates_problem(source)
            _log_rates_problem(problem_key, message, *args)
            raise MoneyError(_prices_unavailable_message(), code="no_fx_rates", status=503)
        snapshot = _load(row)
        cache.set(key, snapshot, CACHE_TIMEOUT)
    return snapshot


def rate_snapshot_get(*, snapshot_id: int) -> FxSnapshot:
    """A recorded snapshot, for converting an order exactly as it was shown."""
    key = f"money:fx:{rates_generation()}:snapshot:{snapshot_id}"
    snapshot = cache.get(key)
    if snapshot is None:
        row = RateSnapshot.objects.filter(pk=snapshot_id).first()
        if row is None:
            raise MoneyError(f"There is no FX rate snapshot {snapshot_id}.", code="unknown_snapshot", status=404)
        snapshot = _load(row)
        cache.set(key, snapshot, CACHE_TIMEOUT)
    return snapshot


def convert(
    money: Money,
    to_currency: str,
    snapshot: FxSnapshot,
    *,
    today: dt.date | None = None,
    allow_stale: bool = True,
) -> Conversion:
    """Convert ``money`` into ``to_currency`` with ``snapshot``, rounding half-up to the price step.

    Converting to the same currency uses no rate and is never stale. A stale snapshot
    converts with ``stale=True`` on the result, or raises ``stale_rates`` when the
    caller passes ``allow_stale=False`` (checkout should not charge on old rates).
    """
    if not isinstance(money, Money):
        raise MoneyError(f"convert() takes Money, not {type(money).__name__}.", code="invalid_amount")
    target = currency_code(to_currency)
    if money.currency == target:
        return Conversion(money, money, snapshot.id, snapshot.rate_date, Decimal(1), stale=False)
    stale = snapshot.is_stale(today)
    if stale and not allow_stale:
        _log_rates_problem(
            (snapshot.source, "stale_rates", snapshot.rate_date),
            "The newest exchange rates (%s, %s) are %d days old, more than the %d allowed (FX_STALE_AFTER_DAYS); "
            "run `manage.py fx_rates_update` and check why the daily money.fx_rates_update task did not.",
            snapshot.source,
            snapshot.rate_date,
            snapshot.age_days(today),
            settings.FX_STALE_AFTER_DAYS,
        )
        raise MoneyError(_prices_unavailable_message(), code="stale_rates", status=503)
    ratio = snapshot.ratio(money.currency, target)
    exact_minor = Fraction(money.amount_minor) * ratio * Fraction(10) ** (currency_digits(target) - money.digits)
    converted = Money(round_minor(exact_minor, step=price_step(target)), target)
    shown_rate = Decimal(ratio.numerator) / Decimal(ratio.denominator)
    return Conversion(
        original=money,
        money=converted,
        snapshot_id=snapshot.id,
        rate_date=snapshot.rate_date,
        rate=round(shown_rate, RATE_DISPLAY_DIGITS - shown_rate.adjusted() - 1),
        stale=stale,
    )


# --- the currencies a shopper may be shown right now ---------------------------------------

# (region, its currencies, source, day, FX_STALE_AFTER_DAYS, rates generation) -> (offered,
# what to log). Every input is in the key, so an entry is never wrong, only unused: new rates
# bump the generation, midnight changes the day. A few hundred bytes; cleared when it grows.
_priced_memo: dict[tuple[object, ...], tuple[tuple[str, ...], tuple[_RatesProblem, ...]]] = {}
_PRICED_MEMO_MAX = 64


def currencies_priced_now(
    region: Region | None = None, *, today: dt.date | None = None, generation: int | None = None
) -> tuple[str, ...]:
    """The region's currencies that prices can be shown and charged in now, in the region's order.

    The settlement currency always (catalog prices are in it: no rate needed); every other one
    only while the current snapshot has a rate for it and is not stale, since checkout refuses
    stale rates and a shopper should not be offered a currency they cannot pay in. Read on
    every request: one cache round trip (the rates generation) once the answer for this day and
    generation is memoised in the process; none at all for a caller that read the rates
    ``generation`` already (with others, in one round trip: the listing cache keys). What is
    missing is logged once per interval for as long as it lasts, as a failed conversion would be.
    """
    region = region or settings.REGION
    settlement = region.settlement_currency
    if region.currencies == (settlement,):
        return region.currencies
    today = today or utc_today()
    source = primary_source()
    if generation is None:
        generation = rates_generation()
    key = (region.code, region.currencies, settlement, source, today, settings.FX_STALE_AFTER_DAYS, generation)
    memo = _priced_memo.get(key)
    if memo is None:
        memo = _priced(region, today=today, source=source)
        if len(_priced_memo) >= _PRICED_MEMO_MAX:
            _priced_memo.clear()
        _priced_memo[key] = memo
    offered, problems = memo
    for problem_key, message, args in problems:
        _log_rates_problem(problem_key, message, *args)
    return offered


def _priced(region: Region, *, today: dt.date, source: str) -> tuple[tuple[str, ...], tuple[_RatesProblem, ...]]:
    settlement = region.settlement_currency
    try:
        snapshot = rate_snapshot_current(today=today, source=source)
    except MoneyError as exc:
        if exc.code != "no_fx_rates":
            raise
        return (settlement,), (_no_rates_problem(source),)
    if snapshot.is_stale(today):
        return (settlement,), (
            (
                (snapshot.source, "stale_rates", snapshot.rate_date),
                "The newest exchange rates (%s, %s) are %d days old, more than the %d allowed "
                "(FX_STALE_AFTER_DAYS); prices are shown in %s only until `manage.py fx_rates_update` "
                "loads fresh ones.",
                (
                    snapshot.source,
                    snapshot.rate_date,
                    snapshot.age_days(today),
                    settings.FX_STALE_AFTER_DAYS,
                    settlement,
                ),
            ),
        )
    missing = [code for code in region.currencies if code not in snapshot.currencies]
    problems: tuple[_RatesProblem, ...] = ()
    if missing:
        problems = (
            (
                (snapshot.source, f"no_rate:{','.join(missing)}", snapshot.rate_date),
                "No exchange rate for %s in the %s rates of %s; rates exist for %s. Add it to the rates "
                "source or FX_PEGS_FILE, or stop offering the currency in the region file.",
                (", ".join(missing), snapshot.source, snapshot.rate_date, ", ".join(sorted(snapshot.currencies))),
            ),
        )
    if settlement in missing:  # nothing converts from it
        return (settlement,), problems
    return tuple(code for code in region.currencies if code not in missing), problems
