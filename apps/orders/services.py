"""Writes about buying: the cart, checkout (order + stock reservation), payment, lifecycle.

Locks are always taken in the same order so that no two writers wait on each other in a
cycle: the cart row, then stock rows in primary-key order (``stocks_lock_for_variants``),
then the order row, and last a limited coupon's row (a hot row while a live show hands the
code out: it is updated only at the very end of the checkout, so it is held just until
the commit). Stock is reserved per warehouse; a held reservation counts against
availability until the order is paid (the units are then taken out of the warehouse) or
the reservation expires (the units are free again).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import smtplib
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from apps.catalog import services as catalog
from apps.catalog.models import DEFAULT_HANDLING_DAYS, Variant, Warehouse
from apps.catalog.selectors import product_is_visible_in, variant_options_text
from apps.errors import ApplicationError
from apps.money.formatting import format_count, format_day, format_money, reader_locale
from apps.orders import gate, rules
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
from apps.orders.selectors import (
    Shopper,
    available_units,
    cart_lines_for_review,
    cart_quantities,
    cart_units_cache_keys,
    checkout_quote,
    coupon_expired_error,
    coupon_sold_out_error,
    order_delivery_address,
    order_refunds_held,
    order_tracking_text_numbers,
    orders_delivered_with_cash_uncollected,
    orders_expired,
    orders_with_flash_sale_admissions,
    parcel_eta,
    shipments_for_staff,
    shopper_locale,
)
from apps.orders.signals import coupon_redemptions_changed
from apps.payments import selectors as payment_selectors
from apps.payments import services as payments
from apps.payments.providers.base import NextAction, PaymentStatus
from regions import Region

logger = logging.getLogger(__name__)

S = Order.Status
# Which status may follow which. Refunds are recorded without a status change until the
# whole amount is back; then the order is ``refunded``.
# Statuses of an order that ships before it is paid (cash on delivery).
PAID_ON_DELIVERY = (S.CONFIRMED, S.FULFILLED, S.SHIPPED, S.DELIVERED)

ALLOWED = {
    S.CREATED: {S.PAID, S.CONFIRMED, S.CANCELLED},
    S.CONFIRMED: {S.FULFILLED, S.CANCELLED},
    S.PAID: {S.FULFILLED, S.CANCELLED, S.REFUNDED},
    # An unpaid (cash on delivery) parcel can still be cancelled: refused at the door, it comes back.
    S.FULFILLED: {S.SHIPPED, S.REFUNDED, S.CANCELLED},
    S.SHIPPED: {S.DELIVERED, S.REFUNDED, S.CANCELLED},
    S.DELIVERED: {S.REFUNDED},
    S.CANCELLED: set(),
    S.REFUNDED: set(),
}


def max_quantity() -> int:
    return settings.ORDERS_MAX_QUANTITY_PER_LINE


def max_units_per_order() -> int:
    return settings.ORDERS_MAX_UNITS_PER_ORDER


def order_limit_error(units: int) -> ApplicationError:
    """The answer to a cart (or an order) that would hold more units in all than one order may."""
    limit = max_units_per_order()
    return ApplicationError(
        _("One order holds at most %(limit)d items; this would make %(count)d.") % {"limit": limit, "count": units},
        code="order_limit",
        fields={"quantity": [_("At most %(limit)d items in all.") % {"limit": limit}]},
    )


def _check_cart_units(cart: Cart, *, variant_id: int, quantity: int) -> None:
    """Refuse a line of ``quantity`` when with the cart's other lines it passes the per-order limit.

    The caller holds the cart lock, so two requests cannot each add up to just under it.
    """
    others = CartLine.objects.filter(cart=cart).exclude(variant_id=variant_id).aggregate(n=Sum("quantity"))["n"] or 0
    if others + quantity > max_units_per_order():
        raise order_limit_error(others + quantity)


# --- cart ---------------------------------------------------------------------------------


def _check_quantity(quantity: object, *, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not low <= quantity <= max_quantity():
        raise ApplicationError(
            _("Choose a quantity from %(low)d to %(high)d.") % {"low": low, "high": max_quantity()},
            code="invalid_quantity",
            fields={"quantity": [str(quantity)]},
        )
    return quantity


def _cart_count_changed(*carts: tuple[int, int | None]) -> None:
    """Each (cart id, owner id)'s count in the header is read afresh after this change.

    Forgotten now and again once the change commits: a page read in between may have kept
    the count from before it.
    """
    keys = [key for cart_id, user_id in carts for key in cart_units_cache_keys(cart_id=cart_id, user_id=user_id)]
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))


def cart_for(*, user=None, cart_id: int | None = None, create: bool = True) -> Cart | None:
    """The shopper's open cart: the signed-in user's, else the session's anonymous one."""
    if user is not None and user.is_authenticated:
        cart = Cart.objects.filter(user=user, status=Cart.Status.OPEN).first()
        if cart is None and create:
            try:
                with transaction.atomic():
                    cart = Cart.objects.create(user=user)
            except IntegrityError:
                cart = Cart.objects.get(user=user, status=Cart.Status.OPEN)
        return cart
    if cart_id:
        cart = Cart.objects.filter(pk=cart_id, user__isnull=True, status=Cart.Status.OPEN).first()
        if cart is not None:
            return cart
    return Cart.objects.create() if create else None


def _sellable_variant(variant_id: object, country: str) -> Variant:
    if isinstance(variant_id, bool) or not isinstance(variant_id, int):
        raise ApplicationError(_("Choose a product."), code="invalid_variant", fields={"variant": [str(variant_id)]})
    variant = Variant.objects.select_related("product").filter(pk=variant_id).first()
    if (
        variant is None
        or not (variant.is_active and variant.product.is_active)
        or not product_is_visible_in(variant.product, country)
    ):
        # A hidden product is answered like a missing one: its existence is not shown.
        raise ApplicationError(
            _("This product is not available."), code="variant_unavailable", fields={"variant": [str(variant_id)]}
        )
    return variant


@dataclass(frozen=True)
class PriceLock:
    """A price promised to the shopper by a higher floor (a product pinned in a live show).

    ``prices_minor`` maps currency codes to unit prices in minor units, fixed with the FX
    snapshot ``fx_snapshot_id``; ``source`` says where the promise was made ("live-pin:42").
    """

    source: str
    prices_minor: Mapping[str, int]
    fx_snapshot_id: int | None = None


def _checked_lock(lock: PriceLock) -> dict[str, int]:
    prices = {}
    for currency, amount in lock.prices_minor.items():
        if not (isinstance(currency, str) and re.fullmatch(r"[A-Z]{3}", currency)):
            raise ValueError(f"price lock {lock.source!r}: {currency!r} is not a currency code")
        if type(amount) is not int or amount < 0:
            raise ValueError(f"price lock {lock.source!r}: {amount!r} is not an amount in minor units")
        prices[currency] = amount
    if not prices or not lock.source or len(lock.source) > 40:
        raise ValueError("a price lock needs a source (at most 40 characters) and at least one price")
    return prices


@transaction.atomic
def cart_line_add(
    *, cart: Cart, variant_id: int, quantity: int, country: str, price_lock: PriceLock | None = None
) -> CartLine:
    """Put ``quantity`` more of a variant in the cart (up to the per-line limit).

    With ``price_lock`` the line keeps that price for ``ORDERS_PRICE_LOCK_MINUTES`` (adding
    again renews it); checkout charges the lower of it and the current price.
    """
    quantity = _check_quantity(quantity)
    locked_prices = _checked_lock(price_lock) if price_lock is not None else None
    variant = _sellable_variant(variant_id, country)
    cart = Cart.objects.select_for_update().get(pk=cart.pk)
    line = CartLine.objects.filter(cart=cart, variant=variant).first()
    total = quantity + (line.quantity if line else 0)
    if total > max_quantity():
        # The quantity asked for is fine on its own: say what the cart already holds.
        raise ApplicationError(
            _("You can buy at most %(limit)d of this; your cart already has %(count)d.")
            % {"limit": max_quantity(), "count": total - quantity},
            code="invalid_quantity",
            fields={"quantity": [str(quantity)]},
        )
    _check_cart_units(cart, variant_id=variant.pk, quantity=total)
    if line is None:
        line = CartLine(cart=cart, variant=variant)
    line.quantity = total
    if price_lock is not None:
        line.locked_prices = locked_prices
        line.lock_source = price_lock.source
        line.lock_fx_snapshot_id = price_lock.fx_snapshot_id
        line.locked_until = timezone.now() + dt.timedelta(minutes=settings.ORDERS_PRICE_LOCK_MINUTES)
    line.save()
    Cart.objects.filter(pk=cart.pk).update(updated_at=timezone.now())
    _cart_count_changed((cart.pk, cart.user_id))
    return line


@transaction.atomic
def cart_line_set(*, cart: Cart, variant_id: int, quantity: int, country: str) -> CartLine | None:
    """Set a line's quantity; 0 removes the line."""
    quantity = _check_quantity(quantity, allow_zero=True)
    _cart_count_changed((cart.pk, cart.user_id))
    if quantity == 0:
        CartLine.objects.filter(cart=cart, variant_id=variant_id).delete()
        return None
    variant = _sellable_variant(variant_id, country)
    cart = Cart.objects.select_for_update().get(pk=cart.pk)
    _check_cart_units(cart, variant_id=variant.pk, quantity=quantity)
    line, _created = CartLine.objects.update_or_create(cart=cart, variant=variant, defaults={"quantity": quantity})
    return line


@transaction.atomic
def cart_merge(*, user, anonymous_cart_id: int | None) -> Cart | None:
    """Fold the session's anonymous cart into the user's at sign-in (quantities add up, capped per line).

    Nothing the shopper chose is dropped, even when both carts together pass the per-order
    limit: which of their things to leave out is theirs to say. The cart review marks the
    lines that do not fit, keeping the latest choices (``selectors._cart_keep_to_the_limit``),
    so each line keeps the time it was last chosen, in either cart; and checkout refuses
    such a cart with ``order_limit`` until it is lowered. Lines no longer on sale, or hidden
    in the shopper's country, come along too and show their reason on the cart page.
    """
    if not anonymous_cart_id:
        return None
    anonymous = (
        Cart.objects.select_for_update()
        .filter(pk=anonymous_cart_id, user__isnull=True, status=Cart.Status.OPEN)
        .first()
    )
    if anonymous is None:
        return None
    cart = cart_for(user=user)
    cart = Cart.objects.select_for_update().get(pk=cart.pk)
    for line in anonymous.lines.all():
        mine = CartLine.objects.filter(cart=cart, variant_id=line.variant_id).first()
        chosen_at = line.added_at
        if mine is None:
            mine = CartLine(cart=cart, variant_id=line.variant_id, quantity=min(line.quantity, max_quantity()))
        else:
            mine.quantity = min(mine.quantity + line.quantity, max_quantity())
            chosen_at = max(chosen_at, mine.added_at)
        # A price promised before sign-in is still promised after it.
        if line.locked_until and (mine.locked_until is None or line.locked_until > mine.locked_until):
            mine.locked_prices = line.locked_prices
            mine.lock_source = line.lock_source
            mine.lock_fx_snapshot_id = line.lock_fx_snapshot_id
            mine.locked_until = line.locked_until
        mine.save()
        if mine.added_at != chosen_at:
            # ``added_at`` is stamped when a row is created: a line moved in keeps its own time.
            CartLine.objects.filter(pk=mine.pk).update(added_at=chosen_at)
    _cart_count_changed((anonymous.pk, None), (cart.pk, cart.user_id))
    anonymous.status = Cart.Status.MERGED
    anonymous.save(update_fields=["status", "updated_at"])
    return cart


# --- guest orders -------------------------------------------------------------------------

# A session remembers at most 20 orders (``web.remember_order``); more is not a session's list.
ATTACH_AT_MOST = 50


@dataclass(frozen=True)
class SessionOrdersAtSignIn:
    """What a sign-in did with the guest orders its browser session remembers.

    ``attached``: the orders moved into the account now. ``kept``: the references the session may
    go on remembering, the account's own orders only; the session forgets every other one (another
    guest's order on a shared computer must not stay open to whoever signed in).
    """

    attached: list[Order]
    kept: list[str]


