"""What pages and the API share: the request's cart and the shopper it prices for."""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from django.http import HttpRequest

from apps.orders import checkout_pass, services
from apps.orders.models import Cart
from apps.orders.receivers import SESSION_CART_KEY, SESSION_ORDERS_KEY
from apps.orders.selectors import Shopper


class OrderReferenceConverter:
    """An order's reference in a URL (``LM-`` and hex, as ``services._new_reference`` makes them; at
    most the column's 32 characters). Anything else names no order and is answered 404 before any
    query: a NUL byte (``%00``), which PostgreSQL refuses in text, would otherwise fail it with a 500."""

    regex = "[A-Za-z0-9-]{1,32}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


def form_int(value: str | None) -> int | None:
    """A whole number from a form field, or ``None`` (the service then says what is wrong)."""
    try:
        return int(value or "")
    except ValueError:
        return None


def request_shopper(request: HttpRequest) -> Shopper:
    ctx = getattr(request, "shopper", None)
    region = settings.REGION
    if ctx is None:
        defaults = region.country(region.default_country)
        return Shopper(
            country=region.default_country,
            currency=defaults.currency,
            language=defaults.language,
            time_zone=defaults.time_zone or region.time_zone,
        )
    return Shopper(country=ctx.country, currency=ctx.currency, language=ctx.language, time_zone=ctx.time_zone)


def request_cart(request: HttpRequest, *, create: bool = True) -> Cart | None:
    """The signed-in user's open cart, or the one whose id this session keeps.

    Only writes (a line added) open one when there is none; reads pass ``create=False`` and get
    ``None``, shown as an empty cart. The session keeps the id of a cart that was checked out,
    so when its order expires or its payment fails and that cart opens again, the session finds
    it; a new empty cart opened by a look would hide it.
    """
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return services.cart_for(user=user, create=create)
    cart_id = request.session.get(SESSION_CART_KEY)
    cart = services.cart_for(cart_id=cart_id if isinstance(cart_id, int) else None, create=create)
    if cart is not None and cart.pk != cart_id:
        request.session[SESSION_CART_KEY] = cart.pk
    return cart


def request_checkout_pass(request: HttpRequest, lines: Mapping[int, int]) -> str:
    """The pass that lets the checkout's door admit this session's ``lines`` (apps.orders.checkout_pass)."""
    if not lines:
        return ""
    if request.session.session_key is None:
        # A session made by this request has its key only once saved; marked modified, the
        # response sends its cookie, which the pass is worth nothing without.
        request.session.save()
        request.session.modified = True
    return checkout_pass.issue(request.session.session_key, lines)


def remember_order(request: HttpRequest, reference: str) -> None:
    """An anonymous shopper may see the orders this session placed."""
    placed = list(request.session.get(SESSION_ORDERS_KEY, []))[-19:]
    if reference not in placed:
        placed.append(reference)
    request.session[SESSION_ORDERS_KEY] = placed


def session_orders(request: HttpRequest) -> list[str]:
    return list(request.session.get(SESSION_ORDERS_KEY, []))
