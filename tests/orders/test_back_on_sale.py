"""An order that will never reach its shopper gives back what it took: a full refund before the goods
left the warehouse restocks them, and a paid order cancelled or refunded so gives back its limited coupon use.

Refunds after shipping are money only: the goods are with the shopper or the courier until returned."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.orders import services
from apps.orders.models import Coupon, Order, Reservation
from apps.orders.selectors import available_units
from tests.orders.conftest import cart_with, checkout

pytestmark = pytest.mark.django_db


def _limited_coupon(uses: int = 5) -> Coupon:
    now = timezone.now()
    return services.coupon_create(
        code="BACK-5",
        percent_off=10,
        valid_from=now - dt.timedelta(minutes=1),
        valid_until=now + dt.timedelta(hours=1),
        max_redemptions=uses,
        source="test:back-on-sale",
    )


def _paid(variant, on_commit, **checkout_fields) -> Order:
    order = on_commit(checkout, cart_with(variant, 2), **checkout_fields)
    on_commit(services.order_pay, order=order)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    return order


def _packed(order: Order, operator, on_commit) -> Order:
    on_commit(services.order_fulfil, order=order, actor=operator)
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    return order


def _shipped(order: Order, operator, on_commit) -> Order:
    for shipment in _packed(order, operator, on_commit).shipments.all():
        on_commit(services.shipment_ship, shipment=shipment, tracking_number="TRK-1", actor=operator)
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    return order


def _refund_all(order: Order, operator, on_commit) -> Order:
    on_commit(services.order_refund, order=order, actor=operator)
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED and order.refunded_minor == order.total_minor
    return order


@pytest.mark.parametrize("packed", [False, True], ids=["paid", "packed"])
def test_a_full_refund_before_shipping_puts_the_units_back_on_sale(stocked, operator, on_commit, packed):
    variant = stocked("back-lamp", 5)
    order = _paid(variant, on_commit)
    if packed:
        _packed(order, operator, on_commit)
    assert available_units([variant.pk])[variant.pk] == 3

    _refund_all(order, operator, on_commit)

    assert available_units([variant.pk])[variant.pk] == 5
    assert set(order.reservations.values_list("status", flat=True)) == {Reservation.Status.RELEASED}
    # The refund's news again (a replayed webhook, the reconcile sweep) restocks nothing more.
    on_commit(services.order_refund_totals_reconcile, older_than=dt.timedelta(0))
    services.order_record_refund(
        order_reference=order.reference,
        refunded_minor=order.total_minor,
        fully_refunded=True,
        refund_id=order.pk,
        amount_minor=0,
        currency=order.currency,
    )
    assert available_units([variant.pk])[variant.pk] == 5


def test_a_partial_refund_leaves_the_stock_sold(stocked, operator, on_commit):
    variant = stocked("back-scarf", 5)
    order = _paid(variant, on_commit)
    on_commit(services.order_refund, order=order, amount_minor=100, actor=operator)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert available_units([variant.pk])[variant.pk] == 3


def test_a_refund_after_shipping_restocks_nothing_and_keeps_the_coupon_used(stocked, operator, on_commit):
    variant = stocked("back-mug", 5)
    _limited_coupon()
    order = _shipped(_paid(variant, on_commit, coupon_code="BACK-5"), operator, on_commit)

    _refund_all(order, operator, on_commit)

    assert available_units([variant.pk])[variant.pk] == 3
    assert Coupon.objects.get().redemptions == 1


def test_a_paid_order_cancelled_gives_its_coupon_use_back_once(stocked, operator, on_commit):
    variant = stocked("back-cup", 5)
    _limited_coupon()
    order = _paid(variant, on_commit, coupon_code="BACK-5")
    assert Coupon.objects.get().redemptions == 1

    on_commit(services.order_cancel, order=order, actor=operator)

    assert Coupon.objects.get().redemptions == 0
    assert available_units([variant.pk])[variant.pk] == 5
    # The cancel's refund settling (the order is cancelled, not refunded) gives nothing back again.
    on_commit(services.order_refund_totals_reconcile, older_than=dt.timedelta(0))
    assert Coupon.objects.get().redemptions == 0
    assert available_units([variant.pk])[variant.pk] == 5


def test_a_full_refund_before_shipping_gives_the_coupon_use_back(stocked, operator, on_commit):
    variant = stocked("back-bowl", 5)
    _limited_coupon()
    order = _paid(variant, on_commit, coupon_code="BACK-5")

    _refund_all(order, operator, on_commit)

    assert Coupon.objects.get().redemptions == 0