@transaction.atomic
def orders_attach_to_user(*, user, references: Collection[str]) -> SessionOrdersAtSignIn:
    """Give a signed-in shopper the guest orders their browser session placed with the account's
    e-mail; say which references the session keeps (the caller replaces its list with ``kept``).

    ``references`` must come from the session that placed the orders (the caller's proof):
    never pick orders by e-mail alone, which anyone can type at checkout. The session alone is no
    proof either: on a shared computer it may hold the previous guest's orders, so only those whose
    contact e-mail is the account's (in any case: accounts keep theirs lower-cased, orders as
    typed) are taken; the others stay guest orders, and the session is to forget them. Only orders
    with no owner are taken; another account's order is never moved. Attaching again attaches
    nothing, and each order's history records the attachment once, with the account as actor.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return SessionOrdersAtSignIn(attached=[], kept=[])
    considered = list(dict.fromkeys(r for r in list(references)[:ATTACH_AT_MOST] if isinstance(r, str) and r))
    if not considered:
        return SessionOrdersAtSignIn(attached=[], kept=[])
    orders: list[Order] = []
    if user.email:
        # Locked and re-read: two sign-ins at once in one session (two tabs) attach each order once.
        orders = list(
            Order.objects.select_for_update()
            .filter(reference__in=considered, user__isnull=True, email__iexact=user.email)
            .order_by("pk")
        )
    for order in orders:
        order.user = user
        order.save(update_fields=["user"])
        _record(order, order.status, order.status, actor=user, note="guest order attached to the account at sign-in")
    owned = set(Order.objects.filter(reference__in=considered, user=user).values_list("reference", flat=True))
    return SessionOrdersAtSignIn(attached=orders, kept=[r for r in considered if r in owned])


# --- checkout -----------------------------------------------------------------------------


def _new_reference() -> str:
    return "LM-" + secrets.token_hex(5).upper()


def _record(order: Order, from_status: str, to_status: str, *, actor=None, label: str = "", note: str = "") -> None:
    OrderEvent.objects.create(
        order=order,
        from_status=from_status,
        to_status=to_status,
        actor=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
        actor_label=label or (getattr(actor, "email", "") if actor is not None else "") or "shopper",
        note=note[:255],
    )


# History notes are written once and read later by any staff member, in any language: their words
# are English in every region, so their amounts are too, and without a country, so the currency is
# always named (CA$ beside $, where a Canadian locale would write both as "$").
NOTES_LOCALE = "en"


def _noted(amount_minor: int, currency: str) -> str:
    """An amount as the order's history records it: ``$18.50``, ``CA$18.50``, ``AED 18.50``."""
    return format_money(amount_minor, currency, NOTES_LOCALE)


def checkout_attempt_ended_error() -> ApplicationError:
    """The answer to a submit whose key's order was cancelled (paying failed, the reservation
    ran out): that attempt is over, one key never names two orders; the page takes a new key."""
    return ApplicationError(
        _("This checkout attempt has ended. Please check your details and place the order again."),
        code="checkout_attempt_ended",
        status=409,
    )


def _existing(idempotency_key: str, *, cart: Cart, user=None) -> Order | None:
    """The order an earlier submit with this key created, when it is this shopper's and alive."""
    order = Order.objects.filter(idempotency_key=idempotency_key).first()
    if order is None:
        return None
    if order.status == Order.Status.CANCELLED:
        raise checkout_attempt_ended_error()
    same_user = user is not None and user.is_authenticated and order.user_id == user.pk
    same_cart = getattr(order, "cart", None) is not None and order.cart.pk == cart.pk
    if not (same_user or same_cart):
        raise ApplicationError(
            _("This Idempotency-Key was already used for another checkout."),
            code="idempotency_key_reused",
            status=409,
        )
    return order


def checkout_details_errors(
    *, address: object, email: object, country: str, payment_provider: str, region: Region | None = None
) -> dict[str, list[str]]:
    """Every problem with a checkout's address, e-mail and phone at once, by field (empty when none).

    The checkout refuses an order with any; the checkout page shows them all together, so the
    shopper does not correct one thing per submit.
    """
    region = region or settings.REGION
    errors = rules.address_errors(address, region=region)
    if isinstance(address, dict) and not errors and str(address.get("country", "")).upper() != country:
        errors["country"] = [_("The delivery country must be your shopping country.")]
    if not isinstance(email, str) or "@" not in email or len(email) > 254 or "\x00" in email:
        errors["email"] = [_("Enter a valid e-mail address.")]
    phone = address.get("phone") if isinstance(address, dict) else None
    if (
        "phone" not in errors
        and not (phone.strip() if isinstance(phone, str) else phone)
        and payment_selectors.provider_needs_phone(provider=payment_provider)
    ):
        errors["phone"] = [_("Give a phone number: the courier calls before delivering an order paid in cash.")]
    return errors


def checkout_place(
    *,
    cart: Cart,
    idempotency_key: str,
    shopper: Shopper,
    email: str,
    address: dict,
    shipping_option: str,
    payment_provider: str,
    payment_method: str,
    coupon_code: str = "",
    expected_total_minor: int | None = None,
    expected_lines: dict[int, int] | None = None,
    admission: gate.DoorAdmission | None = None,
    user=None,
    region: Region | None = None,
) -> Order:
    """Create the order and reserve its stock in one transaction; a retried key returns the same order.

    Every line is checked again (country rules, stock, today's price). When a flash-sale
    gate is open for a variant, Redis admits the units first and a sold-out buyer never
    reaches PostgreSQL; units the door already admitted for this request (``admission``)
    are claimed instead. ``expected_total_minor`` and ``expected_lines`` ({variant:
    quantity}) are the total and lines the page showed: different ones (a tampered request,
    a price or cart that changed) are refused, nothing written.
    """
    region = region or settings.REGION
    if not isinstance(idempotency_key, str) or not IDEMPOTENCY_KEY_RE.match(idempotency_key):
        raise ApplicationError(
            _("Send an Idempotency-Key of 8 to 128 letters, digits, '.', '_', ':' or '-'."),
            code="invalid_idempotency_key",
            fields={"idempotency_key": [_("Invalid or missing.")]},
        )
    existing = _existing(idempotency_key, cart=cart, user=user)
    if existing is None and cart.order_id:
        existing = Order.objects.get(pk=cart.order_id)
    if existing is not None:
        existing.placed_now = False  # type: ignore[attr-defined]
        return existing

    errors = checkout_details_errors(
        address=address, email=email, country=shopper.country, payment_provider=payment_provider, region=region
    )
    if errors:
        raise ApplicationError(_("Check the delivery details."), code="invalid_address", fields=errors)
    address = rules.clean_address(address)
    shopper = Shopper(
        country=shopper.country,
        currency=shopper.currency,
        language=shopper.language,
        time_zone=shopper.time_zone,
        state=address["state"],
    )
    offered = {
        (o.provider, o.method)
        for o in payment_selectors.payment_methods_offered(currency=shopper.currency, country=shopper.country)
    }
    if (payment_provider, payment_method) not in offered:
        raise ApplicationError(
            _("This payment method is not offered here."),
            code="payment_method_not_offered",
            fields={"payment_method": [", ".join(f"{p}/{m}" for p, m in sorted(offered))]},
        )

    # The flash-sale gate comes before any pricing query, so a sold-out crowd never reaches PostgreSQL.
    lines = cart_lines_for_review(cart=cart, country=shopper.country)
    wanted = cart_quantities(lines)
    # A cart can pass the limit without going through cart_line_add (merged at sign-in, a
    # lowered setting): refused here before the gate, nothing written.
    units = sum(wanted.values())
    if units > max_units_per_order():
        raise order_limit_error(units)
    if expected_lines is not None and expected_lines != wanted:
        raise ApplicationError(
            _("Your cart has changed; please review your order."),
            code="cart_changed",
            fields={"expected_lines": [f"{variant}:{quantity}" for variant, quantity in sorted(wanted.items())]},
            status=409,
        )
    gated = gate.gated_variants(sorted(wanted))
    gated_wanted = {v: q for v, q in wanted.items() if v in gated}
    admitted: bool | None = None
    admission_id = ""
    if admission is not None and gated_wanted and admission.claim(gated_wanted):
        admitted, admission_id = True, admission.id
    elif gated_wanted:
        admission_id = gate.new_admission_id(idempotency_key)
        admitted = gate.admit(gated_wanted, admission_id=admission_id)
    if admitted is False:
        raise sold_out_error()
    committed = False
    try:
        quote = checkout_quote(
            cart=cart,
            shopper=shopper,
            shipping_option=shipping_option,
            coupon_code=coupon_code,
            region=region,
            strict=True,
            lines=lines,
            admitted=gated_wanted if admitted else (),
        )
        if not quote.lines:
            raise ApplicationError(_("Your cart is empty."), code="cart_empty")
        if quote.unavailable and all(line.short_of_stock for line in quote.unavailable):
            raise ApplicationError(
                _("Sorry, this is sold out."),
                code="sold_out",
                fields={f"line:{line.line_id}": [line.reason] for line in quote.unavailable},
                status=409,
            )
        if quote.unavailable:
            raise ApplicationError(
                _("Some items in your cart cannot be bought now; review your cart."),
                code="cart_changed",
                fields={f"line:{line.line_id}": [line.reason] for line in quote.unavailable},
                status=409,
            )
        if expected_total_minor is not None and expected_total_minor != quote.total_minor:
            raise ApplicationError(
                _("The total has changed; please review your order."),
                code="total_changed",
                fields={"expected_total_minor": [str(quote.total_minor)]},
                status=409,
            )
        order = _place(
            cart=cart,
            quote=quote,
            wanted=wanted,
            gated=set(gated_wanted) if admitted else set(),
            admission_id=admission_id if admitted else "",
            idempotency_key=idempotency_key,
            shopper=shopper,
            email=email,
            address=address,
            payment_provider=payment_provider,
            payment_method=payment_method,
            user=user,
            region=region,
        )
        committed = order.placed_now  # type: ignore[attr-defined]
    finally:
        if admitted:
            gate.settle(gated_wanted, admission_id=admission_id, committed=committed)
    return order


def sold_out_error() -> ApplicationError:
    """The answer to a buyer who came too late (also given at the door, apps.orders.door)."""
    return ApplicationError(_("Sorry, this is sold out."), code="sold_out", status=409)


def _place(
    *,
    cart: Cart,
    quote,
    wanted: dict[int, int],
    gated: set[int],
    admission_id: str,
    idempotency_key: str,
    shopper: Shopper,
    email: str,
    address: dict,
    payment_provider: str,
    payment_method: str,
    user,
    region: Region,
) -> Order:
    # Without the gate, the stock rows are locked first: a checkout that finds too few units
    # gives up before writing anything. When the gate admitted every line, nearly every
    # checkout that gets here succeeds, so the lock is taken last and held only for the
    # reservations and the commit: under a flash-sale crowd that lock is the hottest one.
    lock_last = set(wanted) <= gated
    try:
        with transaction.atomic():
            locked = Cart.objects.select_for_update().get(pk=cart.pk)
            if locked.order_id:
                # A concurrent submit of the same cart won: its order is the answer.
                order = Order.objects.get(pk=locked.order_id)
                order.placed_now = False  # type: ignore[attr-defined]
                return order
            if locked.status != Cart.Status.OPEN:
                raise ApplicationError(_("This cart is no longer open."), code="cart_closed", status=409)
            stock = None if lock_last else _StockInHand(wanted, country=shopper.country)
            now = timezone.now()
            reserved_until = now + dt.timedelta(minutes=settings.ORDERS_RESERVATION_MINUTES)
            order = Order.objects.create(
                reference=_new_reference(),
                idempotency_key=idempotency_key,
                user=user if user is not None and user.is_authenticated else None,
                email=email,
                region=region.code,
                country=shopper.country,
                language=shopper.language,
                time_zone=shopper.time_zone,
                currency=shopper.currency,
                settlement_currency=region.settlement_currency,
                fx_snapshot_id=quote.fx_snapshot_id,
                fx_rate=quote.fx_rate,
                address=address,
                shipping_option=quote.shipping_option,
                coupon=quote.coupon,
                tax_model=quote.tax_model,
                tax_rate=str(quote.tax_rate),
                prices_include_tax=quote.prices_include_tax,
                tax_parts=quote.tax_parts,
                subtotal_minor=quote.subtotal_minor,
                discount_minor=quote.discount_minor,
                shipping_minor=quote.shipping_minor,
                tax_minor=quote.tax_minor,
                total_minor=quote.total_minor,
                eta=quote.eta,
                payment_provider=payment_provider,
                payment_method=payment_method,
                reserved_until=reserved_until,
                flash_sale_admission=admission_id,
            )
            order_lines = OrderLine.objects.bulk_create(
                OrderLine(
                    order=order,
                    variant_id=reviewed.variant_id,
                    product_name=reviewed.product_name[:200],
                    sku=reviewed.sku,
                    quantity=reviewed.quantity,
                    unit_price_minor=reviewed.unit_price_minor,
                    total_minor=reviewed.total_minor,
                    price_lock=reviewed.price_lock,
                    price_lock_fx_snapshot_id=reviewed.price_lock_fx_snapshot_id,
                )
                for reviewed in quote.lines
            )
            locked.status = Cart.Status.ORDERED
            locked.order = order
            locked.save(update_fields=["status", "order", "updated_at"])
            _cart_count_changed((locked.pk, locked.user_id))
            _record(order, "", S.CREATED, actor=user, note=f"checkout {idempotency_key[:60]}")
            stock = stock or _StockInHand(wanted, country=shopper.country)
            reserved = stock.reserve(order, order_lines, gated=gated, until=reserved_until)
            # The quote promised the slowest warehouse that could pack; the ones that will are
            # known now. Never later than promised: those are among the quote's candidates.
            packed_in = max((r.stock.warehouse.handling_days for r in reserved), default=None)
            if packed_in is not None:
                eta = min(quote._eta_for(handling_days=packed_in), quote.eta)
                if eta != order.eta:
                    Order.objects.filter(pk=order.pk).update(eta=eta)
                    order.eta = eta
            # A limited coupon's use is a hot row too: its conditional update is the last write.
            if quote.coupon is not None and quote.coupon.max_redemptions is not None:
                _coupon_redeem(quote.coupon, now=now)
            order.placed_now = True  # type: ignore[attr-defined]
            order.placed_lines = order_lines  # type: ignore[attr-defined]
            return order
    except IntegrityError:
        # The same key committed by a concurrent request: answer with its order.
        order = _existing(idempotency_key, cart=cart, user=user)
        if order is None:
            raise
        order.placed_now = False  # type: ignore[attr-defined]
        return order


