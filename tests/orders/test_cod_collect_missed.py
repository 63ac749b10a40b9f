"""Cash on delivery the courier took but the books missed: the sweep records it, once.

Real failures on real PostgreSQL, no mocks: another connection holds a row that delivery's
capture (or the order's "paid" receiver) needs, and our connection's ``lock_timeout`` makes
that step fail the way it would in production, after the delivery itself has committed.
Hence transactional tests: the other connection must see the committed rows.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import OperationalError, connection, connections
from django.db.models import QuerySet
from django.utils import timezone

from apps.orders import services, tasks
from apps.orders.models import Order, OrderEvent
from apps.payments.models import Payment
from tests.orders.conftest import cart_with, checkout

db = pytest.mark.django_db(transaction=True)

COLLECTED_LABEL = "payment:cash_on_delivery"


@contextmanager
def held_elsewhere(rows: QuerySet) -> Iterator[None]:
    """Another connection locks ``rows`` until the block ends, while ours gives up on a lock
    after a short ``lock_timeout``."""
    # Compiled without Django's lock (it insists on a transaction of *our* connection).
    sql, params = rows.values("pk").query.sql_with_params()
    other = connections.create_connection("default")
    try:
        with other.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute(sql + " FOR UPDATE", params)
            assert cur.fetchall(), "nothing to lock"
        with connection.cursor() as cur:
            cur.execute("SELECT set_config('lock_timeout', '200ms', false)")
        yield
    finally:
        with connection.cursor() as cur:
            cur.execute("RESET lock_timeout")
        other.close()  # ends its transaction: the rows are free again


def payments_held_elsewhere(order: Order):
    return held_elsewhere(Payment.objects.filter(order_reference=order.reference))


def order_held_elsewhere(order: Order):
    return held_elsewhere(Order.objects.filter(pk=order.pk))


@pytest.fixture
def shipped_cod(use_region, stocked, operator, shipped_country_rules):
    """``shipped_cod("slug")``: a cash-on-delivery order in the Gulf, confirmed, packed and shipped."""
    use_region("me-south")

    def make(slug: str) -> Order:
        order = checkout(
            cart_with(stocked(slug, 3, price_minor=10000), country="AE"),
            country="AE",
            payment_provider="cash_on_delivery",
            payment_method="cash_on_delivery",
        )
        services.order_pay(order=order)
        (shipment,) = services.order_fulfil(order=Order.objects.get(pk=order.pk), actor=operator)
        services.shipment_ship(shipment=shipment, tracking_number=f"ARAMEX-{slug}", actor=operator)
        order.refresh_from_db()
        assert order.status == Order.Status.SHIPPED and order.paid_at is None
        return order

    return make


@pytest.fixture
def delivered_uncollected(shipped_cod, operator):
    """``delivered_uncollected("slug")``: delivered through ``order_deliver``, whose capture failed
    after the delivery committed (the payment row was locked by another connection)."""

    def make(slug: str) -> Order:
        order = shipped_cod(slug)
        with payments_held_elsewhere(order), pytest.raises(OperationalError):
            services.order_deliver(order=order, actor=operator)
        order.refresh_from_db()
        assert order.status == Order.Status.DELIVERED and order.paid_at is None
        assert Payment.objects.get(order_reference=order.reference).status == "pending"
        return order

    return make


def delivered_minutes_ago(order: Order, minutes: int = 5) -> None:
    OrderEvent.objects.filter(order=order, to_status=Order.Status.DELIVERED).update(
        at=timezone.now() - dt.timedelta(minutes=minutes)
    )


def collected_events(order: Order) -> int:
    """Steps recording the courier's cash (the confirmation step carries the same label)."""
    delivered = Order.Status.DELIVERED
    return order.events.filter(actor_label=COLLECTED_LABEL, from_status=delivered, to_status=delivered).count()


@db
def test_a_delivery_whose_capture_failed_is_collected_once_by_the_sweep(delivered_uncollected):
    order = delivered_uncollected("cod-lamp")
    delivered_minutes_ago(order)

    assert services.cash_on_delivery_collect_missed() == 1
    # Run again (the next beat, or a retried task): nothing is collected twice.
    assert services.cash_on_delivery_collect_missed() == 0
    assert tasks.cash_on_delivery_collect_missed.delay().get() == 0

    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED and order.paid_at is not None
    (payment,) = Payment.objects.filter(order_reference=order.reference)
    assert (payment.status, payment.captured_minor) == ("succeeded", order.total_minor)
    assert collected_events(order) == 1
    assert list(order.events.order_by("pk").values_list("from_status", "to_status"))[-2:] == [
        ("shipped", "delivered"),
        ("delivered", "delivered"),
    ]


