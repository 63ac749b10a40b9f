"""Writing FX rates."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from apps.money.models import FxRate, RateSnapshot
from apps.money.providers import Rate, RateProvider, provider_from_settings
from apps.money.selectors import RATES_GENERATION, is_stale_date, utc_today

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FxUpdateResult:
    source: str
    snapshots_created: int
    rates_created: int
    rates_unchanged: int
    rates_conflicting: int
    rates_future_dated: int
    latest_rate_date: dt.date | None
    stale: bool


def fx_rates_update(*, provider: RateProvider | None = None, today: dt.date | None = None) -> FxUpdateResult:
    """Fetch rates from ``provider`` (default: ``FX_PROVIDERS``) and store what is new.

    Idempotent: a second run with the same data stores nothing. A stored snapshot is
    never rewritten - orders point at it - so a figure that differs from the stored
    one (a late correction by the source) is logged and left out, and rates for a
    currency the snapshot lacked (a peg added to the data) are added. Rates dated after
    ``today`` are refused: they can only come from a wrong clock or a wrong file.
    Concurrent runs serialise on the snapshot rows, so each rate is written once.
    """
    provider = provider or provider_from_settings()
    today = today or utc_today()
    fetched = provider.fetch()
    fetched_at = timezone.now()
    source = provider.source

    by_day: dict[dt.date, list[Rate]] = defaultdict(list)
    future = 0
    for rate in fetched:
        if rate.rate_date > today:
            future += 1
            continue
        by_day[rate.rate_date].append(rate)
    if future:
        logger.warning("Ignored %d %s rates dated after %s", future, source, today)

    created = unchanged = conflicting = snapshots_created = 0
    with transaction.atomic():
        if by_day:
            before = RateSnapshot.objects.filter(source=source, rate_date__in=by_day).count()
            RateSnapshot.objects.bulk_create(
                [
                    RateSnapshot(source=source, rate_date=day, pivot=_pivot(rates, source), fetched_at=fetched_at)
                    for day, rates in by_day.items()
                ],
                ignore_conflicts=True,
            )
            snapshots = {
                s.rate_date: s
                for s in RateSnapshot.objects.select_for_update()
                .filter(source=source, rate_date__in=by_day)
                .order_by("pk")
            }
            snapshots_created = len(snapshots) - before
            stored = {
                (snapshot_id, base, quote): value
                for snapshot_id, base, quote, value in FxRate.objects.filter(
                    snapshot__in=snapshots.values()
                ).values_list("snapshot_id", "base", "quote", "rate")
            }
            new: dict[tuple[int, str, str], FxRate] = {}
            for day, rates in sorted(by_day.items()):
                snapshot = snapshots[day]
                for rate in rates:
                    key = (snapshot.pk, rate.base, rate.quote)
                    known = stored.get(key, new[key].rate if key in new else None)
                    if known is None:
                        new[key] = FxRate(
                            snapshot=snapshot,
                            source=rate.source,
                            base=rate.base,
                            quote=rate.quote,
                            rate=rate.rate,
                            fetched_at=fetched_at,
                        )
                    elif known == rate.rate:
                        unchanged += 1
                    else:
                        conflicting += 1
                        logger.warning(
                            "%s %s/%s on %s: got %s, kept the stored %s (snapshots are never rewritten)",
                            rate.source,
                            rate.base,
                            rate.quote,
                            day,
                            rate.rate,
                            known,
                        )
            FxRate.objects.bulk_create(new.values(), batch_size=1000, ignore_conflicts=True)
            created = len(new)
            if created:
                transaction.on_commit(RATES_GENERATION.bump)

    latest = RateSnapshot.objects.filter(source=source, rate_date__lte=today).order_by("-rate_date").first()
    stale = latest is None or is_stale_date(latest.rate_date, today)
    if stale:
        logger.warning(
            "The newest %s rates are from %s; prices converted with them are flagged stale",
            source,
            latest.rate_date if latest else "never",
        )
    return FxUpdateResult(
        source=source,
        snapshots_created=snapshots_created,
        rates_created=created,
        rates_unchanged=unchanged,
        rates_conflicting=conflicting,
        rates_future_dated=future,
        latest_rate_date=latest.rate_date if latest else None,
        stale=stale,
    )


def _pivot(rates: list[Rate], source: str) -> str:
    """The base currency the source publishes against (EUR for the ECB)."""
    bases = Counter(rate.base for rate in rates if rate.source == source) or Counter(rate.base for rate in rates)
    return bases.most_common(1)[0][0]