class _StockInHand:
    """The stock rows of a checkout's variants, locked, with the units already held on each."""

    def __init__(self, wanted: Collection[int], *, country: str) -> None:
        self.stocks = catalog.stocks_lock_for_variants(variant_ids=wanted)
        self.held: dict[int, int] = dict(
            Reservation.objects.filter(stock__in=self.stocks, status=Reservation.Status.HELD)
            .values_list("stock_id")
            .annotate(total=Sum("quantity"))
        )
        # Ship from the destination country's warehouses first, then in pk order.
        self.stocks.sort(key=lambda s: (s.warehouse.country != country, s.pk))

    def reserve(
        self, order: Order, lines: list[OrderLine], *, gated: set[int], until: dt.datetime
    ) -> list[Reservation]:
        """Hold every line's units on the rows that have them free; sold out (and rolled back) if short.

        Returns the reservations, each with its stock row and warehouse (no query to read them)."""
        reservations = []
        for line in lines:
            remaining = line.quantity
            for stock in self.stocks:
                if stock.variant_id != line.variant_id or remaining == 0:
                    continue
                take = min(stock.quantity - self.held.get(stock.pk, 0), remaining)
                if take <= 0:
                    continue
                reservations.append(
                    Reservation(
                        order=order,
                        line=line,
                        stock=stock,
                        quantity=take,
                        gated=line.variant_id in gated,
                        expires_at=until,
                    )
                )
                self.held[stock.pk] = self.held.get(stock.pk, 0) + take
                remaining -= take
            if remaining:
                raise sold_out_error()
        return Reservation.objects.bulk_create(reservations)


# --- coupons ------------------------------------------------------------------------------

COUPON_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,39}$")


def coupon_create(
    *,
    code: str,
    percent_off: int,
    valid_from: dt.datetime,
    valid_until: dt.datetime,
    max_redemptions: int | None = None,
    countries: list[str] | tuple[str, ...] = (),
    source: str = "",
) -> Coupon:
    """A percent-off code handed out by a higher floor (a flash coupon pushed in a live show).

    With ``max_redemptions`` no more orders than that hold a use of it at any time (see
    :func:`checkout_place`); ``countries`` (empty: all) limits where it may be used;
    ``source`` names who handed it out. A code taken already (in any case) is refused.
    """
    fields: dict[str, list[str]] = {}
    if not isinstance(code, str) or not COUPON_CODE_RE.match(code):
        fields["code"] = [_("3 to 40 letters, digits, '-' or '_'.")]
    if type(percent_off) is not int or not 1 <= percent_off <= 100:
        fields["percent_off"] = [_("A whole number from 1 to 100.")]
    if max_redemptions is not None and (type(max_redemptions) is not int or max_redemptions < 1):
        fields["max_redemptions"] = [_("A whole number from 1, or empty for no limit.")]
    if not (isinstance(valid_from, dt.datetime) and isinstance(valid_until, dt.datetime) and valid_from < valid_until):
        fields["valid_until"] = [_("The coupon must end after it starts.")]
    if not all(isinstance(c, str) and re.fullmatch(r"[A-Z]{2}", c) for c in countries):
        fields["countries"] = [_("Two-letter country codes.")]
    else:
        # A country this region does not serve never reaches its checkout: the coupon
        # would be handed out there and refuse every shopper.
        served = settings.REGION.country_codes
        unknown = sorted({c for c in countries if c not in served})
        if unknown:
            fields["countries"] = [
                _("Not a country this region serves: %(unknown)s. Use %(countries)s.")
                % {"unknown": ", ".join(unknown), "countries": ", ".join(sorted(served))}
            ]
    if not isinstance(source, str) or len(source) > 40:
        fields["source"] = [_("At most 40 characters.")]
    if fields:
        raise ApplicationError(_("The coupon could not be created."), code="invalid_coupon", fields=fields)
    taken = ApplicationError(
        _("A coupon with this code exists."), code="coupon_code_taken", fields={"code": [code]}, status=409
    )
    # Checkout finds codes case-insensitively: "live-1" would shadow "LIVE-1".
    if Coupon.objects.filter(code__iexact=code).exists():
        raise taken
    try:
        with transaction.atomic():
            return Coupon.objects.create(
                code=code,
                percent_off=percent_off,
                valid_from=valid_from,
                valid_until=valid_until,
                max_redemptions=max_redemptions,
                countries=sorted(set(countries)),
                source=source,
            )
    except IntegrityError:
        raise taken from None


def coupon_deactivate(*, coupon_id: int) -> bool:
    """Stop a coupon being used from now on (orders already placed keep it). True if it was active."""
    return bool(Coupon.objects.filter(pk=coupon_id, is_active=True).update(is_active=False))


def _coupon_redeem(coupon: Coupon, *, now: dt.datetime) -> None:
    """Take one use of a limited coupon, or refuse the checkout (the caller's transaction rolls back).

    One conditional UPDATE, no read-then-write: PostgreSQL re-checks the condition on the
    row a concurrent winner committed, so never more than ``max_redemptions`` are taken,
    and a closed or expired coupon (the merchant may close it after the quote) is refused.
    """
    taken = Coupon.objects.filter(
        pk=coupon.pk,
        is_active=True,
        valid_from__lte=now,
        valid_until__gte=now,
        redemptions__lt=F("max_redemptions"),
    ).update(redemptions=F("redemptions") + 1)
    if taken:
        _announce_redemptions(coupon.pk)
        return
    current = Coupon.objects.filter(pk=coupon.pk).first()
    if current is None or not current.is_active or not current.valid_from <= now <= current.valid_until:
        raise coupon_expired_error(coupon.code)
    raise coupon_sold_out_error(coupon.code)


def _coupon_give_back(order: Order) -> None:
    """An order that ends without reaching its shopper gives its use of a limited coupon back.

    The caller holds the order lock and moved it to "cancelled" (unpaid, or after payment:
    :func:`_back_on_sale`) or refunded it in full before it shipped, which happens once per
    order: the use is given back once.
    """
    if order.coupon_id is None:
        return
    given = Coupon.objects.filter(pk=order.coupon_id, max_redemptions__isnull=False, redemptions__gt=0).update(
        redemptions=F("redemptions") - 1
    )
    if given:
        _announce_redemptions(order.coupon_id)


def _announce_redemptions(coupon_id: int) -> None:
    """Tell the floors above how many uses are left, once the change is committed."""

    def send() -> None:
        coupon = Coupon.objects.filter(pk=coupon_id).first()
        if coupon is None or coupon.remaining is None:
            return
        results = coupon_redemptions_changed.send_robust(
            sender=Coupon, coupon_id=coupon.pk, code=coupon.code, source=coupon.source, remaining=coupon.remaining
        )
        for receiver, result in results:
            if isinstance(result, Exception):
                logger.error("Receiver %r of coupon_redemptions_changed failed", receiver, exc_info=result)

    transaction.on_commit(send)


# --- payment ------------------------------------------------------------------------------


def order_pay(*, order: Order, return_url: str = "", cancel_url: str = ""):
    """Start (or resume) paying ``order`` with its chosen method; returns the payment.

    A provider that does not answer gives the shopper a clean "try another method": the
    order is cancelled, its reservation released and the cart opened again.
    """
    order.refresh_from_db()
    if order.status != S.CREATED:
        raise _not_payable_error(paid=order.paid_at is not None)
    if order.reserved_until < timezone.now():
        # Not expired while its payment is under way at the provider: the page resumes that payment.
        order_release_expired(order_id=order.pk)
        order.refresh_from_db()
        if order.status != S.CREATED:
            raise ApplicationError(_("The reservation expired; please check out again."), code="expired", status=409)
    try:
        payment = payments.payment_create(
            order_reference=order.reference,
            provider=order.payment_provider,
            method=order.payment_method,
            amount_minor=order.total_minor,
            currency=order.currency,
            description=f"LiveMall {order.reference}",
            return_url=return_url,
            cancel_url=cancel_url,
            country=order.country,
        )
    except ApplicationError as exc:
        if exc.code in ("provider_unavailable", "payment_declined"):
            order_cancel(order=order, actor=None, label="system:payment", note=exc.code, reopen_cart=True)
        raise
    if payment.next_action == NextAction.COLLECT_ON_DELIVERY:
        if not payment_selectors.payment_awaits_courier(payment=payment):
            # An online payment of the same order went through while this attempt was being
            # started, and cancelled it (or the order was cancelled): nobody is to collect
            # at the door, so the order is not confirmed for delivery. Its page shows what happened.
            order.refresh_from_db()
            # That payment's news may not have reached the order yet: it is paid all the same.
            paid = order.paid_at is not None or (
                order.status == S.CREATED
                and payment_selectors.payment_paid_for_reference(order_reference=order.reference) is not None
            )
            raise _not_payable_error(paid=paid)
        order_confirm_for_delivery(order=order, payment_id=payment.pk)
    return payment


def _not_payable_error(*, paid: bool) -> ApplicationError:
    """Why an order cannot be paid now: it is paid already, or it ended (cancelled, expired)."""
    if paid:
        return ApplicationError(_("This order is already paid."), code="already_paid", status=409)
    return ApplicationError(_("This order can no longer be paid."), code="not_payable", status=409)


def order_confirm_for_delivery(*, order: Order, payment_id: int) -> bool:
    """Cash on delivery: the order is accepted unpaid, its units sold, and it may be packed.

    Without this the reservation of a cash-on-delivery order would expire like that of an
    abandoned card payment. The money is recorded when the courier has it (``order_deliver``).
    Idempotent; returns True when it changed the order.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status != S.CREATED:
            return False
        _sell_held(order)
        _transition(order, S.CONFIRMED, label=f"payment:{order.payment_provider}", note=f"payment {payment_id}")
        order_id = order.pk
        transaction.on_commit(lambda: _queue_email("confirmation", order_id))
    return True


def order_payment_returned(*, order: Order, provider_payment_id: str) -> Order:
    """The shopper is back from the provider's page: learn (or take, for PayPal) the payment now.

    Without this the order would wait for the provider's webhook, and a PayPal approval
    that nobody captures never becomes money. A provider that cannot be reached leaves the
    order as it is: its webhook, or the capture task it queues, finishes the job.
    """
    payments.payment_return(order_reference=order.reference, provider_payment_id=provider_payment_id)
    order.refresh_from_db()
    return order


def order_mark_paid(*, order_reference: str, amount_minor: int, currency: str, provider: str, payment_id: int) -> bool:
    """Payment arrived: held units become a sale. Idempotent; returns True when it changed the order."""
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(reference=order_reference).first()
        if order is None:
            logger.warning("Payment %s for unknown order %s", payment_id, order_reference)
            return False
        if order.status == S.CANCELLED:
            logger.error("Order %s was paid after it was cancelled; refunding payment %s", order.reference, payment_id)
            transaction.on_commit(lambda: _refund_quietly(payment_id))
            return False
        if order.paid_at is not None:
            paid_by = _paid_by_payment_id(order)
            if payment_id != paid_by:
                _give_back_paid_again(
                    order, payment_id=payment_id, paid_by=paid_by, amount_minor=amount_minor, currency=currency
                )
            # The paying payment's news again (a replayed webhook, the return page after it): nothing to do.
            return False
        if order.status not in (S.CREATED, *PAID_ON_DELIVERY):
            return False
        if amount_minor != order.total_minor or currency != order.currency:
            # Money that does not pay this order (a tampered or stale amount) goes back; the
            # order stays unpaid and expires or is paid properly. Staff see it in its history.
            logger.error(
                "Payment %s for %s is %s %s, the order is %s %s; not marked paid, refunding it",
                payment_id,
                order.reference,
                amount_minor,
                currency,
                order.total_minor,
                order.currency,
            )
            note = f"payment {payment_id} of {_noted(amount_minor, currency)} does not match the total: refunded"
            _record(order, order.status, order.status, label=f"payment:{provider}", note=note)
            transaction.on_commit(lambda: _refund_quietly(payment_id))
            return False
        order.paid_at = timezone.now()
        order.paid_by_payment_id = payment_id
        if order.status != S.CREATED:
            # Cash handed to the courier: the order keeps its place on the way; the step is recorded.
            order.save(update_fields=["paid_at", "paid_by_payment_id"])
            _record(order, order.status, order.status, label=f"payment:{provider}", note=f"paid: payment {payment_id}")
            return True
        _sell_held(order)
        order.status = S.PAID
        order.save(update_fields=["status", "paid_at", "paid_by_payment_id"])
        _record(order, S.CREATED, S.PAID, label=f"payment:{provider}", note=f"payment {payment_id}")
        order_id = order.pk
        transaction.on_commit(lambda: _queue_email("confirmation", order_id))
    return True


def _paid_by_payment_id(order: Order) -> int | None:
    """The id of the payment that paid ``order``; for an order paid before that was recorded, the
    first of its reference's payments that paid (as refunds of it always took)."""
    if order.paid_by_payment_id is not None:
        return order.paid_by_payment_id
    paid = payment_selectors.payment_paid_for_reference(order_reference=order.reference)
    return paid.pk if paid is not None else None


