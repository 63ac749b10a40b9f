"""Buying pages: cart, checkout, order confirmation, my orders. Thin: services and selectors decide."""

from __future__ import annotations

import json
import logging
import uuid
import zoneinfo

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.errors import ApplicationError
from apps.money.formatting import format_day
from apps.orders import rules, selectors, services
from apps.orders.models import Cart, CartLine, Order
from apps.orders.web import (
    form_int,
    remember_order,
    request_cart,
    request_checkout_pass,
    request_shopper,
    session_orders,
)
from apps.payments.selectors import (
    payment_methods_offered,
    payment_open_for_reference,
    payments_in_progress,
)

logger = logging.getLogger(__name__)


def _locale(request: HttpRequest) -> str:
    return request.shopper.locale


def cart(request: HttpRequest) -> HttpResponse:
    shopper = request_shopper(request)
    the_cart = request_cart(request, create=False)
    try:
        review = selectors.cart_review(cart=the_cart, shopper=shopper)
    except ApplicationError as unpriced:
        # Nothing the shopper did (no exchange rates for their currency, say): the same page as
        # a checkout that cannot be priced.
        return _checkout_unavailable(request, unpriced)
    return render(request, "orders/cart.html", {"review": review, "max_quantity": services.max_quantity()})


@require_POST
def cart_add(request: HttpRequest) -> HttpResponse:
    shopper = request_shopper(request)
    try:
        services.cart_line_add(
            cart=request_cart(request),
            variant_id=form_int(request.POST.get("variant")),
            quantity=form_int(request.POST.get("quantity", "1")),
            country=shopper.country,
        )
        messages.success(request, _("Added to your cart."))
    except ApplicationError as exc:
        messages.error(request, exc.message)
        # A refused add shows its error where the shopper tried it (the product page), not on
        # a cart that may be empty; only a page of this site, never an open redirect.
        back = request.POST.get("next", "")
        if back and url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return redirect(back)
    return redirect("orders:cart")


@require_POST
def cart_update(request: HttpRequest) -> HttpResponse:
    shopper = request_shopper(request)
    quantity = form_int(request.POST.get("quantity"))
    # Removing a line from no cart (a page left open since the checkout) is nothing to do, and
    # must not make an empty cart that hides the order's own if its payment fails.
    the_cart = request_cart(request, create=quantity != 0)
    try:
        if the_cart is not None:
            services.cart_line_set(
                cart=the_cart,
                variant_id=form_int(request.POST.get("variant")),
                quantity=quantity,
                country=shopper.country,
            )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("orders:cart")


ADDRESS_FORM_FIELDS = ("name", "line1", "line2", "city", "state", "postal_code", "phone")
QUOTE_FIELDS = ("state", "shipping_option", "coupon")
# The form's fields in page order: the first one with an error is the one focused.
CHECKOUT_FORM_FIELDS = ("email", *ADDRESS_FORM_FIELDS, "shipping_option", "coupon")
# Where an error's ``fields`` hold data for API clients (the code typed, the codes offered),
# not words for the shopper: the page shows the error's own message next to that field.
_FIELDS_GIVING_DATA = ("shipping_option", "coupon")


def _placed_with(request: HttpRequest, idempotency_key: str) -> Order | None:
    return selectors.order_placed_with_key(
        idempotency_key=idempotency_key, user=request.user, session_orders=session_orders(request)
    )


def _attempt_ended(request: HttpRequest, idempotency_key: str) -> bool:
    """Whether ``idempotency_key`` names this shopper's checkout attempt whose order can no longer be paid.

    Paying failed (the order was cancelled and the cart opened again), the reservation ran out
    or the order was cancelled: that attempt is over, so the form gets a new key and the old
    one places nothing. A key whose order is still alive keeps answering with that order.
    """
    placed = _placed_with(request, idempotency_key)
    return placed is not None and placed.status == Order.Status.CANCELLED


def _shown_errors(error: ApplicationError) -> dict[str, list[str]]:
    """``error``'s field errors as the form shows them, by form field."""
    shown: dict[str, list[str]] = {}
    for name, said in (error.fields or {}).items():
        if name in _FIELDS_GIVING_DATA:
            shown[name] = [error.message]
        elif name in CHECKOUT_FORM_FIELDS:
            shown[name] = [str(text) for text in said]
    return shown


