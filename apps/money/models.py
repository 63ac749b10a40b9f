"""Daily FX rates, grouped into snapshots that orders and pinned products can point at.

A :class:`RateSnapshot` is the set of rates one source published for one day (the ECB's
reference rates of 20 Nov 2026, say), extended with the fixed pegs stored for that day.
Once written its rates never change: a price shown with snapshot 42 and the order that
records snapshot 42 convert with the same numbers, whatever arrives later. Rates are
stored as published (``1 EUR = 1.1589 USD``, ``1 USD = 3.6725 AED``) and crossed at
read time, never pre-multiplied, so each row stays checkable against its source.

``Money`` itself is a value, not a model: see :mod:`apps.money.types`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from apps.money.types import Money

__all__ = ["FxRate", "Money", "RateSnapshot"]

CURRENCY_VALIDATOR = RegexValidator(r"^[A-Z]{3}$", "An ISO 4217 code such as USD.")
# ECB rates carry at most six significant digits; pegs four decimals; ten places keep
# every published figure exact, including 0.3845 OMR per USD and 17000-odd IDR per EUR.
RATE_MAX_DIGITS = 24
RATE_DECIMAL_PLACES = 10


class RateSnapshot(models.Model):
    source = models.CharField(max_length=32, help_text="Publisher of the day's market rates, e.g. 'ecb'.")
    rate_date = models.DateField(help_text="The day the source's rates are for (not the day we fetched them).")
    pivot = models.CharField(
        max_length=3, validators=[CURRENCY_VALIDATOR], help_text="The source's base currency (EUR for the ECB)."
    )
    fetched_at = models.DateTimeField(help_text="When this snapshot was first stored.")

    class Meta:
        ordering = ["-rate_date", "source"]
        constraints = [
            models.UniqueConstraint(fields=["rate_date", "source"], name="money_snapshot_unique_per_day_source"),
        ]
        indexes = [models.Index(fields=["source", "-rate_date"], name="money_snapshot_latest")]

    def __str__(self) -> str:
        return f"{self.source} {self.rate_date.isoformat()}"

    def age_days(self, today: dt.date) -> int:
        return (today - self.rate_date).days


class FxRate(models.Model):
    """``1 base = rate quote`` as published by ``source`` for the snapshot's day."""

    snapshot = models.ForeignKey(RateSnapshot, on_delete=models.PROTECT, related_name="rates")
    source = models.CharField(
        max_length=32, help_text="Who published this figure: the snapshot's source, or 'peg' for a fixed peg."
    )
    base = models.CharField(max_length=3, validators=[CURRENCY_VALIDATOR])
    quote = models.CharField(max_length=3, validators=[CURRENCY_VALIDATOR])
    rate = models.DecimalField(
        max_digits=RATE_MAX_DIGITS,
        decimal_places=RATE_DECIMAL_PLACES,
        validators=[MinValueValidator(Decimal("0.0000000001"))],
        help_text="Units of the quote currency for one unit of the base currency.",
    )
    fetched_at = models.DateTimeField()

    class Meta:
        ordering = ["snapshot", "base", "quote"]
        constraints = [
            # The snapshot is one (day, source), so this is "one rate per day, source and pair".
            models.UniqueConstraint(fields=["snapshot", "base", "quote"], name="money_rate_unique_per_snapshot_pair"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="money_rate_positive"),
            models.CheckConstraint(condition=~Q(base=models.F("quote")), name="money_rate_distinct_pair"),
        ]

    def __str__(self) -> str:
        return f"1 {self.base} = {self.rate.normalize():f} {self.quote} ({self.source})"