def _give_back_paid_again(
    order: Order, *, payment_id: int, paid_by: int | None, amount_minor: int, currency: str
) -> None:
    """Payment ``payment_id`` paid ``order`` (locked by the caller) again, after ``paid_by``: all of it goes back.

    The shopper paid twice (two tabs, a retried redirect, a bank debit arriving after a card):
    nobody would refund it otherwise. The refund is written here, in the order's transaction,
    so that the news delivered again, or that of a third payment, finds it written (a payment
    with nothing left to refund writes nothing, and nothing is recorded twice); it goes to the
    provider after the commit, as a cancelled order's late payment does, and one the provider
    cannot take now waits for the retry sweep.
    """
    # A refund the provider declined is owed again and written anew, but the payment's money was
    # counted apart from the order's the first time.
    first_time = not payment_selectors.payment_has_refunds(payment_id=payment_id)
    refund = payments.payment_refund_remaining(payment_id=payment_id, reason=f"order already paid by payment {paid_by}")
    if refund is None:
        return
    if first_time and currency == order.currency:
        # Kept apart from the order's own refunds (``selectors.order_status_words``).
        order.paid_again_minor += amount_minor
        order.save(update_fields=["paid_again_minor"])
    logger.warning(
        "Order %s was already paid by payment %s; payment %s paid it again, refunding %s %s",
        order.reference,
        paid_by,
        payment_id,
        refund.amount_minor,
        refund.currency,
    )
    note = (
        f"payment {payment_id} of {_noted(amount_minor, currency)} paid the order again "
        f"(paid by payment {paid_by}): {_noted(refund.amount_minor, refund.currency)} refunded"
    )
    _record(order, order.status, order.status, label="payment:refund", note=note)
    transaction.on_commit(lambda: _refund_quietly(payment_id))


def _sell_held(order: Order) -> None:
    """The order's held units become a sale (caller holds the order lock)."""
    reservations = list(order.reservations.select_for_update().filter(status=Reservation.Status.HELD))
    sold: dict[int, int] = defaultdict(int)
    for r in reservations:
        sold[r.stock_id] += r.quantity
    catalog.stock_sell(sold=dict(sold))
    order.reservations.filter(status=Reservation.Status.HELD).update(status=Reservation.Status.SOLD)


def _refund_quietly(payment_id: int) -> None:
    """Give back a payment the order cannot keep (it came after the cancel, or does not match).

    Everything no refund covers is written first, then every refund still waiting is sent:
    a refund the cancel wrote and this one never overlap, and one the provider could not
    take is left to the retry sweep.
    """
    try:
        payments.payment_refund_remaining(payment_id=payment_id, reason="order cancelled before payment arrived")
        payments.payment_refunds_send(payment_id=payment_id)
    except ApplicationError as exc:
        logger.error("Refund of late payment %s failed: %s", payment_id, exc.message)


# --- order e-mails ------------------------------------------------------------------------


@dataclass(frozen=True)
class MailRecord:
    """Where a mail's sending is written on the row that owes it (see :func:`_send_once`)."""

    sent_field: str
    claimed_field: str
    refused_field: str  # when the mail server refused it for good
    refusal_field: str  # what it answered


@dataclass(frozen=True)
class OrderEmail(MailRecord):
    """One e-mail the shopper gets about an order, and when it is owed."""

    template: str
    subject: str  # msgid, translated in the shopper's language when sent
    name: str  # msgid: what staff call it ("Confirmation e-mail"), translated in their language
    # When staff asked to send it again after a refusal: the sweep counts it owed from then too.
    send_again_field: str
    # Sent only while the order is in one of these: "thank you for your order" for a
    # cancelled or refunded one, or "on its way" once it arrived or came back, would be wrong.
    statuses: tuple[str, ...]
    # The steps (history's ``to_status``) that made it owed: the sweep's grace and look-back count from them.
    owed_from: tuple[str, ...]


ORDER_EMAILS: dict[str, OrderEmail] = {
    # Queued when the order is paid, or accepted to be paid on delivery.
    "confirmation": OrderEmail(
        template="confirmation",
        subject=gettext_noop("Your LiveMall order %(reference)s"),
        name=gettext_noop("Confirmation e-mail"),
        sent_field="confirmation_sent_at",
        claimed_field="confirmation_claimed_at",
        refused_field="confirmation_refused_at",
        refusal_field="confirmation_refusal",
        send_again_field="confirmation_send_again_at",
        statuses=(S.CONFIRMED, S.PAID, S.FULFILLED, S.SHIPPED, S.DELIVERED),
        owed_from=(S.PAID, S.CONFIRMED),
    ),
    # Queued when the last parcel of the order left.
    "shipped": OrderEmail(
        template="shipped",
        subject=gettext_noop("Your LiveMall order %(reference)s is on its way"),
        name=gettext_noop("Shipping e-mail"),
        sent_field="shipped_email_sent_at",
        claimed_field="shipped_email_claimed_at",
        refused_field="shipped_email_refused_at",
        refusal_field="shipped_email_refusal",
        send_again_field="shipped_email_send_again_at",
        statuses=(S.SHIPPED,),
        owed_from=(S.SHIPPED,),
    ),
}

# The mail about one refund, owed from the moment payments said the refund succeeded: its
# sending is written on its own row (``RefundEmail``), one per refund.
REFUND_EMAIL = MailRecord(
    sent_field="sent_at", claimed_field="claimed_at", refused_field="refused_at", refusal_field="refusal"
)
REFUND_EMAIL_SUBJECT = gettext_noop("Refund for your LiveMall order %(reference)s")
# What staff call it, as ``OrderEmail.name``; an order may have several, told apart by amount.
REFUND_EMAIL_NAME = gettext_noop("Refund e-mail")
# Staff send a refused refund mail again as the order's own: ``kind`` is then "refund-<its id>".
_REFUND_KIND = re.compile(r"refund-([0-9]{1,18})")

# A worker sending a mail holds it this long; past it, the worker is taken for dead (killed
# mid-send) and the mail may be sent again. Longer than any send may take (EMAIL_TIMEOUT).
EMAIL_CLAIM_LEASE = dt.timedelta(minutes=10)
# Mails owed for less than this are left to the task queued with them (still under way).
EMAIL_RESEND_GRACE = dt.timedelta(minutes=5)
# Only mails owed this recently are sent late: older news would confuse more than help.
EMAIL_RESEND_WITHIN = dt.timedelta(days=3)
EMAIL_RESEND_BATCH = 200


def order_email_name(*, kind: str) -> str:
    """What staff call the mail ``kind`` takes (see :func:`order_email_send_again`), in their language."""
    email = ORDER_EMAILS.get(kind)
    return _(email.name) if email is not None else _(REFUND_EMAIL_NAME)


def order_email_send(*, order_id: int, kind: str) -> bool:
    """Send the order's ``kind`` e-mail unless it went out, is being sent, was refused by the
    mail server for good, or is no longer owed.

    Returns True when this call sent it. The mail is claimed first by a conditional UPDATE
    (committed before sending), so two workers given the same mail (a broker redelivery,
    a retry and the sweep) never both send it. A permanent refusal is recorded on the order
    and not raised (there is nothing to retry); any other failure is raised for the task's retry.
    """
    email = ORDER_EMAILS[kind]
    return _send_once(
        _owed(email), order_id, email, lambda: _email_render_and_send(order_id, email), f"{kind} e-mail of order"
    )


def order_refund_email_send(*, refund_email_id: int) -> bool:
    """Send the shopper the mail about one refund of their order, as :func:`order_email_send` sends
    the order's own: once, claimed first, a refusal for good recorded and not raised."""
    return _send_once(
        _refund_emails_owed(),
        refund_email_id,
        REFUND_EMAIL,
        lambda: _refund_email_render_and_send(refund_email_id),
        "refund e-mail",
    )


def _send_once(owed: QuerySet, pk: int, record: MailRecord, send: Callable[[], None], what: str) -> bool:
    """Claim the mail of row ``pk`` among ``owed``, ``send`` it, and record that it went (or was
    refused for good); False when it was not ours to send. Claim → send → record: see
    :func:`order_email_send`."""
    claimed_at = timezone.now()
    if not owed.filter(pk=pk).filter(_unclaimed(record, claimed_at)).update(**{record.claimed_field: claimed_at}):
        return False
    row = owed.model.objects.filter(pk=pk)
    try:
        send()
    except smtplib.SMTPException as exc:
        refusal = _permanent_refusal(exc)
        if refusal is None:
            _email_release(row, record, claimed_at)
            raise
        refusal = refusal[: owed.model._meta.get_field(record.refusal_field).max_length]
        # Written only while the claim is still ours: were it taken over (this send outlived
        # the lease), the worker now holding it records what the server says to that send.
        row.filter(**{record.claimed_field: claimed_at, f"{record.sent_field}__isnull": True}).update(
            **{record.refused_field: timezone.now(), record.refusal_field: refusal, record.claimed_field: None}
        )
        logger.warning("The mail server refused the %s %s for good: %s", what, pk, refusal)
        return False
    except BaseException:
        # Released so that the task's retry (or the sweep) sends it. A server that accepted
        # the mail before the connection dropped gets it a second time: we cannot tell that
        # from a mail it never got, and a confirmation twice is better than none.
        _email_release(row, record, claimed_at)
        raise
    # A process that dies right here, after the server took the mail, sends it again after
    # the lease: the same trade-off.
    row.filter(**{f"{record.sent_field}__isnull": True}).update(**{record.sent_field: timezone.now()})
    return True


def _email_release(row: QuerySet, record: MailRecord, claimed_at: dt.datetime) -> None:
    row.filter(**{record.claimed_field: claimed_at}).update(**{record.claimed_field: None})


def _owed(email: OrderEmail) -> QuerySet[Order]:
    """Orders in a state that owes the mail, which has neither gone out nor been refused for good."""
    # The first two conditions are those of the mail's partial index; refused mails are few.
    return Order.objects.filter(
        status__in=email.statuses,
        **{f"{email.sent_field}__isnull": True, f"{email.refused_field}__isnull": True},
    )


# The refusals that say this mail will never be taken: the recipient (no such mailbox) or the
# message. A 5xx to our own sender (MAIL FROM) or before the mail is named (the greeting, HELO,
# STARTTLS, the login) is about our server settings: recorded, it would drop every order's mail
# for good, so those are retried until the operator mends them.
_REFUSALS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError)


def _permanent_refusal(exc: smtplib.SMTPException) -> str | None:
    """The server's code and answer when it refused the mail for good (5xx), else None (4xx: try again)."""
    if not isinstance(exc, _REFUSALS):
        return None
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        answers = list(exc.recipients.values())
    else:
        answers = [(exc.smtp_code, exc.smtp_error)]
    # One recipient per order mail; were there more, one passing refusal is worth a retry.
    if not answers or not all(500 <= code <= 599 for code, _answer in answers):
        return None
    code, answer = answers[0]
    if isinstance(answer, bytes):
        answer = answer.decode("utf-8", errors="replace")
    return f"{code} {' '.join(str(answer).split())}"


def _unclaimed(record: MailRecord, now: dt.datetime) -> Q:
    """Nobody is sending it: never claimed, released, or claimed by a worker past its lease."""
    return Q(**{f"{record.claimed_field}__isnull": True}) | Q(
        **{f"{record.claimed_field}__lt": now - EMAIL_CLAIM_LEASE}
    )


def _refund_emails_owed() -> QuerySet[RefundEmail]:
    """Refund mails neither gone out nor refused for good (the conditions of their partial index)."""
    return RefundEmail.objects.filter(sent_at__isnull=True, refused_at__isnull=True)


def _order_link(order: Order) -> dict:
    """The order page's address, and whether the shopper signs in to see it: a guest sees their
    order only in the browser session that placed it (``order_for_viewer``), so the mail says so."""
    return {
        "order_url": settings.SITE_URL + reverse("orders:detail", args=[order.reference]),
        "guest": order.user_id is None,
    }


