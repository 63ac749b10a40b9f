"""``{% money amount currency %}`` shows an amount as is (``rounded=True``: in the currency's everyday
digits); ``{% money_local amount currency %}`` shows it converted into the shopper's currency with today's
FX snapshot; ``{% local_datetime moment %}`` shows a moment in the shopper's time zone and words, its date
as delivery dates are written; ``{% percent rate %}`` and ``{% number count %}`` show a rate and a count in
the shopper's locale and digits."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal, InvalidOperation

from django import template
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from apps.money.formatting import (
    format_count,
    format_day,
    format_moment,
    format_money,
    format_rate,
    numbering_system,
)
from apps.money.selectors import FxSnapshot, convert, rate_snapshot_current
from apps.money.types import Money, MoneyError, price_step, round_minor
from regions.languages import babel_locale

register = template.Library()
logger = logging.getLogger(__name__)

_SNAPSHOT_ATTR = "_money_fx_snapshot"


@register.simple_tag(takes_context=True)
def money(
    context: template.Context, amount_minor: int, currency: str, *, rounded: bool = False, negative: bool = False
) -> str:
    """``rounded``: to the smallest amount the currency is priced in (whole rupiah), half-up, for an
    amount told inside a total rather than charged by itself (the tax a price includes), so it reads
    like every other amount on the page (Rp29.912, not Rp29.911,97).

    ``negative``: an amount taken off (a discount), written with the locale's negative pattern, whose
    minus sits inside the pattern's bidi marks; a minus sign put in front in the template lands on the
    wrong side of the amount in a right-to-left line (9.80 and then the sign)."""
    shopper = context["request"].shopper
    if rounded:
        amount_minor = round_minor(amount_minor, step=price_step(currency))
    if negative:
        amount_minor = -abs(amount_minor)
    return format_money(amount_minor, currency, shopper.locale)


@register.simple_tag(takes_context=True)
def local_datetime(context: template.Context, moment: dt.datetime | None) -> str:
    """``24.11.2026, 03:26`` / ``24/11/2026، 6:24 ص``: a moment in the zone the request activated
    (the shopper's), in their locale, the date as :func:`format_day` writes delivery dates."""
    if not isinstance(moment, dt.datetime):
        return ""
    return format_moment(moment, context["request"].shopper.locale, timezone.get_current_timezone())


def _current_snapshot(request: HttpRequest) -> FxSnapshot | None:
    """One snapshot per request: every price on a page converts with the same rates."""
    if not hasattr(request, _SNAPSHOT_ATTR):
        try:
            snapshot = rate_snapshot_current()
        except MoneyError as exc:
            logger.warning("Prices shown unconverted: %s", exc.message)
            snapshot = None
        setattr(request, _SNAPSHOT_ATTR, snapshot)
    return getattr(request, _SNAPSHOT_ATTR)


@register.simple_tag(takes_context=True)
def money_local(context: template.Context, amount_minor: int | None, currency: str) -> str | SafeString:
    """The amount in ``request.shopper.currency`` and locale, as display and checkout compute it.

    When no rate exists for the pair the amount is shown in its own currency (a price
    is never hidden or invented). A stale rate is shown with a visible note naming the
    rate's date; ``data-fx-snapshot`` says which snapshot the page used.
    """
    if amount_minor is None:
        return ""
    request = context["request"]
    shopper = request.shopper
    original = Money(amount_minor, currency)
    if original.currency == shopper.currency:
        return format_money(original.amount_minor, original.currency, shopper.locale)
    snapshot = _current_snapshot(request)
    if snapshot is None:
        return format_money(original.amount_minor, original.currency, shopper.locale)
    try:
        conversion = convert(original, shopper.currency, snapshot)
    except MoneyError:
        return format_money(original.amount_minor, original.currency, shopper.locale)
    text = format_money(conversion.money.amount_minor, conversion.money.currency, shopper.locale)
    if not conversion.stale:
        return text
    day = format_day(conversion.rate_date, shopper.locale)
    return format_html(
        '{} <small class="fx-stale" data-testid="fx-stale" data-fx-snapshot="{}" title="{}">{}</small>',
        text,
        conversion.snapshot_id,
        gettext("Converted with the exchange rate of %(date)s, which may be out of date.") % {"date": day},
        gettext("(rate of %(date)s)") % {"date": day},
    )


@register.simple_tag(takes_context=True)
def percent(context: template.Context, rate: Decimal | str | int | None) -> str:
    """``{% percent order.tax_rate as rate %}``: a rate stored in percent (``"8.875"``) as the shopper
    writes a percentage (``8,875 %``), every digit kept. Nothing for a rate that is not one."""
    try:
        return format_rate(Decimal(str(rate)), context["request"].shopper.locale)
    except (InvalidOperation, ValueError):
        return ""


@register.simple_tag(takes_context=True)
def number(context: template.Context, count: int) -> str:
    """``{% number line.quantity %}``: a count in the digits and separators of the shopper's prices."""
    return format_count(count, context["request"].shopper.locale)


@register.simple_tag(takes_context=True)
def digits(context: template.Context) -> str:
    """``{% digits %}``: the CLDR numbering system of the shopper's prices (``arab`` in ar_SA, ``latn``
    in ar_AE), for a page script's ``Intl.NumberFormat`` to count in the same digits."""
    return numbering_system(babel_locale(context["request"].shopper.locale))