def _quote_or_plain(
    *, cart: Cart, shopper: selectors.Shopper, lines: list[CartLine], shipping_option: str, coupon: str
) -> tuple[selectors.Quote, ApplicationError | None]:
    """The totals for the option ticked and the coupon typed, and the error if those cannot be had.

    A coupon that does not apply leaves the totals of the option ticked without it (never
    another option's price and date); an option that does not exist leaves Standard's. An error
    no choice explains (no exchange rates) is raised.
    """
    try:
        quote = selectors.checkout_quote(
            cart=cart, shopper=shopper, shipping_option=shipping_option, coupon_code=coupon, lines=lines
        )
    except ApplicationError as refused:
        plain = shipping_option if rules.shipping_option(shipping_option) else "standard"
        return selectors.checkout_quote(cart=cart, shopper=shopper, shipping_option=plain, lines=lines), refused
    return quote, None


def _shipping_choices(
    *, cart: Cart, shopper: selectors.Shopper, lines: list[CartLine], locale: str, chosen: selectors.Quote
) -> list[tuple[rules.ShippingOption, int, str]]:
    """Each shipping option with its price in the shopper's currency and its date, as choosing it would quote.

    ``chosen`` is the totals' quote: without a coupon it is the quote choosing its option gives,
    so that option is not quoted twice. A coupon may change what shipping costs, so with one the
    options are quoted plain.
    """
    choices = []
    for option in rules.shipping_options():
        if chosen.coupon is None and option.code == chosen.shipping_option:
            quoted = chosen
        else:
            quoted = selectors.checkout_quote(cart=cart, shopper=shopper, shipping_option=option.code, lines=lines)
        choices.append((option, quoted.shipping_minor, format_day(quoted.eta, locale) if quoted.eta else ""))
    return choices


