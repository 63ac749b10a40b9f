"""Real threads, separate PostgreSQL connections: no oversell, no deadlock, one order per cart."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest
from django.db import connection
from django.db.models import Sum

from apps.catalog.models import Stock
from apps.errors import ApplicationError
from apps.orders import gate, services
from apps.orders.models import Order
from apps.orders.selectors import available_units
from tests.orders.conftest import checkout

pytestmark = pytest.mark.django_db(transaction=True)

BUYERS = 40
UNITS = 10
ROUNDS = 20


def run_concurrently(func, args_list: list) -> list:
    """Call ``func(*args)`` for each item in its own thread (own DB connection), all released at once."""
    barrier = threading.Barrier(len(args_list))
    results: list = [None] * len(args_list)

    def worker(i: int, args) -> None:
        try:
            barrier.wait()
            results[i] = func(*args)
        except ApplicationError as exc:
            results[i] = exc
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, a)) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a checkout hung"
    return results


def _round(stocked, slug: str, *, gated: bool) -> None:
    variant = stocked(slug, UNITS)
    if gated:
        services.flash_sale_open(variant_id=variant.pk)
    carts = []
    for _ in range(BUYERS):
        cart = services.cart_for()
        services.cart_line_add(cart=cart, variant_id=variant.pk, quantity=1, country="US")
        carts.append(cart)
    results = run_concurrently(lambda cart: checkout(cart), [(c,) for c in carts])
    orders = [r for r in results if isinstance(r, Order)]
    errors = [r for r in results if not isinstance(r, Order)]
    assert len(orders) == UNITS, errors[:3]
    assert all(isinstance(e, ApplicationError) and e.code == "sold_out" for e in errors), errors[:3]
    assert available_units([variant.pk])[variant.pk] == 0
    assert Order.objects.filter(lines__variant=variant).count() == UNITS
    if gated:
        assert gate.counts(variant.pk) == (0, 0)


def test_forty_buyers_ten_units_database_only(stocked):
    for n in range(ROUNDS):
        _round(stocked, f"race-db-{n}", gated=False)


def test_forty_buyers_ten_units_through_the_redis_gate(stocked):
    for n in range(ROUNDS):
        _round(stocked, f"race-gate-{n}", gated=True)


def test_a_gate_that_admits_too_many_is_stopped_by_the_database_across_warehouses(stocked, merchant):
    """The gate is the crowd's door, not the last word: when it drifted and admits more buyers
    than there are units, the stock rows (locked last on the gate's path) still let exactly the
    units through, spread over both warehouses, and the refused checkouts leave nothing behind."""
    from apps.catalog import services as catalog
    from apps.orders.models import Reservation

    variant = stocked("drift-race", 6)
    second = catalog.warehouse_create(merchant=merchant, code="second", name="Second", country="US")
    catalog.stock_set(variant=variant, warehouse=second, quantity=4)
    services.flash_sale_open(variant_id=variant.pk)
    gate.client().incrby(gate.left_key(variant.pk), 15)  # drifted: admits 25 for 10 units
    carts = [_cart(variant, 1) for _ in range(BUYERS)]
    results = run_concurrently(lambda cart: checkout(cart), [(c,) for c in carts])
    orders = [r for r in results if isinstance(r, Order)]
    errors = [r for r in results if not isinstance(r, Order)]
    assert len(orders) == UNITS
    assert all(isinstance(e, ApplicationError) and e.code == "sold_out" for e in errors), errors[:3]
    assert Order.objects.count() == UNITS and Reservation.objects.count() == UNITS
    per_warehouse = dict(Reservation.objects.values_list("stock__warehouse__code").annotate(n=Sum("quantity")))
    assert per_warehouse == {"main": 6, "second": 4}
    assert available_units([variant.pk])[variant.pk] == 0
    assert gate.counts(variant.pk)[1] == 0  # nothing left in flight


def test_paid_orders_take_stock_to_zero(stocked, django_capture_on_commit_callbacks):
    variant = stocked("race-paid", 3)
    carts = []
    for _ in range(8):
        cart = services.cart_for()
        services.cart_line_add(cart=cart, variant_id=variant.pk, quantity=1, country="US")
        carts.append(cart)
    results = run_concurrently(lambda cart: checkout(cart), [(c,) for c in carts])
    for order in [r for r in results if isinstance(r, Order)]:
        services.order_pay(order=order)
    assert Stock.objects.get(variant=variant).quantity == 0
    assert Order.objects.filter(status=Order.Status.PAID).count() == 3


@pytest.mark.parametrize("same_key", [True, False])
def test_ten_concurrent_submits_of_one_cart_make_one_order(stocked, same_key):
    variant = stocked("one-cart", 50)
    cart = services.cart_for()
    services.cart_line_add(cart=cart, variant_id=variant.pk, quantity=2, country="US")
    key = f"same-{uuid.uuid4().hex}"
    keys = [key if same_key else f"k-{uuid.uuid4().hex}" for _ in range(10)]
    results = run_concurrently(lambda k: checkout(cart, key=k), [(k,) for k in keys])
    assert all(isinstance(r, Order) for r in results), [r for r in results if not isinstance(r, Order)][:3]
    assert len({r.pk for r in results}) == 1
    assert Order.objects.count() == 1
    assert available_units([variant.pk])[variant.pk] == 48


def test_reconcile_repairs_a_drifted_gate(stocked, caplog):
    variant = stocked("drift", 10)
    services.flash_sale_open(variant_id=variant.pk)
    order = checkout(_cart(variant, 3))
    assert gate.counts(variant.pk) == (7, 0)
    gate.client().incrby(gate.left_key(variant.pk), 5)  # e.g. a lost give-back counted twice
    assert services.flash_sales_reconcile() == {variant.pk: 5}
    assert gate.counts(variant.pk) == (7, 0)
    assert "drifted by +5" in caplog.text
    services.order_cancel(order=order)
    assert gate.counts(variant.pk) == (10, 0)  # cancellation gives units back to the gate
    assert services.flash_sales_reconcile() == {}


def test_expiry_gives_gated_units_back(stocked):
    import datetime as dt

    from django.utils import timezone

    variant = stocked("expire-gate", 2)
    services.flash_sale_open(variant_id=variant.pk)
    order = checkout(_cart(variant, 2))
    assert gate.counts(variant.pk) == (0, 0)
    with pytest.raises(ApplicationError) as err:
        checkout(_cart(variant, 1))
    assert err.value.code == "sold_out"
    Order.objects.filter(pk=order.pk).update(reserved_until=timezone.now() - dt.timedelta(seconds=1))
    assert services.reservations_expire() == 1
    assert gate.counts(variant.pk) == (2, 0)
    assert available_units([variant.pk])[variant.pk] == 2


def _cart(variant, quantity: int):
    cart = services.cart_for()
    services.cart_line_add(cart=cart, variant_id=variant.pk, quantity=quantity, country="US")
    return cart


def test_units_of_a_checkout_that_died_before_settling_go_back_at_the_reconcile(stocked, caplog):
    """The process died between the gate's admission and its settlement: without a record of the
    admission its units stayed in flight for good (never oversold, but never sold either)."""
    variant = stocked("died-gate", 10)
    services.flash_sale_open(variant_id=variant.pk)
    assert gate.admit({variant.pk: 2}, admission_id="checkout:died-before-commit:1") is True
    assert gate.counts(variant.pk) == (8, 2)
    assert services.flash_sales_reconcile() == {}  # a fresh admission belongs to a running checkout
    assert gate.counts(variant.pk) == (8, 2)
    # Time passes: the admission is older than any checkout runs.
    gate.client().hset(gate.admitted_key(variant.pk), "checkout:died-before-commit:1", "2:0")
    assert services.flash_sales_reconcile() == {}
    assert gate.counts(variant.pk) == (10, 0)
    assert "2 units of unsettled admissions given back" in caplog.text


def _unsettle(order: Order, variant, quantity: int, *, at: float) -> None:
    """As if the checkout's settlement never ran: its units still in flight, its admission on record."""
    gate.client().incrby(gate.inflight_key(variant.pk), quantity)
    gate.client().hset(gate.admitted_key(variant.pk), order.flash_sale_admission, f"{quantity}:{at}")


def test_a_checkout_that_died_after_its_commit_is_counted_once(stocked, caplog):
    variant = stocked("died-after-commit", 10)
    services.flash_sale_open(variant_id=variant.pk)
    order = checkout(_cart(variant, 1))
    assert order.flash_sale_admission.startswith("checkout:")
    _unsettle(order, variant, 1, at=0)  # long ago
    assert services.flash_sales_reconcile() == {}  # its order is on record: sold, not given back
    assert gate.counts(variant.pk) == (9, 0) and available_units([variant.pk])[variant.pk] == 9
    assert "given back" not in caplog.text and "drifted" not in caplog.text


def test_a_reconcile_between_a_checkout_commit_and_its_settle_sees_no_drift(stocked, caplog):
    """The reconcile ran after the order committed and before its checkout settled: the unit was
    counted twice (in flight and reserved), looked like drift, and the gate sold one fewer."""
    variant = stocked("commit-then-settle", 10)
    services.flash_sale_open(variant_id=variant.pk)
    order = checkout(_cart(variant, 2))
    _unsettle(order, variant, 2, at=time.time())  # a moment ago: the checkout is about to settle
    assert services.flash_sales_reconcile() == {}
    assert gate.counts(variant.pk) == (8, 0)
    gate.settle([variant.pk], admission_id=order.flash_sale_admission, committed=True)  # the late settle
    assert gate.counts(variant.pk) == (8, 0) == (available_units([variant.pk])[variant.pk], 0)
    assert "drifted" not in caplog.text


def test_an_order_placed_through_the_door_records_the_door_admission(stocked):
    variant = stocked("door-admission", 3)
    services.flash_sale_open(variant_id=variant.pk)
    admission = asyncio.run(gate.door_admit("door-admission-key-1", {variant.pk: 1}, shopper="a-session-key"))
    assert isinstance(admission, gate.DoorAdmission)
    order = checkout(_cart(variant, 1), key="door-admission-key-1", admission=admission)
    assert order.flash_sale_admission == admission.id
    assert gate.admissions_in_flight(variant.pk) == [] and gate.counts(variant.pk) == (2, 0)


def test_settling_twice_or_after_the_gate_was_reopened_changes_nothing(stocked):
    variant = stocked("settle-once", 5)
    services.flash_sale_open(variant_id=variant.pk)
    assert gate.admit({variant.pk: 2}, admission_id="checkout:once:1") is True
    gate.settle([variant.pk], admission_id="checkout:once:1", committed=False)
    gate.settle([variant.pk], admission_id="checkout:once:1", committed=False)
    assert gate.counts(variant.pk) == (5, 0)
    assert gate.admit({variant.pk: 1}, admission_id="checkout:once:2") is True
    services.flash_sale_open(variant_id=variant.pk)  # the merchant pins the product again
    gate.settle([variant.pk], admission_id="checkout:once:2", committed=True)
    assert gate.counts(variant.pk) == (5, 0)  # not -1 in flight