def _email_render_and_send(order_id: int, email: OrderEmail) -> None:
    """The mail in the shopper's language and formats, whatever language the worker runs in."""
    order = Order.objects.prefetch_related("lines__variant", "shipments").get(pk=order_id)
    locale = shopper_locale(language=order.language, country=order.country)
    with translation.override(order.language):
        context = {
            "order": order,
            # Each line with its count and which variant it is, written as the order page writes
            # them: that page takes the locale from the request, which a mail has not.
            "lines": [
                (
                    line,
                    format_count(line.quantity, locale),
                    variant_options_text(line.variant.attributes, locale=locale),
                )
                for line in order.lines.all()
            ],
            "total": format_money(order.total_minor, order.currency, locale),
            "eta": format_day(order.eta, locale),
            **order_delivery_address(order=order, language=order.language),
            # The shipped mail's, from the shipments prefetched above: no query more.
            "parcels": _parcels_for_text(order, locale),
            **_order_link(order),
        }
        body = render_to_string(f"orders/email/{email.template}.txt", context)
        subject = _(email.subject) % {"reference": order.reference}
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [order.email])


def _parcels_for_text(order: Order, locale: str) -> list[dict[str, str]]:
    """Each parcel's tracking number (as :func:`order_tracking_text_numbers` writes it) and, for an
    order split over warehouses, its own expected day (the order's, for one packed before parcels
    had their own): the shopper learns when each arrives, not only when the last does."""
    shipments = list(order.shipments.all())
    numbers = order_tracking_text_numbers(order=order, language=order.language)
    split = len(shipments) > 1
    return [
        {"tracking_number": number, "day": format_day(shipment.eta or order.eta, locale) if split else ""}
        for shipment, number in zip(shipments, numbers, strict=True)
    ]


def _refund_email_render_and_send(refund_email_id: int) -> None:
    """The refund's mail in the shopper's language and formats, with its amounts as of that refund."""
    refund_email = RefundEmail.objects.select_related("order").get(pk=refund_email_id)
    order = refund_email.order
    locale = shopper_locale(language=order.language, country=order.country)
    with translation.override(order.language):
        context = {
            "order": order,
            "amount": format_money(refund_email.amount_minor, refund_email.currency, locale),
            "total": format_money(order.total_minor, order.currency, locale),
            "refunded": format_money(refund_email.refunded_minor, refund_email.currency, locale),
            **_order_link(order),
        }
        body = render_to_string("orders/email/refund.txt", context)
        subject = _(REFUND_EMAIL_SUBJECT) % {"reference": order.reference}
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [order.email])


def orders_owed_email(*, kind: str, owed_since: dt.datetime, owed_before: dt.datetime) -> QuerySet[Order]:
    """Orders owed their ``kind`` e-mail since ``owed_since`` and before ``owed_before``, not sent,
    not refused for good and not being sent (a claim within the lease). Newest first: mails a
    mail server keeps putting off (4xx) do not hold up the others.

    Owed from the step that made it so, or from when staff asked to send it again after a
    refusal: an old order's mail sent again counts from then, so that it is not lost when its
    task could not be queued."""
    email = ORDER_EMAILS[kind]
    owed = (
        OrderEvent.objects.filter(order=OuterRef("pk"), to_status__in=email.owed_from, at__gte=owed_since)
        .filter(at__lt=owed_before)
        .exclude(from_status=F("to_status"))
    )
    asked_again = Q(**{f"{email.send_again_field}__gte": owed_since, f"{email.send_again_field}__lt": owed_before})
    return (
        _owed(email)
        .filter(_unclaimed(email, timezone.now()))
        .filter(Exists(owed) | asked_again)
        .order_by("-created_at", "-pk")
    )


def order_emails_send_missed(
    *,
    older_than: dt.timedelta = EMAIL_RESEND_GRACE,
    within: dt.timedelta = EMAIL_RESEND_WITHIN,
    limit: int = EMAIL_RESEND_BATCH,
) -> int:
    """Queue again the order e-mails (refund mails too) owed for ``older_than`` (up to ``within``)
    and not sent; returns how many.

    A mail whose queueing failed (the broker was down at the commit), whose task ran out of
    retries, or whose worker died mid-send would otherwise never go out; nor would the mail of
    a refund whose news never reached orders (written here from payments' record of it). At
    most ``limit`` a run; the next run takes the rest. Mails owed before ``within`` are not
    sent any more.
    """
    now = timezone.now()
    tried = queued = 0
    for kind in ORDER_EMAILS:
        owed = orders_owed_email(kind=kind, owed_since=now - within, owed_before=now - older_than)
        for order_id in list(owed.values_list("pk", flat=True)[: max(limit - tried, 0)]):
            tried += 1
            queued += _queue_email(kind, order_id)
    for refund_email_id in _refund_emails_write_missed(
        since=now - within, before=now - older_than, limit=max(limit - tried, 0)
    ):
        tried += 1
        queued += _queue_email("refund", refund_email_id)
    refunds = (
        _refund_emails_owed()
        .filter(_unclaimed(REFUND_EMAIL, now), owed_at__gte=now - within, owed_at__lt=now - older_than)
        .order_by("-owed_at", "-pk")
    )
    for refund_email_id in list(refunds.values_list("pk", flat=True)[: max(limit - tried, 0)]):
        tried += 1
        queued += _queue_email("refund", refund_email_id)
    return queued


def _refund_emails_write_missed(*, since: dt.datetime, before: dt.datetime, limit: int) -> list[int]:
    """Write the mail owed for each refund that payments recorded as succeeded between ``since``
    and ``before`` and orders never heard of (no ``RefundEmail``); the ids of those mails, at
    most ``limit``, newest first, to send now.

    ``payment_refunded`` is sent after payments' commit: a process that dies in between loses
    it, and no signal comes again. Four queries whatever the batch. A notice arriving meanwhile
    (or a second sweep) writes nothing twice: ``refund_id`` is unique, and a mail queued twice
    is sent once (:func:`_send_once`).
    """
    if limit <= 0:
        return []
    missed = list(
        payment_selectors.refunds_succeeded(changed_since=since, changed_before=before)
        .filter(~Exists(RefundEmail.objects.filter(refund_id=OuterRef("pk"))))
        .annotate(order_id=Subquery(Order.objects.filter(reference=OuterRef("order_reference")).values("pk")[:1]))
        .filter(order_id__isnull=False)
        .order_by("-updated_at", "-pk")
        .values_list("pk", "order_id", "order_reference", "amount_minor", "currency")[:limit]
    )
    if not missed:
        return []
    # The order's total refunded, across all its payments (a reference paid twice): the mail's
    # "refunded so far", as of now, when the mail is written.
    refunded = payment_selectors.refunded_minor_by_reference(order_references={row[2] for row in missed})
    RefundEmail.objects.bulk_create(
        [
            RefundEmail(
                order_id=order_id,
                refund_id=refund_id,
                amount_minor=amount_minor,
                currency=currency,
                refunded_minor=refunded.get(reference, amount_minor),
            )
            for refund_id, order_id, reference, amount_minor, currency in missed
        ],
        ignore_conflicts=True,
    )
    logger.warning("Refunds %s succeeded without a word to orders; their mails are sent now", [r[0] for r in missed])
    return list(
        _refund_emails_owed()
        .filter(_unclaimed(REFUND_EMAIL, timezone.now()), refund_id__in=[row[0] for row in missed])
        .order_by("-owed_at", "-pk")
        .values_list("pk", flat=True)
    )


def order_email_send_again(*, order: Order, kind: str, actor=None, email: str | None = None) -> Order:
    """Staff send again the order's ``kind`` e-mail, which the mail server refused for good.

    ``kind`` is one of :data:`ORDER_EMAILS`, or ``refund-<id>`` for the mail about one refund of
    the order (``selectors.order_emails_refused`` lists them). ``email`` is the address to send it to:
    the order's own when blank, else the corrected one, written on the order (every later mail
    goes there too). The same address is allowed (the shopper may have mended their mailbox).
    The refusal is cleared, who and when (and a changed address) go in the order's history, and
    the mail's task is queued after the commit: it sends as any other, and a new refusal is
    recorded as the first was. Refused, nothing written: an unknown ``kind``, or a refund mail
    of another order (``unknown_email``), a mail not refused (``not_refused``), one the order no
    longer owes (``not_owed``: cancelled, or delivered for the shipping e-mail; a refund's mail
    is always owed) and an address that is not one (``invalid_email``).
    """
    email_kind = ORDER_EMAILS.get(kind)
    refund_kind = _REFUND_KIND.fullmatch(kind) if isinstance(kind, str) else None
    if email_kind is None and refund_kind is None:
        raise ApplicationError(
            _("There is no such order e-mail."), code="unknown_email", fields={"kind": [str(kind)[:40]]}
        )
    address = (email or "").strip()
    if address:
        try:
            validate_email(address)
        except ValidationError:
            raise ApplicationError(
                _("Enter a valid e-mail address."), code="invalid_email", fields={"email": [address[:254]]}
            ) from None
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if email_kind is not None:
            changes, refusal = _order_email_refusal_clear(order, email_kind)
            task, row_id, what = kind, order.pk, f"{kind} e-mail"
        else:
            row_id, refusal, what = _refund_email_refusal_clear(order, int(refund_kind.group(1)), kind)
            changes, task = {}, "refund"
        note = f"{what} sent again after the mail server refused it ({refusal})"
        if address and address != order.email:
            note = f"{what} sent again to {address}, not {order.email} ({refusal})"
            changes["email"] = address
        for field, value in changes.items():
            setattr(order, field, value)
        if changes:
            order.save(update_fields=list(changes))
        _record(order, order.status, order.status, actor=actor, note=note)
        transaction.on_commit(lambda: _queue_email(task, row_id))
    return order


def _order_email_refusal_clear(order: Order, email_kind: OrderEmail) -> tuple[dict, str]:
    """The order's fields that send its refused mail again (order locked), and the refusal they clear."""
    name = _(email_kind.name)
    if getattr(order, email_kind.refused_field) is None:
        raise ApplicationError(
            # Translators: %(email)s names the mail: "Confirmation e-mail", "Shipping e-mail" or "Refund e-mail".
            _("%(email)s: the mail server did not refuse it; there is nothing to send again.") % {"email": name},
            code="not_refused",
            status=409,
        )
    if order.status not in email_kind.statuses:
        raise ApplicationError(
            # Translators: %(email)s names the mail: "Confirmation e-mail" or "Shipping e-mail".
            _("%(email)s: no longer sent, as the order is %(status)s.")
            % {"status": order.get_status_display(), "email": name},
            code="not_owed",
            status=409,
        )
    # Cleared and marked in one write: should the task not be queued after the commit (the
    # broker down), the sweep finds the mark and sends it, however old the order.
    changes = {
        email_kind.refused_field: None,
        email_kind.refusal_field: "",
        email_kind.send_again_field: timezone.now(),
    }
    return changes, getattr(order, email_kind.refusal_field)


def _refund_email_refusal_clear(order: Order, refund_email_id: int, kind: str) -> tuple[int, str, str]:
    """Clear the refusal of the order's refund mail ``refund_email_id`` (order locked): its id, the
    refusal cleared, and how the history names it."""
    refund_email = RefundEmail.objects.select_for_update().filter(pk=refund_email_id, order=order).first()
    if refund_email is None:
        raise ApplicationError(_("There is no such order e-mail."), code="unknown_email", fields={"kind": [kind[:40]]})
    if refund_email.refused_at is None:
        raise ApplicationError(
            _("%(email)s: the mail server did not refuse it; there is nothing to send again.")
            % {"email": _(REFUND_EMAIL_NAME)},
            code="not_refused",
            status=409,
        )
    # Owed again from now, as an order mail's ``send_again_field`` makes it: the sweep sends it
    # if its task cannot be queued, however old the refund.
    RefundEmail.objects.filter(pk=refund_email.pk).update(refused_at=None, refusal="", owed_at=timezone.now())
    return refund_email.pk, refund_email.refusal, f"refund {refund_email.refund_id} e-mail"


def _queue_email(task_name: str, row_id: int) -> bool:
    """Queue the e-mail's task (the order's id; a refund mail's own); False when it could not be
    (the sweep sends it later)."""
    # Imported here: tasks wrap services, so services only reach them at run time.
    from apps.orders import tasks

    task = {
        "confirmation": tasks.send_order_confirmation,
        "shipped": tasks.send_order_shipped,
        "refund": tasks.send_refund_email,
    }[task_name]
    try:
        task.delay(row_id)
    except Exception:
        # The broker is down, or (tasks run inline) the send failed: either way the sweep sends it.
        logger.exception("The %s e-mail %s was not queued; the sweep sends it later", task_name, row_id)
        return False
    return True