def checkout(request: HttpRequest) -> HttpResponse:
    shopper = request_shopper(request)
    # Neither showing nor submitting the form opens a cart: a shopper without one is answered as
    # one with an empty cart.
    the_cart = request_cart(request, create=False)
    if request.method == "POST":
        # The form of an attempt whose order is placed (sent twice, or again after Back): the
        # shopper is shown that order, theirs, not an error about paying it twice.
        placed = _placed_with(request, request.POST.get("idempotency_key", ""))
        if placed is not None and placed.status != Order.Status.CANCELLED:
            messages.info(request, _("You have already placed this order. Here it is."))
            return redirect("orders:detail", reference=placed.reference)
    lines = selectors.cart_lines_for_review(cart=the_cart, country=shopper.country)
    if not lines:
        return redirect("orders:cart")
    methods = payment_methods_offered(currency=shopper.currency, country=shopper.country)
    # A GET may ask for the totals with a state, shipping option or coupon the shopper has just
    # chosen (the page re-quotes as they change; nothing else is taken from the query string).
    data = request.POST if request.method == "POST" else {k: request.GET[k] for k in QUOTE_FIELDS if k in request.GET}
    idempotency_key = data.get("idempotency_key", "")
    address = {name: data.get(name, "") for name in ADDRESS_FORM_FIELDS}
    if request.method == "GET" and not request.headers.get("HX-Request") and not any(n in data for n in address):
        # A returning shopper starts from where their last order went (in the country they buy
        # from now); a re-quote carries what the form holds, so it is not asked again.
        last_used = selectors.checkout_address_last_used(user=request.user, country=shopper.country)
        address = {name: last_used.get(name, "") for name in ADDRESS_FORM_FIELDS}
    address["country"] = shopper.country
    chosen_option = data.get("shipping_option") or "standard"
    coupon = (data.get("coupon") or "").strip()
    email = data.get("email") or getattr(request.user, "email", "") or ""
    provider, _sep, method = (data.get("payment") or "").partition("/")
    quoted_for = selectors.Shopper(**{**shopper.__dict__, "state": address["state"].upper()})
    try:
        quote, refused = _quote_or_plain(
            cart=the_cart, shopper=quoted_for, lines=lines, shipping_option=chosen_option, coupon=coupon
        )
    except ApplicationError as unpriced:
        # Nothing the shopper chose is at fault (no exchange rates for their currency, say):
        # with no totals to show, the page says so instead of a form that cannot be priced.
        return _checkout_unavailable(request, unpriced)
    # The option the totals are for is the one ticked.
    chosen_option = quote.shipping_option
    notices = [refused.message] if refused is not None else []
    errors = _shown_errors(refused) if refused is not None else {}
    status = 400 if refused is not None else 200
    if request.method == "POST":
        delivery = services.checkout_details_errors(
            address=address, email=email, country=shopper.country, payment_provider=provider
        )
        if delivery:
            notices.insert(0, _("Check the delivery details."))
            errors = {**delivery, **errors}
            status = 400
        # The order is placed only at the total the page showed (the service compares it): a form
        # without one (a tampered request, a page from before it had one) is shown the total to confirm.
        if form_int(data.get("expected_total_minor")) is None and not notices:
            notices.append(_("Check the total and place your order again."))
            status = 409
    if request.method == "POST" and not notices:
        try:
            order = services.checkout_place(
                cart=the_cart,
                idempotency_key=idempotency_key,
                shopper=shopper,
                email=email,
                address=address,
                shipping_option=chosen_option,
                coupon_code=coupon,
                payment_provider=provider,
                payment_method=method,
                expected_total_minor=form_int(data.get("expected_total_minor")),
                user=request.user,
            )
            remember_order(request, order.reference)
            payment = services.order_pay(
                order=order, return_url=request.build_absolute_uri(f"/orders/{order.reference}/")
            )
            if payment.approval_url:
                return redirect(payment.approval_url)
            if payment.client_secret:
                return redirect("orders:pay", reference=order.reference)
            return redirect("orders:detail", reference=order.reference)
        except ApplicationError as exc:
            notices, errors, status = [exc.message], _shown_errors(exc), exc.status if exc.status < 500 else 400
    try:
        shipping_choices = _shipping_choices(
            cart=the_cart, shopper=quoted_for, lines=lines, locale=_locale(request), chosen=quote
        )
    except ApplicationError as unpriced:
        return _checkout_unavailable(request, unpriced)
    chosen_payment = data.get("payment") or (f"{methods[0].provider}/{methods[0].method}" if methods else "")
    paid_on_delivery = selectors.checkout_methods_paid_on_delivery(methods=methods)
    shown = selectors.cart_quantities(quote.lines)
    context = {
        "quote": quote,
        "eta": format_day(quote.eta, _locale(request)) if quote.eta else "",
        "address": address,
        "email": email,
        "shipping_choices": shipping_choices,
        "chosen_option": chosen_option,
        "coupon": coupon,
        "methods": methods,
        "chosen_payment": chosen_payment,
        # Nothing is paid when an order to be paid at the door is placed: its button says so.
        "paid_on_delivery": paid_on_delivery,
        "chosen_paid_on_delivery": chosen_payment in paid_on_delivery,
        # The same attempt keeps its key (a resubmit after a field error places it once); an
        # attempt whose order was cancelled (paying failed) is over, so the next submit is a new one.
        "idempotency_key": (
            idempotency_key if idempotency_key and not _attempt_ended(request, idempotency_key) else uuid.uuid4().hex
        ),
        "errors": errors,
        "first_error": next((name for name in CHECKOUT_FORM_FIELDS if name in errors), ""),
        "message": notices[0] if notices else "",
        "state_required": rules.address_rule(shopper.country).get("state_required", False),
        # A country with no postal codes in addresses.toml (the UAE, Qatar) is not asked for one.
        "postal_code_asked": rules.postal_code_asked(shopper.country),
        "postal_code_required": rules.postal_code_required(shopper.country),
        # A country whose region data lists its states gets a list to choose from: the state
        # decides the delivery dates (a state's weekend and holidays).
        "subdivisions": rules.subdivision_choices(settings.REGION, shopper.country),
        # The lines this page shows, which the API checkout (static/js/checkout.js) names, and
        # the pass that lets a flash sale's door admit them (apps.orders.checkout_pass).
        "expected_lines": json.dumps(
            [{"variant": variant, "quantity": quantity} for variant, quantity in shown.items()]
        ),
        "checkout_pass": request_checkout_pass(request, shown),
    }
    if request.method != "POST":
        # A re-quote with a coupon that does not apply shows the plain totals and the coupon's
        # error next to it; the banner is the submit's.
        status = 200
    else:
        for notice in notices:
            messages.error(request, notice)
    return render(request, "orders/checkout.html", context, status=status)


def _checkout_unavailable(request: HttpRequest, error: ApplicationError) -> HttpResponse:
    """The page for a checkout that cannot be priced now: the site's layout and a message, 503."""
    logger.warning("Checkout could not be priced: %s (%s)", error.message, error.code)
    messages.error(request, _("We cannot work out your order's total right now. Please try again in a little while."))
    return render(request, "base.html", status=503)


