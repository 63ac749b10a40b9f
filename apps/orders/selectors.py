"""Reads about carts and orders: the cart re-validated against today's rules, stock and prices."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import zoneinfo
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from babel.dates import format_time, get_datetime_format
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Subquery, Sum, prefetch_related_objects
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from apps.accounts.selectors import country_choices, merchants_for_user
from apps.catalog.models import DEFAULT_HANDLING_DAYS, Product, Stock, Variant, Warehouse
from apps.catalog.selectors import country_refusal, products_visible_in
from apps.errors import ApplicationError
from apps.money.formatting import NATIVE_ZERO, format_day, format_money, numbering_system
from apps.money.selectors import convert, rate_snapshot_current
from apps.money.types import Money
from apps.orders import rules
from apps.orders.address_lines import address_lines, isolated, phone_line
from apps.orders.models import (
    IDEMPOTENCY_KEY_RE,
    Cart,
    CartLine,
    Coupon,
    Order,
    OrderEvent,
    OrderLine,
    RefundEmail,
    Reservation,
    Shipment,
)
from apps.payments import selectors as payment_selectors
from apps.payments.providers.cash_on_delivery import CashOnDeliveryProvider
from regions import Region
from regions.languages import babel_locale

if TYPE_CHECKING:
    from apps.payments.models import Payment

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shopper:
    """Where the goods go and how the shopper pays: enough to price a cart."""

    country: str
    currency: str
    language: str = "en"
    time_zone: str = "UTC"
    state: str = ""


def may_take_order_steps(user) -> bool:
    """Who packs, ships, delivers, cancels and refunds orders (admin page and API alike).

    Steps are not edits of the order row (the services record who and when), but they are
    an operator's to take: the model's change permission says who that is.
    """
    return bool(user and user.is_authenticated and user.has_perm("orders.change_order"))


def order_scope(user) -> frozenset[int] | None:
    """Whose part of orders a staff user works on: ``None`` for operators (whole orders),
    else the merchants they are staff of (empty: no order at all).

    Merchant staff need the order view permission (their group has it) and a membership;
    they see the orders holding their products, and in them only their own lines and
    parcels: an order is shared by every merchant whose products are in it.
    """
    if may_take_order_steps(user):
        return None
    if not (user and user.is_authenticated and user.is_staff and user.has_perm("orders.view_order")):
        return frozenset()
    return frozenset(merchants_for_user(user).values_list("pk", flat=True))


def orders_for_staff(*, scope: Collection[int] | None) -> QuerySet[Order]:
    """Every order for operators; for merchant staff, those holding at least one of their products."""
    if scope is None:
        return Order.objects.all()
    return Order.objects.filter(
        Exists(OrderLine.objects.filter(order=OuterRef("pk"), variant__merchant_id__in=list(scope)))
    )


def order_lines_for_staff(*, scope: Collection[int] | None) -> QuerySet[OrderLine]:
    if scope is None:
        return OrderLine.objects.all()
    return OrderLine.objects.filter(variant__merchant_id__in=list(scope))


def shipments_for_staff(*, scope: Collection[int] | None) -> QuerySet[Shipment]:
    """The parcels a staff user ships: for merchant staff, those leaving their merchants' warehouses."""
    if scope is None:
        return Shipment.objects.all()
    # A shipment keeps the warehouse id, not a foreign key: orders outlive warehouses.
    return Shipment.objects.filter(warehouse_id__in=Warehouse.objects.filter(merchant_id__in=list(scope)).values("pk"))


def quantities_by_variant(lines: Iterable[tuple[int, int]]) -> dict[int, int]:
    """``{variant: quantity}`` of ``(variant, quantity)`` pairs, a variant on several lines summed.

    The one shape in which a cart, the lines a page showed and the gate's admissions compare.
    """
    quantities: dict[int, int] = {}
    for variant, quantity in lines:
        quantities[variant] = quantities.get(variant, 0) + quantity
    return quantities


def cart_quantities(lines: Iterable[Any]) -> dict[int, int]:
    """A cart's lines (``CartLine`` or a review's ``ReviewedLine``) as ``{variant: quantity}``:
    what the checkout compares with the lines a page showed, and what a checkout pass names."""
    return quantities_by_variant((line.variant_id, line.quantity) for line in lines)