def order_record_refund(
    *,
    order_reference: str,
    refunded_minor: int,
    fully_refunded: bool,
    refund_id: int,
    amount_minor: int,
    currency: str,
    failed: bool = False,
    reason: str = "",
) -> None:
    """Payments refunded money (the provider confirmed it): keep the order's refunded total
    and owe the shopper a mail about this refund.

    The total is the order's, across all its payments (a reference paid twice has refunds on
    both), read from payments' record under the order lock (:func:`_refund_totals_set`); the
    signal's ``refunded_minor`` and ``fully_refunded`` are of this refund's payment alone and
    are not used: the order is refunded once everything paid for it is back. Idempotent: the
    total is set, and a second delivery of the news finds it there. The mail's "refunded so
    far" is that total too.

    The mail is written in the same transaction, once per refund (a replayed webhook or a
    second signal finds it), and its task queued after the commit; the sweep sends it if
    that fails. Even a refund signalled after a later one (the total moved past it) has its mail.

    ``failed``: the refund had succeeded and its provider now says it failed (``reason``):
    the refunded total goes down and the history says so; no mail (the one already sent
    stays sent). The status stays: no step leads back from refunded, and the money is owed
    again through ``selectors.order_refunds_owed``.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(reference=order_reference).first()
        if order is None:
            return
        changed = _refund_totals_set([order])
        if failed:
            if changed:
                why = f" ({reason})" if reason else ""
                _record(
                    order,
                    order.status,
                    order.status,
                    label="payment:refund",
                    note=(
                        f"refund {refund_id} of {_noted(amount_minor, order.currency)} failed after it succeeded{why}: "
                        f"{_noted(order.refunded_minor, order.currency)} refunded in all"
                    ),
                )
            return
        if amount_minor > 0:
            refund_email, owed = RefundEmail.objects.get_or_create(
                refund_id=refund_id,
                defaults={
                    "order": order,
                    "amount_minor": amount_minor,
                    "currency": currency,
                    "refunded_minor": order.refunded_minor,
                },
            )
            if owed:
                refund_email_id = refund_email.pk
                transaction.on_commit(lambda: _queue_email("refund", refund_email_id))
        if changed:
            ((_order, _refunded_before, status_before),) = changed
            note = f"refund {refund_id}: {_noted(order.refunded_minor, order.currency)} refunded in all"
            _record(order, status_before, order.status, label="payment:refund", note=note)


def _refund_totals_set(orders: list[Order]) -> list[tuple[Order, int, str]]:
    """Set each of ``orders`` (locked by the caller) to what payments' record says was refunded
    of it, across all its payments, and refunded once that is everything paid for it; saved,
    in a constant number of queries. Returns ``(order, refunded before, status before)`` for
    each one that changed.

    The one way an order's refunded total moves, for the signal and for the sweep that makes
    up for a lost one: both read the truth under the order lock, so whichever runs last sets
    the same total, and a repeat changes nothing. Only a total going up refunds the order;
    one going down (a refund failed after it succeeded) leaves the status: no step leads back.
    """
    references = [order.reference for order in orders]
    refunded = payment_selectors.refunded_minor_by_reference(order_references=references)
    paid = payment_selectors.paid_minor_by_reference(order_references=references)
    changed = []
    for order in orders:
        total = refunded.get(order.reference, 0)
        if total == order.refunded_minor:
            continue
        changed.append((order, order.refunded_minor, order.status))
        rising = total > order.refunded_minor
        order.refunded_minor = total
        if rising and total >= paid.get(order.reference, 0) > 0 and S.REFUNDED in ALLOWED.get(order.status, set()):
            order.status = S.REFUNDED
    if changed:
        Order.objects.bulk_update([order for order, _before, _status in changed], ["refunded_minor", "status"])
    for order, _before, status_before in changed:
        if order.status == S.REFUNDED and status_before in _NOT_YET_SHIPPED:
            # Refunded in full while its goods were still in the warehouse: they are for sale again.
            # Shipped ones come back only when returned.
            _back_on_sale(order)
    return changed


# Paid, and its goods still in the warehouse (packed or not): a full refund puts them back on sale.
_NOT_YET_SHIPPED = (S.PAID, S.FULFILLED)


# A refund's news reaches orders right after payments' commit: one younger than this may still
# be on its way, and is left to it (the sweep would otherwise report drift that is not there).
REFUND_TOTALS_GRACE = dt.timedelta(minutes=5)
# Refunds settled this recently are checked on each run: the sweep runs every few minutes, so a
# lost notice is caught long before; the window bounds each run's reading, and outlasts a beat
# stopped over a weekend.
REFUND_TOTALS_WITHIN = dt.timedelta(days=3)
REFUND_TOTALS_BATCH = 200


def order_refund_totals_reconcile(
    *,
    older_than: dt.timedelta = REFUND_TOTALS_GRACE,
    within: dt.timedelta = REFUND_TOTALS_WITHIN,
    limit: int = REFUND_TOTALS_BATCH,
) -> int:
    """Set right the refunded total (and status) of orders whose refunds payments settled
    between ``within`` and ``older_than`` ago and whose total differs from their payments'
    record; returns how many it changed.

    ``payment_refunded`` is sent after payments' commit: a process that dies in between loses
    it, and no signal comes again, so the order would show too little refunded (or, a failure
    after success lost, too much) for good. The mail sweep writes that refund's mail; this
    writes its total, through :func:`_refund_totals_set` as the signal does, under the order
    locks (taken in primary-key order), with a history entry and a warning per order. At most
    ``limit`` orders a run, in a constant number of queries; the next run takes the rest. A
    notice arriving meanwhile, or a second run, finds nothing left to change.
    """
    if limit <= 0:
        return 0
    now = timezone.now()
    changed_refunds = payment_selectors.refunds_changed(changed_since=now - within, changed_before=now - older_than)
    drifted = list(
        Order.objects.filter(reference__in=changed_refunds.values("order_reference"))
        .annotate(payments_refunded=payment_selectors.refunded_minor_of(order_reference=OuterRef("reference")))
        .exclude(refunded_minor=F("payments_refunded"))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    if not drifted:
        return 0
    with transaction.atomic():
        orders = list(Order.objects.select_for_update().filter(pk__in=drifted).order_by("pk"))
        changed = _refund_totals_set(orders)
        OrderEvent.objects.bulk_create(
            [
                OrderEvent(
                    order=order,
                    from_status=status_before,
                    to_status=order.status,
                    actor_label="payment:refund",
                    note=(
                        f"refunded in all {_noted(order.refunded_minor, order.currency)}, not "
                        f"{_noted(refunded_before, order.currency)}: from payments' refunds, their notice was lost"
                    )[:255],
                )
                for order, refunded_before, status_before in changed
            ]
        )
    for order, refunded_before, status_before in changed:
        logger.warning(
            "Order %s showed %s (minor units) refunded, its payments' refunds say %s (drift %+d); set from them (%s -> %s)",
            order.reference,
            refunded_before,
            order.refunded_minor,
            order.refunded_minor - refunded_before,
            status_before,
            order.status,
        )
    return len(changed)


# --- lifecycle ----------------------------------------------------------------------------


def _transition(order: Order, to: str, *, actor=None, label: str = "", note: str = "") -> None:
    if to not in ALLOWED.get(order.status, set()):
        raise ApplicationError(
            # Status labels are adjectives and phrases ("awaiting payment", "packed and ready to ship"): this
            # wording reads well with any of them on either side.
            _("This order is %(status)s; it cannot move to “%(target)s”.")
            % {"status": order.get_status_display(), "target": S(to).label},
            code="illegal_transition",
            status=409,
        )
    before = order.status
    order.status = to
    order.save(update_fields=["status"])
    _record(order, before, to, actor=actor, label=label, note=note)


def _release(order: Order) -> None:
    """Free the order's held units (caller holds the order lock) and give gated ones back to the gate."""
    reservations = list(order.reservations.select_for_update().filter(status=Reservation.Status.HELD))
    if not reservations:
        return
    Reservation.objects.filter(pk__in=[r.pk for r in reservations]).update(status=Reservation.Status.RELEASED)
    _give_back_to_gate(reservations)


def _give_back_to_gate(reservations: list[Reservation]) -> None:
    """Once committed, the units of reservations that came through the flash-sale gate go back to it."""
    back: dict[int, int] = defaultdict(int)
    for r in reservations:
        if r.gated:
            back[r.stock.variant_id] += r.quantity
    if not back:
        return

    def give_back() -> None:
        for variant_id, quantity in back.items():
            gate.give_back(variant_id, quantity)

    transaction.on_commit(give_back)


def _back_on_sale(order: Order) -> None:
    """What an order that will never reach its shopper took goes back (caller holds the order lock):
    cancelled after payment or refused at the door, or refunded in full before it shipped.

    Its sold units are restocked, and counted by a flash-sale gate still open (or it turns buyers
    away from stock the database has until the reconcile repairs it); its use of a limited coupon
    is given back. Each order reaches "cancelled" or "refunded" once, and never both: once.
    """
    sold = list(order.reservations.filter(status=Reservation.Status.SOLD).select_related("stock"))
    if sold:
        back: dict[int, int] = defaultdict(int)
        for r in sold:
            back[r.stock_id] -= r.quantity
        catalog.stock_sell(sold=dict(back))
        Reservation.objects.filter(pk__in=[r.pk for r in sold]).update(status=Reservation.Status.RELEASED)
        _give_back_to_gate(sold)
    _coupon_give_back(order)


def _paid_and_on_its_way(order: Order) -> bool:
    # Packed or shipped and paid: refunded if it must be, never cancelled (only an unpaid,
    # cash-on-delivery parcel is cancelled once packed).
    return order.status in (S.FULFILLED, S.SHIPPED) and order.paid_at is not None


def order_cancel(*, order: Order, actor=None, label: str = "", note: str = "", reopen_cart: bool = False) -> Order:
    """Cancel: unpaid orders release their reservation; paid ones are refunded and restocked.

    Whatever was paid goes back, exactly once: within the cancel's own transaction the whole
    amount no refund covers yet is written as one pending refund (a partial refund still
    waiting for its provider keeps its own), and an authorization nobody will capture is
    marked to be voided. After the commit they are sent; the cancel stands whatever their
    fate. One the provider could not take waits for the retry sweep
    (``payments.refunds_retry_unsettled``), with its own deterministic key; one it declined
    is recorded as failed and the money stays with us (``order_refunds_owed``) until staff
    return it (:func:`order_refund_settle_outside`).
    """
    refund_ids: list[int] = []
    void_ids: list[int] = []
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        was = order.status
        if _paid_and_on_its_way(order):
            raise ApplicationError(
                _("A paid order that is on its way is refunded, not cancelled."), code="illegal_transition", status=409
            )
        _transition(order, S.CANCELLED, actor=actor, label=label, note=note)
        if was == S.CREATED:
            _release(order)
            _coupon_give_back(order)
        else:
            _back_on_sale(order)
            if payment_selectors.payment_paid_for_reference(order_reference=order.reference) is None:
                # Cash on delivery, cancelled before the courier collected: nothing to collect now.
                collect = payment_selectors.payment_open_for_reference(order_reference=order.reference)
                if collect is not None:
                    payments.payment_void_request(payment_id=collect.pk)
        refund_ids, void_ids = _payments_owed_back(order)
        if reopen_cart:
            _cart_give_back(order)
    _send_owed_back(order, refund_ids=refund_ids, void_ids=void_ids)
    return order


def _payments_owed_back(order: Order) -> tuple[list[int], list[int]]:
    """Within a cancel (or an expiry): write what each payment of ``order`` owes back; the (refund, void)
    payment ids to send once it has committed.

    Every captured payment, not only the first: a reference paid twice (a stale tab) owes both.
    An authorization (a manual-capture intent; its order never became paid) is voided, not
    refunded: nothing was taken, and a refund of it would be refused. So is an intent still open
    at its provider (Stripe's 3-D Secure under way): left open, the shopper could finish it after
    the cancel and be charged for an order that is gone. A PayPal order not yet approved is left
    as it is: PayPal has no void for it (``payments.selectors.payment_voids_at_provider``).
    """
    refund_ids, void_ids = [], []
    for payment in payment_selectors.payments_for_reference(order_reference=order.reference):
        if payment.status == PaymentStatus.AUTHORIZED or payment_selectors.payment_voids_at_provider(payment=payment):
            payments.payment_void_request(payment_id=payment.pk)
            void_ids.append(payment.pk)
        elif payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED):
            payments.payment_refund_remaining(payment_id=payment.pk, reason="order cancelled")
            # Sent even when nothing new was written: an earlier refund may still wait for its provider.
            refund_ids.append(payment.pk)
    return refund_ids, void_ids


def _send_owed_back(order: Order, *, refund_ids: list[int], void_ids: list[int]) -> None:
    """After the commit: the voids and refunds :func:`_payments_owed_back` wrote go to their providers.

    The cancel stands whatever their fate: one a provider cannot take now waits for the sweep.
    """
    for payment_id in void_ids:
        _void_quietly(order, payment_id)
    for payment_id in refund_ids:
        _send_refunds_of_cancelled(order, payment_id)


def _void_quietly(order: Order, payment_id: int) -> None:
    """Void a cancelled order's authorization or open intent now; a provider that cannot leaves it to the sweep."""
    try:
        payments.payment_cancel(payment_id=payment_id)
    except ApplicationError as exc:
        # The shopper's cancel went through: the payment is marked, and the retry sweep
        # (``payments.refunds_retry_unsettled``) voids it once the provider answers.
        logger.warning("Order %s cancelled; the void of payment %s waits: %s", order.reference, payment_id, exc.code)