def _viewable(request: HttpRequest, reference: str):
    order = selectors.order_for_viewer(reference=reference, user=request.user, session_orders=session_orders(request))
    if order is None:
        raise Http404
    return order


def _local(order, request: HttpRequest) -> dict:
    zone = zoneinfo.ZoneInfo(request.shopper.time_zone)
    return {
        "order": order,
        "eta": format_day(order.eta, _locale(request)),
        "placed": order.created_at.astimezone(zone),
    }


# Where providers put their payment id when they send the shopper back: Stripe's redirect
# after the Payment Element, PayPal's return URL.
RETURN_PARAMETERS = ("payment_intent", "token")


def order_detail(request: HttpRequest, reference: str) -> HttpResponse:
    order = _viewable(request, reference)
    returned = next((request.GET[name] for name in RETURN_PARAMETERS if request.GET.get(name)), "")
    if returned:
        try:
            order = services.order_payment_returned(order=order, provider_payment_id=returned)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            if order.status == Order.Status.CREATED and request.GET.get("redirect_status") == "failed":
                messages.error(request, _("Your payment did not go through. Please try again."))
        # Without the provider's parameters, so a reload does not ask the provider again.
        return redirect("orders:detail", reference=order.reference)
    # A bank debit under way (SEPA: days): not paid yet, and nothing for the shopper to do.
    processing = (
        order.status == Order.Status.CREATED and payments_in_progress().filter(order_reference=order.reference).exists()
    )
    return render(
        request,
        "orders/order_detail.html",
        {
            **_local(order, request),
            **_delivery(order, request),
            "status_words": selectors.order_status_words(order),
            "pay_url": _pay_url(order),
            "payment_processing": processing,
        },
    )


def _delivery(order: Order, request: HttpRequest) -> dict:
    """Where the order goes and how far it has come: its dates on the shopper's calendar, in their words."""
    progress = selectors.order_delivery_progress(order=order)
    zone = zoneinfo.ZoneInfo(request.shopper.time_zone)

    def day(moment) -> str:
        return format_day(moment.astimezone(zone).date(), _locale(request)) if moment is not None else ""

    # One parcel's date is the order's own, said once. Of a split order, each parcel still to come
    # keeps its number ("Parcel 2" is the second, whether the first arrived or not); one packed
    # before parcels had their own date was promised the order's.
    shipments = list(order.shipments.all())
    parcel_etas = [
        {"number": number, "day": format_day(s.eta or order.eta, _locale(request))}
        for number, s in enumerate(shipments, start=1)
        if s.delivered_at is None
    ]
    return {
        "shipped_on": day(progress.shipped_at),
        "delivered_on": day(progress.delivered_at),
        "parcels": progress.parcels,
        "parcel_etas": parcel_etas if len(shipments) > 1 else [],
        "eta_expected": progress.eta_expected,
        **selectors.order_delivery_address(order=order, language=request.shopper.language),
    }


def _open_payment(order):
    """The payment an unpaid order's shopper can still finish, if any."""
    if order.status != Order.Status.CREATED:
        return None
    return payment_open_for_reference(order_reference=order.reference)


def _pay_url(order) -> str:
    """Where an unpaid order's shopper finishes paying: our Payment Element page or the provider's."""
    payment = _open_payment(order)
    if payment is None:
        return ""
    if payment.client_secret and settings.STRIPE_PUBLISHABLE_KEY:
        return reverse("orders:pay", kwargs={"reference": order.reference})
    return payment.approval_url


def order_pay(request: HttpRequest, reference: str) -> HttpResponse:
    """The Stripe Payment Element page (only when Stripe keys are set)."""
    order = _viewable(request, reference)
    payment = _open_payment(order)
    if payment is None or not payment.client_secret or not settings.STRIPE_PUBLISHABLE_KEY:
        return redirect("orders:detail", reference=order.reference)
    return render(
        request,
        "orders/pay.html",
        {
            **_local(order, request),
            "client_secret": payment.client_secret,
            "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        },
    )


def my_orders(request: HttpRequest) -> HttpResponse:
    orders = selectors.orders_listed_for(user=request.user, session_orders=session_orders(request))
    if request.user.is_authenticated:
        orders = orders[:50]
    # Each order's delivery told as its own page tells it: delivered or shipped on a day, or expected.
    rows = [
        {**_local(order, request), **_delivery(order, request), "status_words": selectors.order_status_words(order)}
        for order in orders
    ]
    return render(request, "orders/my_orders.html", {"rows": rows})
