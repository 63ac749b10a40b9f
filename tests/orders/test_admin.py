"""Operators take an order's next steps in the admin; the services do them and record who."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.orders import services
from apps.orders.models import Order
from apps.payments.models import Payment
from tests.orders.conftest import cart_with, checkout

pytestmark = pytest.mark.django_db


def _step(client, order: Order, step: str, **data):
    return client.post(reverse("admin:orders_order_step", args=[order.pk, step]), data, follow=True)


def _messages(page) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in page.context["messages"]]


@pytest.fixture
def paid_order(stocked, on_commit):
    order = checkout(cart_with(stocked("admin-lamp", 3, price_minor=4000)))
    on_commit(services.order_pay, order=order)
    return Order.objects.get(pk=order.pk)


def test_operator_packs_ships_delivers_and_refunds(client, operator, paid_order, on_commit):
    client.force_login(operator)
    page = client.get(reverse("admin:orders_order_change", args=[paid_order.pk]))
    assert page.status_code == 200
    assert page.context["order_steps"] == ["fulfil", "cancel", "refund"]
    assert b'data-testid="step-fulfil"' in page.content
    assert client.post(reverse("admin:orders_order_delete", args=[paid_order.pk]), {"post": "yes"}).status_code == 403

    page = _step(client, paid_order, "fulfil")
    assert _messages(page) == [("success", "Packed: 1 parcel, from Main. The order is now packed and ready to ship.")]
    assert page.context["order_steps"] == ["ship", "refund"]
    (shipment,) = page.context["unshipped"]

    page = _step(client, paid_order, "ship")  # no tracking number entered
    assert [level for level, _text in _messages(page)] == ["error"]
    page = on_commit(_step, client, paid_order, "ship", **{f"tracking-{shipment.pk}": "1Z999AA10123456784"})
    assert _messages(page) == [
        ("success", "Shipped: 1 parcel, Main (tracking number 1Z999AA10123456784). The order is now shipped.")
    ]
    page = _step(client, paid_order, "deliver")
    assert _messages(page) == [("success", "Delivered: 1 parcel, from Main. The order is now delivered.")]

    page = on_commit(_step, client, paid_order, "refund", amount="10.50")
    assert _messages(page) == [("success", "Refunded $10.50 (in all $10.50 refunded).")]
    paid_order.refresh_from_db()
    assert paid_order.refunded_minor == 1050 and paid_order.status == Order.Status.DELIVERED
    assert page.context["refundable"] == paid_order.total_minor - 1050
    on_commit(_step, client, paid_order, "refund", amount="")
    paid_order.refresh_from_db()
    assert paid_order.status == Order.Status.REFUNDED and paid_order.refunded_minor == paid_order.total_minor

    steps = list(paid_order.events.values_list("to_status", "actor_label"))
    assert ("fulfilled", operator.email) in steps and ("delivered", operator.email) in steps
    assert paid_order.shipments.get().tracking_number == "1Z999AA10123456784"


@pytest.mark.parametrize("amount", ["abc", "-5", "0", "1.234", "NaN", "1e400", "999999"])
def test_bad_refund_amount_changes_nothing(client, operator, paid_order, on_commit, amount):
    client.force_login(operator)

    page = on_commit(_step, client, paid_order, "refund", amount=amount)

    assert page.status_code == 200
    assert [level for level, _text in _messages(page)] == ["error"]
    paid_order.refresh_from_db()
    assert paid_order.refunded_minor == 0 and paid_order.status == Order.Status.PAID
    assert not Payment.objects.get().refunds.exists()


def test_illegal_or_unknown_steps_are_refused_cleanly(client, operator, paid_order):
    client.force_login(operator)

    for step in ("deliver", "ship", "teleport"):
        page = _step(client, paid_order, step)
        assert page.status_code == 200
        assert [level for level, _text in _messages(page)] == ["error"]
    paid_order.refresh_from_db()
    assert paid_order.status == Order.Status.PAID


def test_staff_without_the_order_permission_cannot_take_steps(client, make_user, paid_order):
    clerk = make_user(email="clerk@livemall.test")
    clerk.is_staff = True
    clerk.save(update_fields=["is_staff"])
    client.force_login(clerk)

    response = client.post(reverse("admin:orders_order_step", args=[paid_order.pk, "fulfil"]))

    assert response.status_code == 403
    paid_order.refresh_from_db()
    assert paid_order.status == Order.Status.PAID


def test_cash_on_delivery_through_the_admin(client, operator, use_region, stocked, on_commit):
    use_region("me-south")
    order = checkout(
        cart_with(stocked("admin-cod", 2, price_minor=10000), country="AE"),
        country="AE",
        payment_provider="cash_on_delivery",
        payment_method="cash_on_delivery",
    )
    on_commit(services.order_pay, order=order)
    client.force_login(operator)

    page = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert page.context["order_steps"] == ["fulfil", "cancel"]  # nothing to refund: no money yet
    _step(client, order, "fulfil")
    shipment = order.shipments.get()
    on_commit(_step, client, order, "ship", **{f"tracking-{shipment.pk}": "ARAMEX9"})
    on_commit(_step, client, order, "deliver")

    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED and order.paid_at is not None
    assert Payment.objects.get().status == "succeeded"


def test_a_refund_the_provider_has_not_taken_is_shown_as_owed(client, operator, paid_order, on_commit):
    """Cancelled while the provider was down, the refund waits for the retry sweep: the operator sees it."""
    from apps.payments.models import Refund
    from apps.payments.providers.base import RefundStatus

    on_commit(services.order_cancel, order=paid_order)
    payment = Payment.objects.get(order_reference=paid_order.reference)
    # The test provider takes refunds at once; this one is left as a provider outage leaves it.
    refund = payment.refunds.get()
    Refund.objects.filter(pk=refund.pk).update(status=RefundStatus.PENDING, provider_refund_id="")
    client.force_login(operator)
    page = client.get(reverse("admin:orders_order_change", args=[paid_order.pk]))
    assert page.context["refunds_owed"] == [refund]
    assert b'data-testid="refunds-owed"' in page.content
    notice = page.content.decode().split('data-testid="refunds-owed"')[1].split("</section>")[0]
    owed = f"${paid_order.total_minor // 100}.{paid_order.total_minor % 100:02d} not yet taken by test"
    assert owed in notice, notice

    Refund.objects.filter(pk=refund.pk).update(status=RefundStatus.SUCCEEDED, provider_refund_id="re_1")
    page = client.get(reverse("admin:orders_order_change", args=[paid_order.pk]))
    assert page.context["refunds_owed"] == [] and b"refunds-owed" not in page.content