def _send_refunds_of_cancelled(order: Order, payment_id: int) -> None:
    try:
        payments.payment_refunds_send(payment_id=payment_id)
    except ApplicationError as exc:
        provider = payment_selectors.payment_get(payment_id=payment_id).provider
        if exc.code == "refund_declined":
            # The cancellation stands (its units are on sale again) and the refund is recorded
            # as failed; nothing sends it again, so the money must go back another way. Raising
            # now would tell the operator the cancel failed: the caller shows the money still
            # held instead (``order_refunds_owed``), and the history keeps the provider's reason.
            logger.error("Order %s cancelled but %s declined its refund: %s", order.reference, provider, exc.message)
            _record(
                order,
                order.status,
                order.status,
                label="payment:refund",
                note=f"refund declined by {provider}: {exc.message}",
            )
            return
        if exc.code != "provider_unavailable":
            # Not the shopper's nor the operator's to fix, and the cancel stands: said to operators.
            logger.error("Order %s cancelled; refunds of payment %s refused: %s", order.reference, payment_id, exc.code)
            return
        # The refunds are written, pending: the retry sweep sends them once the provider
        # answers. The caller shows the refund still owed (``refunds_unsettled``), not an error.
        logger.warning("Order %s cancelled; its refund waits for %s to answer", order.reference, provider)


def order_release_expired(*, order_id: int) -> bool:
    """Cancel one unpaid order whose reservation ran out; True when it did.

    A provider's "processing" or "succeeded" webhook may be lost: before an order with a
    payment its provider knows is cancelled, the provider is asked, outside the order's
    lock (a slow provider must not hold it), and its answer recorded like a webhook's. A
    provider that cannot be asked keeps the order for the next sweep, but only within
    ``ORDERS_PAYMENT_IN_PROGRESS_DAYS`` of its reservation's end; after that it expires as
    any other.

    What its payments hold goes back as on a cancel (:func:`_payments_owed_back`): an
    authorization nobody captured (a Stripe intent in ``requires_capture``), or an intent the
    shopper has not completed (``requires_action``), is voided after the commit with the key
    ``order:<ref>:void``, or by the retry sweep while its provider cannot be reached; money
    that arrived regardless is refunded. The shopper's cart opens again (:func:`_cart_give_back`).
    """
    order = orders_expired().filter(pk=order_id).only("reference", "reserved_until").first()
    if order is None:
        return False
    bound = timezone.now() - dt.timedelta(days=settings.ORDERS_PAYMENT_IN_PROGRESS_DAYS)
    if order.reserved_until >= bound and not payments.payments_ask_providers(order_reference=order.reference):
        logger.info("Order %s kept: its payment provider could not be asked; the next sweep asks", order.reference)
        return False
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        # The same test as the sweep's, under the order lock: a payment that went under way at
        # the provider since the sweep read the order keeps it.
        if order is None or not orders_expired().filter(pk=order.pk).exists():
            return False
        _transition(order, S.CANCELLED, label="system:expiry", note="reservation expired")
        _release(order)
        _coupon_give_back(order)
        _cart_give_back(order)
        refund_ids, void_ids = _payments_owed_back(order)
    _send_owed_back(order, refund_ids=refund_ids, void_ids=void_ids)
    return True


def _cart_give_back(order: Order) -> None:
    """The cancelled ``order``'s cart opens again with its lines (caller holds the order lock): when
    its reservation ran out, and when its payment failed (``order_cancel(reopen_cart=True)``), the
    shopper finds what they chose.

    A signed-in shopper has one open cart (``one_open_cart_per_user``). One with none (looking
    at the cart opens none) finds the order's open again; one whose open cart is empty (a newer
    one whose lines they removed, say) finds the lines moved into it; one who has put things in a
    newer cart keeps that cart as it is, and the order's stays closed.
    An anonymous shopper's opens again whatever their session now points at: a newer cart of
    theirs is the one the session finds.
    """
    cart = Cart.objects.select_for_update().filter(order=order).first()
    if cart is None:
        return
    current = None
    if cart.user_id is not None:
        current = Cart.objects.select_for_update().filter(user_id=cart.user_id, status=Cart.Status.OPEN).first()
    if current is None:
        try:
            with transaction.atomic():
                Cart.objects.filter(pk=cart.pk).update(status=Cart.Status.OPEN, order=None)
        except IntegrityError:
            # The shopper opened a cart since the look above: theirs it stays; the cancel stands.
            return
        _cart_count_changed((cart.pk, cart.user_id))
    elif not current.lines.exists():
        CartLine.objects.filter(cart=cart).update(cart=current)
        _cart_count_changed((cart.pk, cart.user_id), (current.pk, current.user_id))


def reservations_expire() -> int:
    """Cancel unpaid orders whose reservation ran out; their units go back on sale. Returns the count."""
    released = 0
    for order_id in list(orders_expired().values_list("pk", flat=True)[:1000]):
        try:
            released += order_release_expired(order_id=order_id)
        except Exception:
            # One order's trouble (an odd provider answer, a bug) must not keep the others'
            # stock held: the next sweep tries it again.
            logger.exception("Expiry of order %s failed; the next sweep tries again", order_id)
    return released


def order_refund(
    *, order: Order, amount_minor: int | None = None, actor=None, locale: str | None = None
) -> payments.Refund:
    """Refund all or part of a paid order through its payment; the order's history keeps who asked.

    The settlement is recorded by :func:`order_record_refund` (the payment's signal), without
    a person: the event written here is the staff member's, once the refund exists, also when
    the provider could not be reached and the refund waits, pending, for the retry sweep. That
    case still raises ``provider_unavailable`` (nothing is refunded yet), worded for staff:
    the refund is sent again, there is nothing to retry by hand. Refusals say amounts in ``locale``
    (the staff member's ``request.shopper.locale``).
    """
    payment = _paid_payment(order)
    if payment is None:
        raise ApplicationError(_("This order has nothing to refund."), code="not_refundable", status=409)
    waiting = False
    try:
        refund = payments.payment_refund(
            payment_id=payment.pk, amount_minor=amount_minor, reason=f"by {actor or 'staff'}", locale=locale
        )
    except ApplicationError as exc:
        if exc.code != "provider_unavailable":
            raise
        # Payments word this for a shopper ("try another method"); staff are told what
        # becomes of the refund instead, with the same code (the caller tells them apart by it).
        refund = payment_selectors.refunds_unsettled(order_reference=order.reference).last()
        if refund is None:
            # Settled by a concurrent ask meanwhile: another one now could refund twice.
            raise ApplicationError(
                _("The payment provider is not answering right now; look at the order's refunds before asking again."),
                code="provider_unavailable",
                fields=exc.fields,
                status=503,
            ) from exc
        waiting = True
        error = ApplicationError(
            _(
                "The payment provider is not answering, so the refund is not made yet: "
                "it is sent again every 15 minutes until the provider takes it."
            ),
            code="provider_unavailable",
            fields=exc.fields,
            status=503,
        )
    # A full refund may have moved the order on meanwhile: the event shows where it is now.
    order.refresh_from_db(fields=["status"])
    note = f"refund {refund.pk} of {_noted(refund.amount_minor, order.currency)} asked"
    _record(order, order.status, order.status, actor=actor, note=note + ("; provider unavailable" if waiting else ""))
    if waiting:
        raise error
    return refund


def order_refund_settle_outside(
    *, order: Order, amount_minor: int, note: str, actor=None, locale: str | None = None
) -> list[payments.Refund]:
    """Staff returned a cancelled or refunded order's refund owed another way (a bank transfer): record it.

    For the money ``order_refunds_owed`` shows as held (refunds the provider declined, or that
    failed after the provider said they succeeded): it is
    recorded as refunded outside the provider, with who, when and ``note`` (how it was paid
    back) on the refund and in the order's history; "Refund owed" is gone and no sweep ever
    sends it. ``amount_minor`` is the amount staff saw and returned; refused (``owed_changed``)
    if the owed amount is another by now, saying it in money in ``locale`` (the staff member's
    ``request.shopper.locale``) and in minor units (``fields.owed_minor``, for API clients), and
    (``not_owed``) when nothing is owed.
    """
    note = payments.refund_outside_note_clean(note)
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        held = order_refunds_held(order=order)
        total = sum(owed for _payment, owed in held)
        if not total:
            raise ApplicationError(
                _("This order owes the customer no refund that could be recorded as returned another way."),
                code="not_owed",
                status=409,
            )
        if amount_minor != total:
            raise ApplicationError(
                _("The refund owed has changed since you looked; look at the order again before recording it."),
                code="owed_changed",
                fields={
                    "amount_minor": [
                        _("The refund owed is now %(amount)s.")
                        % {"amount": format_money(total, order.currency, locale or reader_locale())}
                    ],
                    "owed_minor": [str(total)],
                },
                status=409,
            )
        by = (getattr(actor, "email", "") if actor is not None else "") or "staff"
        refunds = [
            payments.payment_refund_settle_outside(payment_id=payment.pk, amount_minor=owed, note=note, by=by)
            for payment, owed in held
        ]
        numbers = ", ".join(str(r.pk) for r in refunds)
        providers = ", ".join(sorted({payment.provider for payment, _owed in held}))
        _record(
            order,
            order.status,
            order.status,
            actor=actor,
            note=f"refund {numbers} of {_noted(total, order.currency)} returned outside {providers}: {note}",
        )
    return refunds


def order_next_steps(*, order: Order, merchant_ids: Collection[int] | None = None) -> list[str]:
    """The steps staff may take on ``order`` now: fulfil, ship, deliver, cancel, refund.

    With ``merchant_ids`` (merchant staff, see :func:`order_take_step`): fulfil while units
    of the order leaving their warehouses have no parcel yet (:func:`order_fulfil` packs
    their part only), ship and deliver while one of their parcels waits for that step.
    """
    if merchant_ids is not None:
        theirs = shipments_for_staff(scope=merchant_ids).filter(order=order)
        steps = []
        if S.FULFILLED in ALLOWED.get(order.status, set()) and _warehouses_to_pack(order, merchant_ids):
            steps.append("fulfil")
        if order.status == S.FULFILLED and theirs.filter(shipped_at__isnull=True).exists():
            steps.append("ship")
        if _parcels_on_their_way(order, theirs).exists():
            steps.append("deliver")
        return steps
    allowed = ALLOWED.get(order.status, set())
    steps = []
    if S.FULFILLED in allowed:
        steps.append("fulfil")
    if order.status == S.FULFILLED:
        steps.append("ship")
    if S.DELIVERED in allowed:
        steps.append("deliver")
    if S.CANCELLED in allowed and not _paid_and_on_its_way(order):
        steps.append("cancel")
    if order_refundable_minor(order=order) > 0:
        steps.append("refund")
    return steps


ORDER_STEPS = ("fulfil", "ship", "deliver", "cancel", "refund")
# What merchant staff do with their own parcels (an order holds every merchant whose products
# are in it, so each packs their own part); cancelling and refunding (money, the whole order)
# stays with operators.
MERCHANT_STEPS = ("fulfil", "ship", "deliver")


def order_take_step(
    *,
    order: Order,
    step: str,
    actor,
    tracking_numbers: Mapping[int, str] | None = None,
    amount_minor: int | None = None,
    note: str = "",
    merchant_ids: Collection[int] | None = None,
    locale: str | None = None,
) -> Order:
    """Staff take one of :func:`order_next_steps` (the admin page and the API alike).

    ``ship`` takes tracking numbers by shipment id (at least one, for shipments of this
    order not yet shipped); ``refund`` an amount in minor units (None: everything left);
    ``cancel`` a note. Anything else about the step is refused by the step's own service.

    ``merchant_ids`` (``selectors.order_scope``) is set for merchant staff: they pack their
    merchants' part of the order, ship the parcels leaving their warehouses and mark them
    delivered (:data:`MERCHANT_STEPS`), nothing else; a tracking number for anybody else's
    parcel is refused before anything is written. ``None``: an operator, every step.
    ``locale`` (the staff member's ``request.shopper.locale``) is the one a refused refund's amounts are said in.
    """
    if step not in ORDER_STEPS:
        raise ApplicationError(
            _("Unknown step; valid steps: %(steps)s.") % {"steps": ", ".join(ORDER_STEPS)},
            code="unknown_step",
            fields={"step": [str(step)[:40]]},
            status=404,
        )
    if merchant_ids is not None and step not in MERCHANT_STEPS:
        raise ApplicationError(
            _("Merchant staff pack, ship and deliver their own part of an order; operators cancel and refund."),
            code="permission_denied",
            fields={"step": [step]},
            status=403,
        )
    if step == "fulfil":
        order_fulfil(order=order, actor=actor, merchant_ids=merchant_ids)
    elif step == "ship":
        if order.status != S.FULFILLED:
            raise ApplicationError(_("Only a packed order can be shipped."), code="illegal_transition", status=409)
        entered = {pk: (number or "").strip() for pk, number in (tracking_numbers or {}).items()}
        parcels = order.shipments.all()
        if merchant_ids is not None:
            parcels = shipments_for_staff(scope=merchant_ids).filter(order=order)
            theirs = set(parcels.values_list("pk", flat=True))
            others = sorted(pk for pk in entered if pk not in theirs)
            if others:
                raise ApplicationError(
                    _("You can only ship parcels leaving your own warehouses."),
                    code="not_your_shipment",
                    fields={
                        "tracking_numbers": [
                            # Translators: %(shipment)s is a shipment's number, as the staff member sent it.
                            _("Not one of yours: %(shipment)s") % {"shipment": pk}
                            for pk in others
                        ]
                    },
                    status=403,
                )
        unshipped = {s.pk: s for s in parcels.filter(shipped_at__isnull=True)}
        strangers = sorted(str(pk) for pk in entered if pk not in unshipped)
        if strangers or not any(entered.values()):
            raise ApplicationError(
                _("Enter the tracking number."),
                code="invalid_tracking",
                fields={
                    "tracking_numbers": [
                        # Translators: %(shipment)s is a shipment's number, as the staff member sent it.
                        _("Not a shipment of this order waiting to ship: %(shipment)s") % {"shipment": pk}
                        for pk in strangers
                    ]
                },
            )
        for pk, number in entered.items():
            if number:
                shipment_ship(shipment=unshipped[pk], tracking_number=number, actor=actor)
    elif step == "deliver" and merchant_ids is not None:
        theirs = shipments_for_staff(scope=merchant_ids).filter(order=order)
        shipments_deliver(
            order=order,
            shipment_ids=list(_parcels_on_their_way(order, theirs).values_list("pk", flat=True)),
            actor=actor,
        )
    elif step == "deliver":
        order_deliver(order=order, actor=actor)
    elif step == "cancel":
        order_cancel(order=order, actor=actor, note=(note or "")[:255])
    else:
        order_refund(order=order, amount_minor=amount_minor, actor=actor, locale=locale)
    order.refresh_from_db()
    return order


