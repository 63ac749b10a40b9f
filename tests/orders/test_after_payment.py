"""What shoppers and operators see after paying: refunds on the order pages, status wording,
who asked for a refund, a cancel while the payment provider is down, checkout without FX rates.

Real PostgreSQL and Redis; Stripe is the local fake, and "down" is a port nothing listens on.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import pgettext

from apps.errors import ApplicationError
from apps.money.formatting import format_money
from apps.money.models import RateSnapshot
from apps.orders import services
from apps.orders.models import Order, OrderEvent
from apps.payments.models import Refund
from apps.payments.providers.base import RefundStatus
from tests.orders.conftest import cart_with, checkout, page_text
from tests.payments.fakes import closed_port_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def shopper(make_user):
    return make_user(email="shopper@example.test")


@pytest.fixture
def paid_for(stocked, shopper, on_commit):
    """``paid_for(slug)``: an order of one 40.00 lamp, paid with the test provider by ``shopper``."""

    def make(slug: str) -> Order:
        order = checkout(cart_with(stocked(slug, 3, price_minor=4000), user=shopper), user=shopper)
        on_commit(services.order_pay, order=order)
        order = Order.objects.get(pk=order.pk)
        assert order.status == Order.Status.PAID
        return order

    return make


# --- 1 and 2: the shopper's pages -----------------------------------------------------------


def test_a_partial_refund_shows_on_the_order_page_and_in_my_orders(client, shopper, operator, paid_for, on_commit):
    order = paid_for("after-lamp")
    client.force_login(shopper)
    page = client.get(f"/orders/{order.reference}/")
    assert b'data-testid="refunded"' not in page.content
    assert page_text(page.content, "status") == "Paid"  # a status standing alone starts with a capital

    on_commit(services.order_refund, order=order, amount_minor=1000, actor=operator)
    order.refresh_from_db()
    assert (order.refunded_minor, order.status) == (1000, Order.Status.PAID)

    page = client.get(f"/orders/{order.reference}/")
    assert page_text(page.content, "refunded") == "Refunded $10.00"
    assert page_text(page.content, "total") == f"${order.total_minor // 100}.{order.total_minor % 100:02d}"
    mine = client.get("/orders/")
    assert page_text(mine.content, "status") == "Paid · partially refunded"

    on_commit(services.order_refund, order=order, actor=operator)
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED and order.refunded_minor == order.total_minor
    page = client.get(f"/orders/{order.reference}/")
    assert page_text(page.content, "status") == "Refunded"
    assert page_text(page.content, "refunded").startswith("Refunded $")
    # The status says it all: no marker repeating it.
    assert page_text(client.get("/orders/").content, "status") == "Refunded"


def test_a_cancelled_and_refunded_order_is_marked_refunded_in_my_orders(client, shopper, paid_for, on_commit):
    order = paid_for("after-cancel")
    on_commit(services.order_cancel, order=order)
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED and order.refunded_minor == order.total_minor
    client.force_login(shopper)
    assert page_text(client.get("/orders/").content, "status") == "Cancelled · refunded"


def test_the_order_pages_show_the_refund_in_arabic_right_to_left(
    client, use_region, stocked, shopper, operator, on_commit
):
    use_region("me-south")
    order = checkout(cart_with(stocked("after-rtl", 3, price_minor=4000), user=shopper), user=shopper)
    on_commit(services.order_pay, order=order)
    order = Order.objects.get(pk=order.pk)
    assert order.status == Order.Status.PAID, (order.status, list(order.events.values_list("note", flat=True)))
    on_commit(services.order_refund, order=order, amount_minor=1000, actor=operator)
    client.force_login(shopper)
    arabic = {"Accept-Language": "ar"}
    page = client.get(f"/orders/{order.reference}/", headers=arabic)
    assert page.status_code == 200 and '<html lang="ar" dir="rtl">' in page.content.decode()
    # The amount as every other row of the page shows money, in the shopper's script and order.
    amount = format_money(1000, "AED", page.wsgi_request.shopper.locale)
    assert page_text(page.content, "refunded").endswith(" ".join(amount.split()))
    # My orders says it in one phrase about the order, in the shopper's language.
    with translation.override("ar"):
        words = pgettext("order status", "%(status)s · partially refunded") % {"status": Order.Status.PAID.label}
    assert page_text(client.get("/orders/", headers=arabic).content, "status") == capfirst(words)


def test_an_illegal_step_is_refused_in_words_that_read_well(paid_for, operator):
    order = paid_for("after-words")
    services.order_cancel(order=order, actor=operator)
    with pytest.raises(ApplicationError) as err:
        services.order_fulfil(order=Order.objects.get(pk=order.pk), actor=operator)
    assert err.value.code == "illegal_transition" and err.value.status == 409
    assert err.value.message == "This order is cancelled; it cannot move to “packed and ready to ship”."


# --- 3: who asked for a refund ---------------------------------------------------------------


def _api_step(client, order: Order, step: str, data: dict | None = None):
    return client.post(f"/api/v1/orders/{order.reference}/steps/{step}", data or {}, content_type="application/json")


def test_the_order_history_keeps_the_staff_member_who_asked_for_a_refund(client, operator, paid_for, on_commit):
    order = paid_for("after-who")
    client.force_login(operator)
    refused = _api_step(client, order, "refund", {"amount_minor": 10**6})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "over_refund"
    r = on_commit(_api_step, client, order, "refund", {"amount_minor": 1000})
    assert r.status_code == 200, r.json()
    assert r.json()["refund_owed_minor"] == 0
    refund = Refund.objects.get(payment__order_reference=order.reference)
    asked = OrderEvent.objects.get(order=order, actor=operator)  # one: the refused ask wrote nothing
    assert asked.actor_label == operator.email and asked.at is not None
    assert asked.note == f"refund {refund.pk} of $10.00 asked"
    assert (asked.from_status, asked.to_status) == ("paid", "paid")


# --- 4: cancelling a paid order while the provider is down ------------------------------------


def test_cancel_while_the_provider_is_down_answers_the_cancelled_order_with_the_refund_owed(
    client, operator, stripe_paid, settings, stripe_fake
):
    order = stripe_paid("after-down-api")
    settings.STRIPE_API_BASE = closed_port_url()
    client.force_login(operator)
    r = _api_step(client, order, "cancel", {"note": "customer asked"})
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["status"] == "cancelled" and body["refunded_minor"] == 0
    assert body["refund_owed_minor"] == order.total_minor
    refund = Refund.objects.get(payment__order_reference=order.reference)
    # Left for the retry sweep, as the provider's outage left it; nothing was sent twice.
    assert (refund.status, refund.provider_refund_id) == (RefundStatus.PENDING, "")
    assert len(stripe_fake.refunds) == 0


def test_cancel_in_the_admin_while_the_provider_is_down_warns_that_the_refund_is_retried(
    client, operator, stripe_paid, settings
):
    order = stripe_paid("after-down-admin")
    settings.STRIPE_API_BASE = closed_port_url()
    client.force_login(operator)
    page = client.post(reverse("admin:orders_order_step", args=[order.pk, "cancel"]), {"note": "x"}, follow=True)
    got = [(m.level_tag, str(m)) for m in page.context["messages"]]
    assert got == [
        ("success", "Done: the order is now cancelled."),
        (
            "warning",
            "The payment provider is not answering, so the refund is not made yet: "
            "it is sent again every 15 minutes until the provider takes it.",
        ),
    ]
    assert [r.amount_minor for r in page.context["refunds_owed"]] == [order.total_minor]


def test_a_refund_asked_while_the_provider_is_down_is_recorded_and_retried(client, operator, stripe_paid, settings):
    order = stripe_paid("after-down-refund")
    settings.STRIPE_API_BASE = closed_port_url()
    client.force_login(operator)
    page = client.post(reverse("admin:orders_order_step", args=[order.pk, "refund"]), {"amount": "10.00"}, follow=True)
    got = [(m.level_tag, str(m)) for m in page.context["messages"]]
    assert [level for level, _text in got] == ["warning"] and "sent again every 15 minutes" in got[0][1]
    refund = Refund.objects.get(payment__order_reference=order.reference)
    assert (refund.status, refund.amount_minor) == (RefundStatus.PENDING, 1000)
    asked = OrderEvent.objects.get(order=order, actor=operator)
    assert asked.note == f"refund {refund.pk} of $10.00 asked; provider unavailable"


# --- 5: checkout when prices cannot be converted -----------------------------------------------


def test_checkout_without_fx_rates_shows_the_regions_own_currency_not_a_server_error(client, stocked, settings):
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    canada = {"CF-IPCountry": "CA", "Accept-Language": "en"}
    variant = stocked("after-fx", 5, price_minor=2500)
    RateSnapshot.objects.all().delete()
    client.post("/cart/add", {"variant": variant.pk, "quantity": 1})  # added in the default currency
    client.get("/orders/")  # shows (and so clears) "Added to your cart."
    # CAD cannot be priced: the checkout goes on in USD and says so (apps.money.middleware).
    page = client.get("/checkout/", headers=canada)
    assert page.status_code == 200
    assert "Prices are shown in USD: CAD is not available right now." in page.content.decode()
    incomplete = client.post("/checkout/", {"email": "a@example.test", "payment": "test/test"}, headers=canada)
    assert incomplete.status_code == 400
    assert Order.objects.count() == 0