def _free_units(variant: str) -> Combinable:
    """Units free to sell of the variant that ``variant`` (an outer field) names, as SQL:
    stock in active warehouses minus held reservations."""
    on_hand = (
        Stock.objects.filter(variant_id=OuterRef(variant), warehouse__is_active=True)
        .values("variant_id")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    held = (
        Reservation.objects.filter(stock__variant_id=OuterRef(variant), status=Reservation.Status.HELD)
        .values("stock__variant_id")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    return Coalesce(Subquery(on_hand), 0) - Coalesce(Subquery(held), 0)


def available_units(variant_ids: Collection[int]) -> dict[int, int]:
    """Units free to sell per variant (one query): stock in active warehouses minus held reservations."""
    free = dict(Variant.objects.filter(pk__in=variant_ids).annotate(free=_free_units("pk")).values_list("pk", "free"))
    return {v: max(free.get(v) or 0, 0) for v in variant_ids}


def cart_lines_for_review(*, cart: Cart | None, country: str) -> list[CartLine]:
    """The cart's lines with what reviewing them needs, in one query: variant, product,
    ``visible`` (the product may be sold in ``country`` today, by the same rules as listings) and
    ``handling_days`` (see :func:`_slowest_handling_days`). No cart (``None``) has no lines."""
    if cart is None:
        return []
    visible = products_visible_in(country=country).filter(pk=OuterRef("variant__product_id"))
    return list(
        cart.lines.select_related("variant__product")
        .annotate(visible=Exists(visible), handling_days=_slowest_handling_days("variant_id"))
        .order_by("added_at", "pk")
    )


def _slowest_handling_days(variant: str) -> Subquery:
    """The handling days of the slowest active warehouse holding units of the variant that
    ``variant`` (an outer field) names, as SQL; NULL where none holds any.

    Which warehouses pack is settled only when the order reserves its units, so a quote
    promises what the slowest one that could supply the line would need.
    """
    return Subquery(
        Stock.objects.filter(variant_id=OuterRef(variant), quantity__gt=0, warehouse__is_active=True)
        .order_by()
        .values("variant_id")
        .annotate(slowest=Max("warehouse__handling_days"))
        .values("slowest")
    )


def handling_days_promised(lines: Iterable[CartLine], *, variant_ids: Collection[int]) -> int:
    """The working days to pack that a quote of ``lines`` (read by :func:`cart_lines_for_review`)
    promises for the lines of ``variant_ids``: the slowest of their warehouses'. Without stock to
    go by, a warehouse's default."""
    slowest = []
    for line in lines:
        days = line.handling_days  # type: ignore[attr-defined]  # annotated by cart_lines_for_review
        if line.variant_id in variant_ids and days is not None:
            slowest.append(days)
    return max(slowest, default=DEFAULT_HANDLING_DAYS)


@dataclass
class ReviewedLine:
    line_id: int
    variant_id: int
    product_id: int
    product_name: str
    sku: str
    quantity: int
    unit_price_minor: int
    total_minor: int
    available: bool
    reason: str = ""
    # Unavailable only for want of stock (the product itself may still be bought).
    short_of_stock: bool = False
    # Set when a promised price (a live show's pinned price) is what this line costs.
    price_lock: str = ""
    price_lock_fx_snapshot_id: int | None = None
    # The variant's options ({"size": "500 g"}), so that a line says which one it is.
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class Quote:
    currency: str
    lines: list[ReviewedLine]
    subtotal_minor: int = 0
    discount_minor: int = 0
    shipping_minor: int = 0
    tax_minor: int = 0
    total_minor: int = 0
    tax_rate: Decimal = Decimal(0)
    tax_model: str = ""
    prices_include_tax: bool = True
    # The named taxes the rate is made of where the destination names them (Quebec's GST and QST),
    # as Order.tax_parts keeps them: {"name", "rate", "minor"}.
    tax_parts: list[dict[str, str | int]] = field(default_factory=list)
    # No state chosen yet where the state decides the rate (US, Canada): the tax is not known yet.
    tax_awaits_state: bool = False
    fx_snapshot_id: int | None = None
    fx_rate: str = ""
    eta: dt.date | None = None
    shipping_option: str = ""
    coupon: Coupon | None = None
    problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def unavailable(self) -> list[ReviewedLine]:
        return [line for line in self.lines if not line.available]


class _Prices:
    """Converts settlement-currency prices into the shopper's currency with one snapshot."""

    def __init__(self, region: Region, currency: str, *, strict: bool) -> None:
        self.source = region.settlement_currency
        self.target = currency
        self.snapshot = None
        if self.target != self.source:
            self.snapshot = rate_snapshot_current()
        self.strict = strict
        self.rate = ""

    def __call__(self, amount_minor: int) -> int:
        if self.snapshot is None:
            return amount_minor
        conversion = convert(Money(amount_minor, self.source), self.target, self.snapshot, allow_stale=not self.strict)
        self.rate = str(conversion.rate)
        return conversion.money.amount_minor


def _honoured_lock(line: CartLine, *, currency: str, now: dt.datetime) -> int | None:
    """The line's promised unit price in ``currency`` while the promise holds, else ``None``."""
    if not line.locked_until or line.locked_until < now:
        return None
    amount = (line.locked_prices or {}).get(currency)
    return amount if type(amount) is int else None


def _forbidden_in_country(product: Product, *, shopper: Shopper, region: Region) -> str:
    """Why the shopper's country forbids ``product``, in the product page's words (see
    :func:`~apps.catalog.selectors.country_refusal`)."""
    refusal = country_refusal(product, shopper.country, language=shopper.language, region=region)
    if refusal is None:  # the rules changed between the cart's query and this one
        return _("Not available in your country.")
    return str(refusal)


def cart_review(
    *,
    cart: Cart | None,
    shopper: Shopper,
    region: Region | None = None,
    strict: bool = False,
    lines: list[CartLine] | None = None,
    admitted: Collection[int] = (),
) -> Quote:
    """Every line priced now, with availability and the reason when it cannot be bought.

    ``lines`` are the cart's from :func:`cart_lines_for_review` when the caller has read
    them already; a shopper with no open cart (``None``) is shown an empty one. ``admitted``
    variants have their units held for this checkout by the flash-sale gate, so their stock
    is not counted again here (the order's transaction still checks it under lock).
    """
    region = region or settings.REGION
    prices = _Prices(region, shopper.currency, strict=strict)
    if lines is None:
        lines = cart_lines_for_review(cart=cart, country=shopper.country)
    counted = {line.variant_id for line in lines} - set(admitted)
    free = available_units(counted) if counted else {}
    # What the rules read of a forbidden product, for all of them at once (usually none).
    forbidden = [line.variant.product for line in lines if not line.visible]  # type: ignore[attr-defined]
    if forbidden:
        prefetch_related_objects(forbidden, "ingredients", "certifications")
    now = timezone.now()
    reviewed: list[ReviewedLine] = []
    settlement_units: list[int] = []
    for line in lines:
        variant: Variant = line.variant
        product = variant.product
        reason = ""
        short = False
        if not (variant.is_active and product.is_active):
            reason = _("No longer on sale.")
        elif not line.visible:  # type: ignore[attr-defined]  # annotated by cart_lines_for_review
            reason = _forbidden_in_country(product, shopper=shopper, region=region)
        elif variant.pk in counted and free.get(variant.pk, 0) <= 0:
            reason, short = _("Sold out."), True
        elif variant.pk in counted and free[variant.pk] < line.quantity:
            reason, short = _("Only %(count)d left.") % {"count": free[variant.pk]}, True
        unit = prices(variant.price_minor)
        settlement_unit = variant.price_minor
        lock = _honoured_lock(line, currency=shopper.currency, now=now)
        if lock is not None and lock < unit:
            unit = lock
            settlement_unit = min(settlement_unit, line.locked_prices.get(region.settlement_currency, settlement_unit))
        settlement_units.append(settlement_unit)
        reviewed.append(
            ReviewedLine(
                line_id=line.pk,
                variant_id=variant.pk,
                product_id=product.pk,
                product_name=product.name or variant.sku,
                sku=variant.sku,
                quantity=line.quantity,
                unit_price_minor=unit,
                total_minor=unit * line.quantity,
                available=not reason,
                reason=reason,
                short_of_stock=short,
                price_lock=line.lock_source if unit == lock else "",
                price_lock_fx_snapshot_id=line.lock_fx_snapshot_id if unit == lock else None,
                attributes=dict(variant.attributes or {}),
            )
        )
    _cart_keep_to_the_limit(reviewed)
    quote = Quote(currency=shopper.currency, lines=reviewed)
    quote.subtotal_minor = sum(line.total_minor for line in reviewed if line.available)
    quote.fx_snapshot_id = prices.snapshot.id if prices.snapshot else None
    quote.fx_rate = prices.rate
    quote._prices = prices  # type: ignore[attr-defined]  # reused by checkout_quote
    quote._settlement_subtotal = sum(  # type: ignore[attr-defined]
        unit * r.quantity for unit, r in zip(settlement_units, reviewed, strict=True) if r.available
    )
    return quote


def _cart_keep_to_the_limit(reviewed: list[ReviewedLine]) -> None:
    """Mark the lines that do not fit in one order (``ORDERS_MAX_UNITS_PER_ORDER``) with the reason.

    Adding to a cart is refused past the limit, but a cart merged at sign-in or a lowered
    setting can hold more; checkout refuses it (``order_limit``), and the cart says which
    lines to lower before that. The shopper's latest choices are kept: units are counted
    from the line added last, and lines that cannot be bought anyway (their own reason
    shown) count after every line that can. The first line that does not fit is told how
    far to lower it, the older ones to go, so that following every reason makes one order.
    """
    limit = settings.ORDERS_MAX_UNITS_PER_ORDER
    if sum(line.quantity for line in reviewed) <= limit:
        return
    room = limit
    newest_first = sorted(range(len(reviewed)), key=lambda i: (not reviewed[i].available, -i))
    for line in (reviewed[i] for i in newest_first):
        if line.quantity <= room:
            room -= line.quantity
            continue
        if line.available:
            line.available = False
            if room:
                line.reason = _("One order holds at most %(limit)d items: lower this to %(count)d.") % {
                    "limit": limit,
                    "count": room,
                }
            else:
                line.reason = _("One order holds at most %(limit)d items: remove this or lower other items.") % {
                    "limit": limit
                }
        room = 0


# The header shows the cart's count on every page, the cached listings included, whose
# requests otherwise make no query: the count is kept in the cache, and the services that
# change a cart forget it when they commit (``cart_units_cache_keys``). The expiry bounds
# what a missed change could show.
CART_UNITS_CACHE_SECONDS = 10 * 60


def cart_units_cache_keys(*, cart_id: int | None, user_id: int | None) -> list[str]:
    """The cache keys under which a cart's count may be kept: by its id, and by its owner's."""
    keys = [f"orders:cart_units:cart:{cart_id}"] if cart_id else []
    return keys + ([f"orders:cart_units:user:{user_id}"] if user_id else [])


def cart_units(*, user=None, cart_id: int | None = None) -> int:
    """Units in the shopper's open cart (the signed-in user's, else the session's), from the
    cache or one query; none when there is no cart to look at. Never creates a cart."""
    if user is not None and user.is_authenticated:
        [key] = cart_units_cache_keys(cart_id=None, user_id=user.pk)
        lines = CartLine.objects.filter(cart__user=user, cart__status=Cart.Status.OPEN)
    elif isinstance(cart_id, int) and not isinstance(cart_id, bool):
        [key] = cart_units_cache_keys(cart_id=cart_id, user_id=None)
        lines = CartLine.objects.filter(cart_id=cart_id, cart__user__isnull=True, cart__status=Cart.Status.OPEN)
    else:
        return 0
    units = cache.get(key)
    if units is None:
        units = lines.aggregate(units=Sum("quantity"))["units"] or 0
        cache.set(key, units, CART_UNITS_CACHE_SECONDS)
    return units


def coupon_discount(*, coupon: Coupon, shopper: Shopper, subtotal_minor: int, now: dt.datetime) -> int:
    """The discount ``coupon`` gives on ``subtotal_minor``; raises a clear error when it does not apply.

    The admin form keeps coupons well-formed, but rows written before it did (or by hand)
    are read as they are: a wrong value is logged for operators and the coupon refused,
    never guessed at (a negative amount off would be a surcharge).
    """
    if not coupon.is_active or now > coupon.valid_until:
        raise coupon_expired_error(coupon.code)
    if now < coupon.valid_from:
        raise coupon_not_started_error(coupon, shopper)
    if coupon.remaining == 0:
        # Only a hint for the page: checkout takes the use with a conditional update.
        raise coupon_sold_out_error(coupon.code)
    not_in_country = ApplicationError(
        _("This coupon cannot be used in your country."),
        code="coupon_not_valid_here",
        fields={"coupon": [coupon.code]},
    )
    not_in_currency = ApplicationError(
        _("This coupon cannot be used in your currency."),
        code="coupon_not_valid_here",
        fields={"coupon": [coupon.code]},
    )
    countries = coupon.countries or []
    if not (isinstance(countries, list) and all(isinstance(c, str) for c in countries)):
        _coupon_stored_wrong(coupon, "countries")
        raise not_in_country
    if countries and shopper.country.upper() not in {c.strip().upper() for c in countries}:
        raise not_in_country
    min_spend = coupon.min_spend or {}
    if not isinstance(min_spend, dict):
        _coupon_stored_wrong(coupon, "min_spend")
        raise not_in_currency
    if min_spend:
        # A minimum set in other currencies only: the threshold in this one is unknown.
        # Converting at today's rate would move it every day, so the coupon is refused
        # and the merchant lists the currencies it is meant for.
        minimum = min_spend.get(shopper.currency)
        if minimum is None:
            raise not_in_currency
        if not Coupon.is_minor_amount(minimum):
            _coupon_stored_wrong(coupon, "min_spend")
            raise not_in_currency
        if subtotal_minor < minimum:
            raise ApplicationError(
                _("Spend at least %(amount)s to use this coupon.")
                % {
                    "amount": format_money(
                        minimum, shopper.currency, shopper_locale(language=shopper.language, country=shopper.country)
                    )
                },
                code="coupon_min_spend",
                fields={"coupon": [coupon.code]},
            )
    amounts_off = coupon.amounts_off or {}
    if not isinstance(amounts_off, dict) or bool(coupon.percent_off) == bool(amounts_off):
        # Both kinds (which did the merchant mean?) or neither: nothing to give.
        _coupon_stored_wrong(coupon, "amounts_off")
        raise not_in_currency
    if coupon.percent_off:
        return min(subtotal_minor, subtotal_minor * coupon.percent_off // 100)
    amount = amounts_off.get(shopper.currency)
    if amount is None:
        raise not_in_currency
    if not Coupon.is_minor_amount(amount):
        _coupon_stored_wrong(coupon, "amounts_off")
        raise not_in_currency
    return min(subtotal_minor, amount)


def _coupon_stored_wrong(coupon: Coupon, field_name: str) -> None:
    """Tell operators which coupon to fix: shoppers only learn it cannot be used."""
    logger.error(
        "Coupon %s (id %s) has an unusable %s (%r): refused until it is corrected in the admin",
        coupon.code,
        coupon.pk,
        field_name,
        getattr(coupon, field_name),
    )


def shopper_locale(*, language: str, country: str) -> str:
    """Babel locale such as ``es_MX``: a shopper's language in their country, as pages format it
    (for a shopper at checkout, or an order's e-mails)."""
    language = language.replace("-", "_")
    return ("zh_Hans" if language.lower() == "zh_hans" else language) + f"_{country}"


def _shopper_zone(time_zone: str) -> zoneinfo.ZoneInfo:
    """The shopper's zone; the region's if theirs is not one."""
    try:
        return zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.REGION.time_zone)


def coupon_expired_error(code: str) -> ApplicationError:
    return ApplicationError(_("This coupon has expired."), code="coupon_expired", fields={"coupon": [code]})


def coupon_not_started_error(coupon: Coupon, shopper: Shopper) -> ApplicationError:
    """The answer to a shopper who came before a coupon starts, with when it does in their words and zone."""
    locale = shopper_locale(language=shopper.language, country=shopper.country)
    starts = coupon.valid_from.astimezone(_shopper_zone(shopper.time_zone))
    when = format_day(starts.date(), locale)
    if starts.time() != dt.time(0, 0):
        # A start later in the day: the date alone would be refused again that morning.
        loc = babel_locale(locale)
        zero = NATIVE_ZERO[numbering_system(loc)]
        time = format_time(starts, format="short", locale=loc)
        time = time.translate({ord("0") + i: chr(ord(zero) + i) for i in range(10)})
        when = get_datetime_format("medium", locale=loc).format(time, when)
    return ApplicationError(
        _("This coupon can be used from %(date)s.") % {"date": when},
        code="coupon_not_started",
        fields={"coupon": [coupon.code]},
    )


def coupon_sold_out_error(code: str) -> ApplicationError:
    """The answer to a shopper who came after a limited coupon's last use was taken."""
    return ApplicationError(
        _("This coupon is all used up."), code="coupon_sold_out", fields={"coupon": [code]}, status=409
    )


def coupon_by_code(code: str) -> Coupon:
    # A code with a NUL byte is no coupon's (and PostgreSQL refuses it in a query: a 500).
    coupon = None if "\x00" in (code or "") else Coupon.objects.filter(code__iexact=(code or "").strip()).first()
    if coupon is None:
        raise ApplicationError(_("There is no such coupon."), code="coupon_unknown", fields={"coupon": [code]})
    return coupon


def local_today(time_zone: str, *, now: dt.datetime | None = None) -> dt.date:
    """The date it is (``now``, by default the clock's) in ``time_zone``, else in the region's."""
    return (now or timezone.now()).astimezone(_shopper_zone(time_zone)).date()


def parcel_eta(*, order: Order, handling_days: int) -> dt.date | None:
    """When a parcel of ``order`` packed in ``handling_days`` arrives: counted as the order's ETA
    was, from the date it was placed on in the shopper's time zone, on the destination's calendar.
    None when its shipping option is no longer offered (no carrier days to count)."""
    option = rules.shipping_option(order.shipping_option)
    if option is None:
        return None
    address = order.address if isinstance(order.address, dict) else {}
    return rules.delivery_eta(
        region=settings.REGION,
        option=option,
        ordered_on=local_today(order.time_zone, now=order.created_at),
        country=order.country,
        subdivision=rules.address_state(settings.REGION, order.country, address.get("state", "")),
        handling_days=handling_days,
    )


def checkout_quote(
    *,
    cart: Cart,
    shopper: Shopper,
    shipping_option: str = "standard",
    coupon_code: str = "",
    region: Region | None = None,
    strict: bool = False,
    now: dt.datetime | None = None,
    lines: list[CartLine] | None = None,
    admitted: Collection[int] = (),
) -> Quote:
    """The cart's totals as checkout charges them: products, coupon, shipping, tax, ETA
    (``lines`` and ``admitted`` as for :func:`cart_review`)."""
    region = region or settings.REGION
    now = now or timezone.now()
    if lines is None:
        lines = cart_lines_for_review(cart=cart, country=shopper.country)
    quote = cart_review(cart=cart, shopper=shopper, region=region, strict=strict, lines=lines, admitted=admitted)
    option = rules.shipping_option(shipping_option)
    if option is None:
        raise ApplicationError(
            _("Choose a shipping option."),
            code="invalid_shipping_option",
            fields={"shipping_option": [", ".join(o.code for o in rules.shipping_options())]},
        )
    quote.shipping_option = option.code
    if coupon_code:
        quote.coupon = coupon_by_code(coupon_code)
        quote.discount_minor = coupon_discount(
            coupon=quote.coupon, shopper=shopper, subtotal_minor=quote.subtotal_minor, now=now
        )
    prices = quote._prices  # type: ignore[attr-defined]
    settlement_subtotal = quote._settlement_subtotal  # type: ignore[attr-defined]
    quote.shipping_minor = prices(
        rules.shipping_price(option, region=region, products_minor_settlement=settlement_subtotal)
    )
    if not quote.subtotal_minor:
        quote.shipping_minor = 0
    taxable = quote.subtotal_minor - quote.discount_minor + quote.shipping_minor
    # A state named in full or by name ("US-NY", "New York") is taxed and dated as its code ("NY").
    state = rules.address_state(region, shopper.country, shopper.state)
    tax = rules.tax_for(region=region, country=shopper.country, state=state, taxable_minor=taxable)
    quote.tax_minor = tax.amount_minor
    quote.tax_rate = tax.rate
    quote.tax_model = tax.model
    quote.prices_include_tax = tax.included
    quote.tax_parts = [part.as_stored() for part in tax.parts]
    # Nothing is charged without a state and some state taxes. (Canada charges its 5 % GST before
    # a province is chosen: that rate and amount are real and stay shown.)
    quote.tax_awaits_state = not state and not quote.tax_minor and rules.tax_varies_by_state(shopper.country)
    quote.total_minor = taxable if tax.included else taxable + tax.amount_minor
    quote.fx_rate = prices.rate
    # Reused by the order's placement, which knows the warehouses that pack (checkout_place).
    quote._eta_for = functools.partial(  # type: ignore[attr-defined]
        rules.delivery_eta,
        region=region,
        option=option,
        ordered_on=local_today(shopper.time_zone, now=now),
        country=shopper.country,
        subdivision=state,
    )
    ordered = {line.variant_id for line in quote.lines if line.available}
    quote.eta = quote._eta_for(  # type: ignore[attr-defined]
        handling_days=handling_days_promised(lines, variant_ids=ordered)
    )
    return quote


# --- orders -------------------------------------------------------------------------------


def orders_for_user(*, user) -> QuerySet[Order]:
    return Order.objects.filter(user=user).prefetch_related("lines", "shipments").order_by("-created_at", "-pk")


def orders_listed_for(*, user, session_orders: Collection[str]) -> QuerySet[Order]:
    """The orders on a shopper's "My orders" page, newest first: their account's when signed in,
    else those their session placed; with the shipments and history :func:`order_delivery_progress`
    reads, fetched for the whole list at once (not a query per order)."""
    if user is not None and user.is_authenticated:
        orders = Order.objects.filter(user=user)
    else:
        orders = Order.objects.filter(reference__in=list(session_orders))
    return orders.prefetch_related("shipments", "events").order_by("-created_at", "-pk")


def order_placed_with_key(*, idempotency_key: str, user, session_orders: list[str]) -> Order | None:
    """The order this shopper (their session's orders, or their account's) placed with a checkout key."""
    signed_in = user is not None and user.is_authenticated
    if not IDEMPOTENCY_KEY_RE.match(idempotency_key) or not (session_orders or signed_in):
        # A key the checkout refuses names no order (the checkout then says what is wrong with it;
        # one with a NUL byte would fail the query). A first checkout of an anonymous session has
        # no order to find either: no query to build.
        return None
    mine = Q(reference__in=session_orders)
    if signed_in:
        mine |= Q(user=user)
    return Order.objects.filter(mine, idempotency_key=idempotency_key).first()


def orders_with_flash_sale_admissions(admission_ids: Collection[str]) -> list[str]:
    """Of these flash-sale gate admissions, those whose order committed."""
    if not admission_ids:
        return []
    return list(
        Order.objects.filter(flash_sale_admission__in=admission_ids).values_list("flash_sale_admission", flat=True)
    )


def order_for_viewer(*, reference: str, user, session_orders: list[str] | None = None) -> Order | None:
    """The order if this person may see it: its owner, or the anonymous session that placed it."""
    order = Order.objects.filter(reference=reference).prefetch_related("lines__variant", "shipments", "events").first()
    if order is None:
        return None
    if user is not None and user.is_authenticated and order.user_id == user.pk:
        return order
    if order.user_id is None and reference in (session_orders or []):
        return order
    # Operators only: merchant staff see their part of an order in the admin, never the
    # shopper's whole order (other merchants' lines, payment).
    if may_take_order_steps(user):
        return order
    return None


# The statuses in which an order is still to arrive on its ETA (cancelled, refunded or delivered: not).
_STILL_EXPECTED = (
    Order.Status.CREATED,
    Order.Status.CONFIRMED,
    Order.Status.PAID,
    Order.Status.FULFILLED,
    Order.Status.SHIPPED,
)


@dataclass(frozen=True)
class DeliveryProgress:
    """How far an order's delivery has come, for its page.

    ``shipped_at`` / ``delivered_at``: when its history moved it to shipped / delivered (``None``
    if it never did); ``parcels``: its shipments that left, each with its tracking number;
    ``eta_expected``: whether its ETA is still to come (not once delivered, cancelled or refunded).
    """

    shipped_at: dt.datetime | None
    delivered_at: dt.datetime | None
    parcels: list[Shipment]
    eta_expected: bool


def order_delivery_progress(*, order: Order) -> DeliveryProgress:
    """``order``'s :class:`DeliveryProgress`, from its history and its shipments (both prefetched by
    :func:`order_for_viewer` and :func:`orders_listed_for`, so no query more)."""

    def reached(status: str) -> dt.datetime | None:
        # The move into ``status``, not a parcel's note recorded while the order stayed in it.
        moves = [e.at for e in order.events.all() if e.to_status == status and e.from_status != status]
        return moves[-1] if moves else None

    delivered_at = reached(Order.Status.DELIVERED)
    return DeliveryProgress(
        shipped_at=reached(Order.Status.SHIPPED),
        delivered_at=delivered_at,
        parcels=[s for s in order.shipments.all() if s.shipped_at is not None and s.tracking_number],
        eta_expected=delivered_at is None and order.status in _STILL_EXPECTED,
    )


def order_delivery_address(*, order: Order, language: str) -> dict:
    """Where ``order`` goes, as its page and its mails write it: the address as entered, its state
    and country named in ``language`` as the checkout's lists name them (codes stored), and
    ``address_lines``: all of it but the phone, line by line in the destination country's order
    (see :mod:`apps.orders.address_lines`), the country last; ``address_phone``: the phone as the
    destination reads it. ``address_text_lines`` and ``address_text_phone``: the same for a plain
    text in ``language`` (a mail's text part), where a page has ``<bdi>``."""
    address = order.address if isinstance(order.address, dict) else {}
    country = address.get("country") or order.country
    state = address.get("state", "")
    state_name = dict(rules.subdivision_choices(settings.REGION, country, language)).get(state, state)
    country_name = dict(country_choices(settings.REGION, language)).get(country, country)
    lines = address_lines({**address, "country": country}, state_name=state_name, country_name=country_name)
    phone = phone_line(address.get("phone"), country)
    # A plain text in a right-to-left language is read right to left, line by line: the phone
    # "050 123 4567" would show as "4567 123 050", a street "12 Main St" as "Main St 12". Isolated,
    # each keeps its own direction, as in <bdi> on the page. Only there: a left-to-right text reads
    # them right already, and the invisible marks would be copied along with the phone and the address.
    right_to_left = settings.REGION.is_rtl(language)  # as the page's dir
    return {
        "address": address,
        "address_state": state_name,
        "address_country": country_name,
        "address_lines": lines,
        "address_phone": phone,
        "address_text_lines": [isolated(line) for line in lines] if right_to_left else lines,
        "address_text_phone": isolated(phone, left_to_right=True) if right_to_left else phone,
    }


def order_tracking_text_numbers(*, order: Order, language: str) -> list[str]:
    """The tracking number of each of ``order``'s shipments, in their order, for a plain text in
    ``language`` (the shipped mail's text part): isolated left to right in a right-to-left language,
    as :func:`order_delivery_address` isolates the phone. Its shipments as prefetched, if they are."""
    numbers = [shipment.tracking_number for shipment in order.shipments.all()]
    # "1Z 999 AA1 0123 4567 84" in a right-to-left text would show its groups in reverse order: a
    # shopper typing it into the courier's site as read would not find the parcel. Only there: in a
    # left-to-right text the invisible marks would only be copied along with the number.
    if settings.REGION.is_rtl(language):
        return [isolated(number, left_to_right=True) for number in numbers]
    return numbers


@dataclass(frozen=True)
class RefundsOwed:
    """What an order's customer is still owed back.

    ``waiting_minor``: refunds the provider has not taken yet (it was not answering); the
    retry sweep sends them. ``held_minor``: for a cancelled order, money paid that no refund
    is returning (declined by the provider), held by ``provider``; nothing sends it again,
    so staff must return it another way and record that they did
    (``services.order_refund_settle_outside``). The same for a refunded order
    (``order_refunded``) whose refund failed after the provider had said it succeeded.
    """

    waiting_minor: int = 0
    held_minor: int = 0
    provider: str = ""
    order_refunded: bool = False

    def notices(self, *, currency: str, locale: str) -> list[str]:
        """What staff are told about it, in their language (the admin's messages, the API's notice)."""
        said = []
        if self.waiting_minor:
            said.append(
                _(
                    "The payment provider is not answering, so the refund is not made yet: "
                    "it is sent again every 15 minutes until the provider takes it."
                )
            )
        if self.held_minor and self.order_refunded:
            said.append(
                _(
                    "Refund owed: the refund of %(amount)s for this order failed after %(provider)s had "
                    "taken it (the customer's card may be closed), and nothing will send it again. "
                    "Return it another way, for example by bank transfer."
                )
                % {"amount": format_money(self.held_minor, currency, locale), "provider": self.provider}
            )
        elif self.held_minor:
            said.append(
                _(
                    "Refund owed: %(amount)s paid for this cancelled order has not been returned to the customer, "
                    "and nothing will send it again. Return it another way, for example from the %(provider)s "
                    "dashboard."
                )
                % {"amount": format_money(self.held_minor, currency, locale), "provider": self.provider}
            )
        return said


def order_refunds_owed(*, order: Order) -> RefundsOwed:
    """The refunds ``order``'s customer is still owed (see :class:`RefundsOwed`)."""
    waiting = sum(r.amount_minor for r in payment_selectors.refunds_unsettled(order_reference=order.reference))
    held = order_refunds_held(order=order)
    return RefundsOwed(
        waiting_minor=waiting,
        held_minor=sum(owed for _payment, owed in held),
        provider=held[0][0].provider if held else "",
        order_refunded=order.status == Order.Status.REFUNDED,
    )


def order_refunds_held(*, order: Order) -> list[tuple[Payment, int]]:
    """A cancelled or refunded order's payments that still hold money no refund is returning, each
    with how much (oldest first; empty for any other order): what staff must return another way."""
    # Refunded: a refund that failed after it had succeeded (a closed card) is owed again, and
    # no step leads an order back from refunded to refund it the usual way.
    if order.status not in (Order.Status.CANCELLED, Order.Status.REFUNDED):
        return []
    # Every payment of the reference, not only the first paid one: one paid twice owes both,
    # and a first attempt only authorized (being voided) holds nothing to refund.
    held = []
    for payment in payment_selectors.payments_for_reference(order_reference=order.reference):
        owed = payment_selectors.payment_refundable_minor(payment=payment)
        if owed:
            held.append((payment, owed))
    return held


def orders_expired(*, now: dt.datetime | None = None) -> QuerySet[Order]:
    """Unpaid orders whose reservation ran out, to be cancelled and their stock freed.

    An order whose payment is under way at the provider (a SEPA debit, days) is left out
    for ``ORDERS_PAYMENT_IN_PROGRESS_DAYS`` after its reservation ran out: cancelled, its
    payment would arrive to a refund. Once that payment fails or is cancelled, or those
    days are over, it expires like any other.
    """
    now = now or timezone.now()
    paying = payment_selectors.payments_in_progress().filter(order_reference=OuterRef("reference"))
    still_paying = Q(reserved_until__gte=now - dt.timedelta(days=settings.ORDERS_PAYMENT_IN_PROGRESS_DAYS)) & Exists(
        paying
    )
    return Order.objects.filter(status=Order.Status.CREATED, reserved_until__lt=now).exclude(still_paying)


def orders_delivered_with_cash_uncollected(*, delivered_before: dt.datetime) -> QuerySet[Order]:
    """Cash-on-delivery orders delivered before ``delivered_before`` whose cash is not on the books.

    The order has no delivery time of its own: the history's step into "delivered" is it.
    Oldest first.
    """
    delivered = OrderEvent.objects.filter(
        order=OuterRef("pk"), to_status=Order.Status.DELIVERED, at__lt=delivered_before
    ).exclude(from_status=Order.Status.DELIVERED)
    return (
        Order.objects.filter(
            status=Order.Status.DELIVERED, paid_at__isnull=True, payment_provider=CashOnDeliveryProvider.name
        )
        .filter(Exists(delivered))
        .order_by("pk")
    )


def held_by_variant(variant_id: int) -> int:
    return (
        Reservation.objects.filter(stock__variant_id=variant_id, status=Reservation.Status.HELD).aggregate(
            n=Sum("quantity")
        )["n"]
        or 0
    )


# Orders count as sales once paid; unpaid, cancelled and refunded ones do not.
SOLD_STATUSES = (Order.Status.PAID, Order.Status.FULFILLED, Order.Status.SHIPPED, Order.Status.DELIVERED)


@dataclass(frozen=True)
class CurrencySales:
    currency: str
    orders: int
    revenue_minor: int
    average_order_minor: int


@dataclass(frozen=True)
class Sales:
    orders: int
    by_currency: list[CurrencySales]


def sales_at_price_locks(price_locks: list[str], *, coupon_source: str = "") -> Sales:
    """Paid sales of the lines bought at one of these price locks (e.g. a live show's pins),
    and of every line of the orders placed with a coupon handed out by ``coupon_source``
    (e.g. the show's flash coupons).

    Revenue is what those lines cost, before an order's coupon discount, per order currency
    (amounts in different currencies are never added up); an order counts once.
    """
    attributed = Q(price_lock__in=price_locks)
    if coupon_source:
        attributed |= Q(order__coupon__source=coupon_source)
    lines = OrderLine.objects.filter(attributed, order__status__in=SOLD_STATUSES)
    rows = (
        lines.values("order__currency")
        .annotate(orders=Count("order", distinct=True), revenue=Sum("total_minor"))
        .order_by("order__currency")
    )
    return Sales(
        orders=lines.values("order").distinct().count() if price_locks or coupon_source else 0,
        by_currency=[
            CurrencySales(
                currency=row["order__currency"],
                orders=row["orders"],
                revenue_minor=row["revenue"] or 0,
                average_order_minor=(row["revenue"] or 0) // row["orders"],
            )
            for row in rows
        ],
    )


def checkout_address_last_used(*, user, country: str, region: Region | None = None) -> dict[str, str]:
    """The delivery address of a signed-in shopper's latest order in ``region`` (this one by default),
    without its country, to start their checkout form with: they change what they like. Nothing for a
    guest (no query), nor when that order went to another country than ``country``, the one they buy
    from now: the form's country is that one, and another country's address does not fit it."""
    if user is None or not user.is_authenticated:
        return {}
    region = region or settings.REGION
    order = (
        Order.objects.filter(user=user, region=region.code)
        .order_by("-created_at", "-pk")
        .only("address", "country")
        .first()
    )
    if order is None:
        return {}
    address = order.address if isinstance(order.address, dict) else {}
    if address.get("country", order.country) != country:
        return {}
    return {name: str(value) for name, value in address.items() if name != "country" and value is not None}


def checkout_methods_paid_on_delivery(*, methods: Iterable[payment_selectors.OfferedMethod]) -> frozenset[str]:
    """Of the methods offered (as ``provider/method``), those paid at the door: placing such an order
    charges nothing, so the checkout's button only places it."""
    return frozenset(f"{m.provider}/{m.method}" for m in methods if m.provider == CashOnDeliveryProvider.name)


def order_status_words(order: Order) -> str:
    """How ``order``'s state reads on the shopper's pages (My orders, the order's page): its status,
    and what was refunded as one phrase with it, capitalised as it stands alone ("Delivered ·
    partially refunded"). A refunded order's status says it all; a cancelled one may be refunded too.

    What was refunded is the order's own refund: its payments' refunds (``refunded_minor``) less
    what payments that paid it again took (``paid_again_minor``), given back unasked: that money
    never paid for the order, so an order whose only refund is its second payment's reads as not
    refunded. While that refund is still on its way, an own refund up to its amount is not said
    yet: the words come late rather than say "refunded" of money the shopper still waits for."""
    status = order.get_status_display()
    refunded = order.refunded_minor - order.paid_again_minor
    if refunded <= 0 or order.status == Order.Status.REFUNDED:
        return capfirst(status)
    if refunded < order.total_minor:
        # Translators: %(status)s is the order status ("delivered"); what was refunded follows and
        # agrees with the order too (fr: « Livrée · partiellement remboursée »).
        words = pgettext("order status", "%(status)s · partially refunded")
    else:
        # Translators: %(status)s is the order status ("delivered"); what was refunded follows and
        # agrees with the order too (fr: « Livrée · partiellement remboursée »).
        words = pgettext("order status", "%(status)s · refunded")
    return capfirst(words % {"status": status})


@dataclass(frozen=True)
class RefusedEmail:
    """A mail of an order that the mail server refused for good, as staff see it and send it again."""

    kind: str  # what ``services.order_email_send_again`` takes: "confirmation", "shipped", "refund-<id>"
    name: str  # what staff call it, in their language
    refused_at: dt.datetime
    refusal: str


def order_emails_refused(*, order: Order, locale: str) -> list[RefusedEmail]:
    """Every mail of ``order`` the mail server refused for good: its own, then its refunds' (each
    named with its amount, as money in ``locale``: the staff member's), oldest refund first."""
    # Which mails an order has is the services' list (they send them); imported here, as services
    # import this module when they load.
    from apps.orders.services import ORDER_EMAILS

    refused = [
        RefusedEmail(
            kind=kind,
            name=_(email.name),
            refused_at=getattr(order, email.refused_field),
            refusal=getattr(order, email.refusal_field),
        )
        for kind, email in ORDER_EMAILS.items()
        if getattr(order, email.refused_field) is not None
    ]
    for refund_email in RefundEmail.objects.filter(order=order, refused_at__isnull=False).order_by("owed_at", "pk"):
        amount = format_money(refund_email.amount_minor, refund_email.currency, locale)
        refused.append(
            RefusedEmail(
                kind=f"refund-{refund_email.pk}",
                # Translators: the mail about one refund of the order; %(amount)s is that refund, as money.
                name=_("Refund e-mail (%(amount)s)") % {"amount": amount},
                refused_at=refund_email.refused_at,
                refusal=refund_email.refusal,
            )
        )
    return refused