def order_refundable_minor(*, order: Order) -> int:
    """What may still be refunded on ``order`` (0 when it was never paid): of the payment that paid
    it; another that paid it again is given back whole without asking (``order_mark_paid``)."""
    payment = _paid_payment(order)
    return payment_selectors.payment_refundable_minor(payment=payment) if payment is not None else 0


def _paid_payment(order: Order):
    """The payment that paid ``order``, while the order is in a status that may be refunded.

    Not the reference's first paid payment: a later attempt may have paid first (a second tab),
    and the earlier one, paid after it, is the one given back."""
    if order.status not in (S.PAID, S.FULFILLED, S.SHIPPED, S.DELIVERED):
        return None
    payment_id = _paid_by_payment_id(order)
    return payment_selectors.payment_get(payment_id=payment_id) if payment_id is not None else None


def _warehouses_to_pack(order: Order, merchant_ids: Collection[int] | None = None) -> dict[int, str]:
    """``{warehouse id: name}`` that units sold on ``order`` leave from and that have no parcel
    yet; with ``merchant_ids``, only those merchants' warehouses."""
    sold = order.reservations.filter(status=Reservation.Status.SOLD).exclude(
        stock__warehouse_id__in=order.shipments.values("warehouse_id")
    )
    if merchant_ids is not None:
        sold = sold.filter(stock__warehouse__merchant_id__in=list(merchant_ids))
    return dict(sold.values_list("stock__warehouse_id", "stock__warehouse__name").distinct())


@transaction.atomic
def order_fulfil(*, order: Order, actor=None, merchant_ids: Collection[int] | None = None) -> list[Shipment]:
    """Paid (or confirmed for cash on delivery) → fulfilled: one shipment per warehouse the units come from.

    Returns the shipments this call created. Merchant staff (``merchant_ids``, see
    :func:`order_take_step`) pack their part: the parcels leaving their own warehouses. While
    another merchant's part of the order is still to pack, the order stays as it is (packing
    is recorded in its history) and their parcels wait; the last part packed fulfils it.
    Operators (``None``) pack whatever is left. Refused (``illegal_transition``) when the order
    is not waiting to be packed, or the merchant's part is packed already.
    """
    order = Order.objects.select_for_update().get(pk=order.pk)
    if S.FULFILLED not in ALLOWED.get(order.status, set()):
        if order.shipments.exists():
            raise ApplicationError(_("This order is packed already."), code="illegal_transition", status=409)
        _transition(order, S.FULFILLED, actor=actor)  # refuses, worded as any step out of turn
    to_pack = _warehouses_to_pack(order, merchant_ids)
    if merchant_ids is not None and not to_pack:
        raise ApplicationError(_("Your part of this order is packed already."), code="illegal_transition", status=409)
    handling = dict(Warehouse.objects.filter(pk__in=list(to_pack)).values_list("pk", "handling_days"))
    shipments = [
        Shipment.objects.create(
            order=order,
            warehouse_id=wid,
            warehouse_name=name,
            eta=parcel_eta(order=order, handling_days=handling.get(wid, DEFAULT_HANDLING_DAYS)),
        )
        for wid, name in sorted(to_pack.items())
    ]
    if merchant_ids is not None and _warehouses_to_pack(order):
        where = ", ".join(s.warehouse_name for s in shipments)
        _record(order, order.status, order.status, actor=actor, note=f"parcel from {where} packed")
    else:
        _transition(order, S.FULFILLED, actor=actor)
    return shipments


def shipment_ship(*, shipment: Shipment, tracking_number: str, actor=None) -> Shipment:
    """A shipment left with its tracking number; when all have, the order is shipped."""
    tracking_number = (tracking_number or "").strip()
    if not tracking_number or len(tracking_number) > 60:
        raise ApplicationError(_("Enter the tracking number."), code="invalid_tracking", fields={"tracking_number": []})
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=shipment.order_id)
        if order.status != S.FULFILLED:
            raise ApplicationError(_("Only a packed order can be shipped."), code="illegal_transition", status=409)
        shipment = Shipment.objects.select_for_update().get(pk=shipment.pk)
        shipment.tracking_number = tracking_number
        shipment.shipped_at = timezone.now()
        shipment.save(update_fields=["tracking_number", "shipped_at"])
        if not order.shipments.filter(shipped_at__isnull=True).exists():
            _transition(order, S.SHIPPED, actor=actor, note=tracking_number)
            order_id = order.pk
            transaction.on_commit(lambda: _queue_email("shipped", order_id))
        else:
            # Parcels of one order leave several merchants' warehouses on different days:
            # each one is on the record with who sent it.
            _record(
                order,
                order.status,
                order.status,
                actor=actor,
                note=f"parcel from {shipment.warehouse_name} shipped: {tracking_number}",
            )
    return shipment


def _parcels_on_their_way(order: Order, shipments: QuerySet[Shipment]) -> QuerySet[Shipment]:
    """Of ``shipments``, those that left and have not arrived, while ``order`` is on its way."""
    if order.status not in (S.FULFILLED, S.SHIPPED):
        return shipments.none()
    return shipments.filter(shipped_at__isnull=False, delivered_at__isnull=True)


def shipments_deliver(*, order: Order, shipment_ids: Collection[int], actor=None) -> Order:
    """Parcels of ``order`` arrived; when every parcel has, the order is delivered.

    The per-parcel form of :func:`order_deliver`, for merchants who each bring their own.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        wanted = set(shipment_ids)
        arrived = list(
            _parcels_on_their_way(order, order.shipments.select_for_update()).filter(pk__in=wanted).order_by("pk")
        )
        if not wanted or len(arrived) != len(wanted):
            raise ApplicationError(
                _("Only a parcel that is on its way can be delivered."), code="illegal_transition", status=409
            )
        now = timezone.now()
        Shipment.objects.filter(pk__in=[s.pk for s in arrived]).update(delivered_at=now)
        where = ", ".join(s.warehouse_name for s in arrived)
        if order.status == S.SHIPPED and not order.shipments.filter(delivered_at__isnull=True).exists():
            _transition(order, S.DELIVERED, actor=actor, note=f"parcel from {where} delivered")
        else:
            _record(order, order.status, order.status, actor=actor, note=f"parcel from {where} delivered")
    if order.status == S.DELIVERED:
        _collect_on_delivery(order)
    return order


def order_deliver(*, order: Order, actor=None) -> Order:
    """Shipped → delivered; for cash on delivery, the courier's cash is recorded as the payment."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        _transition(order, S.DELIVERED, actor=actor)
        order.shipments.filter(delivered_at__isnull=True).update(delivered_at=timezone.now())
    _collect_on_delivery(order)
    return order


def _collect_on_delivery(order: Order) -> None:
    """Cash on delivery: the courier's cash, recorded as the payment once the order is delivered."""
    if order.paid_at is None:
        collect = payment_selectors.payment_open_for_reference(order_reference=order.reference)
        if collect is not None and collect.next_action == NextAction.COLLECT_ON_DELIVERY:
            # After the delivery is committed: the capture (no network for cash on delivery)
            # cannot undo it.
            payments.payment_capture(payment_id=collect.pk)
            order.refresh_from_db()


# A delivery's own capture runs within moments of its commit; the sweep leaves it that long.
COD_COLLECT_GRACE = dt.timedelta(minutes=1)


def cash_on_delivery_collect_missed(*, older_than: dt.timedelta = COD_COLLECT_GRACE) -> int:
    """Record the courier's cash of delivered orders whose capture never ran; returns how many.

    Delivery commits before its capture (``_collect_on_delivery``), so a process that dies
    or a capture that fails in between leaves money the courier took off the books, and
    nothing else would try again. Orders delivered within ``older_than`` are left to their
    delivery, still under way; should both run, capture locks the payment and collects once.
    """
    collected = 0
    cutoff = timezone.now() - older_than
    for order in orders_delivered_with_cash_uncollected(delivered_before=cutoff):
        try:
            _collect_on_delivery(order)
            if order.paid_at is None:
                _mark_collected_cash_paid(order)
        except Exception:
            # One order's trouble (a locked row, a refused capture) must not keep the others off the books.
            logger.exception("Cash on delivery of order %s not recorded; the next sweep tries again", order.reference)
            continue
        if order.paid_at is not None:
            collected += 1
    return collected


def _mark_collected_cash_paid(order: Order) -> None:
    """The cash was captured but the order never heard (its ``payment_succeeded`` receiver failed)."""
    paid = payment_selectors.payment_paid_for_reference(order_reference=order.reference)
    if paid is None:
        return
    order_mark_paid(
        order_reference=order.reference,
        amount_minor=paid.captured_minor,
        currency=paid.currency,
        provider=paid.provider,
        payment_id=paid.pk,
    )
    order.refresh_from_db()


# --- flash sale gate ----------------------------------------------------------------------


def flash_sale_open(*, variant_id: int) -> int:
    """Open the Redis gate for a variant pinned in a flash sale, with what the database has free."""
    available = available_units([variant_id])[variant_id]
    gate.open_gate(variant_id, available)
    return available


def flash_sale_close(*, variant_id: int) -> None:
    gate.close_gate(variant_id)


def flash_sales_open(*, variant_ids: Collection[int]) -> dict[int, int]:
    """Open the gate of each of ``variant_ids`` that has none (a live show pinned them), with what
    the database has free; returns those opened and their units.

    A gate already open keeps its count: its admissions in flight are counted there, and
    opening it afresh would offer their units a second time (the reconcile keeps it right).
    """
    if gate.client() is None:
        return {}
    wanted = sorted(set(variant_ids))
    already = gate.gated_variants(wanted)
    return {v: flash_sale_open(variant_id=v) for v in wanted if v not in already}


def flash_sales_close(*, variant_ids: Collection[int]) -> None:
    """Close the gates of ``variant_ids`` (no live show pins them any more); checkout counts their units in PostgreSQL."""
    for variant_id in sorted(set(variant_ids)):
        flash_sale_close(variant_id=variant_id)


def flash_sale_reconcile(*, variant_id: int) -> int | None:
    """Compare the gate with the database and repair drift (logged). Returns the drift."""
    with transaction.atomic():
        # Locking the stock rows keeps checkouts of this variant from committing while we count.
        catalog.stocks_lock_for_variants(variant_ids=[variant_id])
        # An admission whose order committed is sold, though its checkout has not settled it
        # yet (it is about to, or its process died): settled here, it is not counted twice,
        # once in flight and once reserved, which would look like drift and undersell.
        for admission_id in orders_with_flash_sale_admissions(gate.admissions_in_flight(variant_id)):
            gate.settle([variant_id], admission_id=admission_id, committed=True)
        # What is still in flight after that long belongs to a checkout that died before its commit.
        gate.reap_stale(variant_id)
        available = available_units([variant_id])[variant_id]
        return gate.repair(variant_id, available=available)


def flash_sales_reconcile() -> dict[int, int]:
    drifts = {}
    for variant_id in sorted(gate.open_gate_variants()):
        drift = flash_sale_reconcile(variant_id=variant_id)
        if drift:
            drifts[variant_id] = drift
    return drifts


def flash_sale_variants_gated() -> set[int]:
    """The variants whose flash-sale gate is open now (none without Redis)."""
    return gate.open_gate_variants()