@db
def test_an_order_delivered_within_the_grace_is_left_to_its_delivery(delivered_uncollected):
    order = delivered_uncollected("cod-rug")
    delivered_minutes_ago(order, minutes=0)

    assert services.cash_on_delivery_collect_missed() == 0

    order.refresh_from_db()
    assert order.paid_at is None
    assert Payment.objects.get(order_reference=order.reference).status == "pending"
    # The grace alone kept it: without one, the same order is collected.
    assert services.cash_on_delivery_collect_missed(older_than=dt.timedelta(0)) == 1
    assert Payment.objects.get(order_reference=order.reference).status == "succeeded"


@db
def test_only_delivered_cash_on_delivery_orders_are_touched(delivered_uncollected, shipped_cod, stocked, operator):
    missed = delivered_uncollected("cod-vase")
    # Still on its way: the courier has no cash yet.
    on_its_way = shipped_cod("cod-jug")
    # Paid by card-like test payment and delivered; its "paid" mark lost, it is still no cash to collect.
    card = checkout(cart_with(stocked("card-mug", 2), country="AE"), country="AE")
    services.order_pay(order=card)
    (parcel,) = services.order_fulfil(order=Order.objects.get(pk=card.pk), actor=operator)
    services.shipment_ship(shipment=parcel, tracking_number="DHL1", actor=operator)
    services.order_deliver(order=Order.objects.get(pk=card.pk), actor=operator)
    Order.objects.filter(pk=card.pk).update(paid_at=None)
    for order in (missed, on_its_way, card):
        delivered_minutes_ago(order)
    card_payments = list(Payment.objects.filter(order_reference=card.reference).values())
    card_events = card.events.count()

    assert services.cash_on_delivery_collect_missed() == 1

    missed.refresh_from_db()
    assert missed.paid_at is not None
    on_its_way.refresh_from_db()
    assert on_its_way.status == Order.Status.SHIPPED and on_its_way.paid_at is None
    assert Payment.objects.get(order_reference=on_its_way.reference).status == "pending"
    card.refresh_from_db()
    assert card.paid_at is None and card.events.count() == card_events
    assert list(Payment.objects.filter(order_reference=card.reference).values()) == card_payments


@db
def test_one_order_whose_capture_fails_does_not_keep_the_others_off_the_books(delivered_uncollected, caplog):
    stuck = delivered_uncollected("cod-chair")
    other = delivered_uncollected("cod-table")
    assert stuck.pk < other.pk  # the failing one comes first in the sweep
    delivered_minutes_ago(stuck)
    delivered_minutes_ago(other)

    with caplog.at_level(logging.ERROR, logger="apps.orders.services"), payments_held_elsewhere(stuck):
        assert services.cash_on_delivery_collect_missed() == 1

    assert any(stuck.reference in r.getMessage() for r in caplog.records)
    other.refresh_from_db()
    assert other.paid_at is not None
    assert Payment.objects.get(order_reference=other.reference).status == "succeeded"
    stuck.refresh_from_db()
    assert stuck.paid_at is None
    assert Payment.objects.get(order_reference=stuck.reference).status == "pending"

    # Once the row is free, the next sweep takes the one left behind.
    assert services.cash_on_delivery_collect_missed() == 1
    stuck.refresh_from_db()
    assert stuck.paid_at is not None and collected_events(stuck) == 1
    assert collected_events(other) == 1


@db
def test_cash_captured_but_never_marked_on_the_order_is_marked_once(delivered_uncollected):
    order = delivered_uncollected("cod-stool")
    delivered_minutes_ago(order)

    # The capture commits; the order's "paid" receiver then finds the order row locked and fails.
    with order_held_elsewhere(order):
        assert services.cash_on_delivery_collect_missed() == 0
    assert Payment.objects.get(order_reference=order.reference).status == "succeeded"
    order.refresh_from_db()
    assert order.paid_at is None

    assert services.cash_on_delivery_collect_missed() == 1
    assert services.cash_on_delivery_collect_missed() == 0

    order.refresh_from_db()
    assert order.paid_at is not None and collected_events(order) == 1
    (payment,) = Payment.objects.filter(order_reference=order.reference)
    assert payment.captured_minor == order.total_minor


def test_the_sweep_is_on_the_beat_schedule():
    from livemall.celery import app

    entry = app.conf.beat_schedule["orders-cash-on-delivery-collect-missed"]
    assert entry["task"] == tasks.cash_on_delivery_collect_missed.name
    assert entry["task"] in app.tasks
    assert entry["schedule"] == 600.0
