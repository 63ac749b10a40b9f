"""Cart, checkout, payment, lifecycle and bad input on real PostgreSQL and Redis."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from apps.catalog.models import Stock
from apps.errors import ApplicationError
from apps.orders import services
from apps.orders.models import Cart, Order, OrderEvent, Reservation
from apps.orders.selectors import available_units, cart_review
from apps.payments.models import Payment
from tests.orders.conftest import cart_with, checkout, coupon_stored, shopper_for

pytestmark = pytest.mark.django_db


def stock_of(variant) -> int:
    return Stock.objects.get(variant=variant).quantity


def test_checkout_reserves_and_payment_sells(stocked, on_commit):
    variant = stocked("mug", 5, price_minor=1250)
    cart = cart_with(variant, 2)
    order = checkout(cart)
    assert order.status == Order.Status.CREATED
    assert order.subtotal_minor == 2500
    assert available_units([variant.pk])[variant.pk] == 3
    assert stock_of(variant) == 5  # held, not sold yet

    payment = on_commit(services.order_pay, order=order)
    order.refresh_from_db()
    assert payment.status == "succeeded"
    assert order.status == Order.Status.PAID
    assert stock_of(variant) == 3
    assert set(order.reservations.values_list("status", flat=True)) == {Reservation.Status.SOLD}
    assert [e.to_status for e in order.events.all()] == ["created", "paid"]
    assert len(mail.outbox) == 1 and order.reference in mail.outbox[0].subject


def test_retried_key_returns_same_order(stocked):
    variant = stocked("pen", 5)
    cart = cart_with(variant)
    first = checkout(cart, key="retry-key-0001")
    again = checkout(cart, key="retry-key-0001")
    assert first.pk == again.pk
    assert Order.objects.count() == 1
    assert Reservation.objects.count() == 1


def test_key_from_another_cart_is_refused(stocked):
    variant = stocked("cup", 5)
    checkout(cart_with(variant), key="shared-key-0001")
    other = services.cart_for()
    services.cart_line_add(cart=other, variant_id=variant.pk, quantity=1, country="US")
    with pytest.raises(ApplicationError) as err:
        checkout(other, key="shared-key-0001")
    assert err.value.code == "idempotency_key_reused"


def test_reservation_expiry_returns_stock(stocked):
    variant = stocked("hat", 2)
    order = checkout(cart_with(variant, 2))
    assert available_units([variant.pk])[variant.pk] == 0
    Order.objects.filter(pk=order.pk).update(reserved_until=timezone.now() - dt.timedelta(seconds=1))
    assert services.reservations_expire() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert available_units([variant.pk])[variant.pk] == 2
    assert order.events.last().actor_label == "system:expiry"


def test_unavailable_lines_are_shown_with_a_reason(stocked, merchant):
    keep = stocked("kept", 3)
    gone = stocked("gone", 3)
    cart = cart_with(keep)
    services.cart_line_add(cart=cart, variant_id=gone.pk, quantity=2, country="US")
    Stock.objects.filter(variant=gone).update(quantity=1)
    review = cart_review(cart=cart, shopper=shopper_for())
    assert [line.available for line in review.lines] == [True, False]
    assert "1" in review.lines[1].reason
    with pytest.raises(ApplicationError) as err:
        checkout(cart)
    assert err.value.code == "sold_out"
    assert Order.objects.count() == 0


def test_lifecycle_with_shipments_and_illegal_steps(stocked, operator, on_commit):
    variant = stocked("lamp", 3)
    order = checkout(cart_with(variant))
    with pytest.raises(ApplicationError) as err:
        services.order_fulfil(order=order, actor=operator)
    assert err.value.code == "illegal_transition"
    on_commit(services.order_pay, order=order)
    order.refresh_from_db()
    (shipment,) = services.order_fulfil(order=order, actor=operator)
    on_commit(services.shipment_ship, shipment=shipment, tracking_number="1Z999", actor=operator)
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    services.order_deliver(order=order, actor=operator)
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    with pytest.raises(ApplicationError):
        services.order_cancel(order=order, actor=operator)
    steps = list(OrderEvent.objects.filter(order=order).values_list("from_status", "to_status", "actor_label"))
    assert steps[-1] == ("shipped", "delivered", operator.email)
    assert any("shipped" in m.subject or "way" in m.subject for m in mail.outbox)


def test_partial_then_full_refund(stocked, on_commit):
    variant = stocked("bag", 3, price_minor=4000)
    order = checkout(cart_with(variant))
    on_commit(services.order_pay, order=order)
    order.refresh_from_db()
    on_commit(services.order_refund, order=order, amount_minor=1000)
    order.refresh_from_db()
    assert (order.status, order.refunded_minor) == (Order.Status.PAID, 1000)
    on_commit(services.order_refund, order=order)
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert order.refunded_minor == order.total_minor


def test_cancel_unpaid_releases(stocked):
    variant = stocked("box", 1)
    order = checkout(cart_with(variant))
    services.order_cancel(order=order)
    assert available_units([variant.pk])[variant.pk] == 1


def test_cart_merge_at_sign_in(stocked, make_user, client):
    variant = stocked("sock", 5)
    other = stocked("shoe", 5)
    user = make_user(email="merge@example.test", password="a-long-test-password")
    mine = services.cart_for(user=user)
    services.cart_line_add(cart=mine, variant_id=variant.pk, quantity=1, country="US")
    client.post("/api/v1/cart/lines", {"variant": variant.pk, "quantity": 2}, content_type="application/json")
    client.post("/api/v1/cart/lines", {"variant": other.pk, "quantity": 1}, content_type="application/json")
    assert client.login(email="merge@example.test", password="a-long-test-password")

    merged = Cart.objects.get(user=user, status=Cart.Status.OPEN)
    assert dict(merged.lines.values_list("variant_id", "quantity")) == {variant.pk: 3, other.pk: 1}


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", [0, -1, 11, "2", 1.5, True])
def test_bad_quantity_is_refused(stocked, quantity):
    variant = stocked("nail", 50)
    cart = services.cart_for()
    with pytest.raises(ApplicationError) as err:
        services.cart_line_add(cart=cart, variant_id=variant.pk, quantity=quantity, country="US")
    assert err.value.code == "invalid_quantity"
    assert cart.lines.count() == 0


def test_hidden_product_variant_is_refused(stocked):
    variant = stocked("hidden", 5, is_active=False)
    with pytest.raises(ApplicationError) as err:
        services.cart_line_add(cart=services.cart_for(), variant_id=variant.pk, quantity=1, country="US")
    assert err.value.code == "variant_unavailable"


def test_coupon_percentage_and_fixed(stocked):
    variant = stocked("tee", 5, price_minor=10000)
    coupon_stored("SAVE10")
    order = checkout(cart_with(variant), coupon_code="save10")
    assert order.discount_minor == 1000
    coupon_stored("FIVE", percent_off=None, amounts_off={"USD": 500}, min_spend={"USD": 5000})
    order = checkout(cart_with(stocked("top", 5, price_minor=10000)), coupon_code="FIVE")
    assert order.discount_minor == 500


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"countries": ["DE"]}, "coupon_not_valid_here"),
        ({"valid_until": timezone.now() - dt.timedelta(hours=1)}, "coupon_expired"),
        ({"percent_off": None, "amounts_off": {"EUR": 500}}, "coupon_not_valid_here"),
        ({"min_spend": {"USD": 999999}}, "coupon_min_spend"),
    ],
)
def test_bad_coupon_leaves_nothing(stocked, fields, code):
    variant = stocked("cap", 5)
    coupon_stored("SAVE10", **fields)
    with pytest.raises(ApplicationError) as err:
        checkout(cart_with(variant), coupon_code="SAVE10")
    assert err.value.code == code
    assert Order.objects.count() == 0 and available_units([variant.pk])[variant.pk] == 5


def test_tampered_total_is_refused(stocked):
    variant = stocked("ring", 5, price_minor=2000)
    with pytest.raises(ApplicationError) as err:
        checkout(cart_with(variant), expected_total_minor=1)
    assert err.value.code == "total_changed"
    assert Order.objects.count() == 0 and available_units([variant.pk])[variant.pk] == 5


def test_payment_for_paid_order_is_refused(stocked, on_commit):
    variant = stocked("vase", 5)
    order = checkout(cart_with(variant))
    on_commit(services.order_pay, order=order)
    with pytest.raises(ApplicationError) as err:
        on_commit(services.order_pay, order=order)
    assert err.value.code == "already_paid"
    assert Payment.objects.filter(order_reference=order.reference).count() == 1
    assert stock_of(variant) == 4


def test_bad_address_and_key(stocked):
    variant = stocked("fork", 5)
    cart = cart_with(variant)
    with pytest.raises(ApplicationError) as err:
        checkout(cart, address={"country": "US", "name": "x", "line1": "y", "city": "z", "postal_code": "ABC"})
    assert err.value.code == "invalid_address"
    assert set(err.value.fields) == {"postal_code", "state"}
    # Too short; ending in a newline (a form field can carry one, and "$" in a pattern lets it by).
    for key in ("short", "checkout-key-0001\n"):
        with pytest.raises(ApplicationError) as err:
            checkout(cart, key=key)
        assert err.value.code == "invalid_idempotency_key"
    assert Order.objects.count() == 0


# --- cash on delivery (me-south) ----------------------------------------------------------


def _cod_order(use_region, stocked, slug: str, units: int = 3):
    use_region("me-south")
    variant = stocked(slug, units, price_minor=10000)
    order = checkout(
        cart_with(variant, country="AE"),
        country="AE",
        payment_provider="cash_on_delivery",
        payment_method="cash_on_delivery",
    )
    return variant, order


def test_cash_on_delivery_ships_unpaid_and_is_paid_at_the_door(use_region, stocked, operator, on_commit):
    variant, order = _cod_order(use_region, stocked, "cod-lamp")

    payment = on_commit(services.order_pay, order=order)

    order.refresh_from_db()
    assert payment.status == "pending" and payment.next_action == "collect_on_delivery"
    assert order.status == Order.Status.CONFIRMED and order.paid_at is None
    assert stock_of(variant) == 2  # sold, not merely held: it will not expire
    assert len(mail.outbox) == 1 and order.reference in mail.outbox[0].subject
    assert order.language == "ar" and "نقدًا لمندوب التوصيل" in mail.outbox[0].body  # cash ready for the courier
    Order.objects.filter(pk=order.pk).update(reserved_until=timezone.now() - dt.timedelta(days=1))
    assert services.reservations_expire() == 0

    (shipment,) = services.order_fulfil(order=order, actor=operator)
    on_commit(services.shipment_ship, shipment=shipment, tracking_number="ARAMEX1", actor=operator)
    on_commit(services.order_deliver, order=Order.objects.get(pk=order.pk), actor=operator)

    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED and order.paid_at is not None
    payment.refresh_from_db()
    assert (payment.status, payment.captured_minor) == ("succeeded", order.total_minor)
    steps = list(order.events.values_list("from_status", "to_status", "actor_label"))
    assert [s[:2] for s in steps] == [
        ("", "created"),
        ("created", "confirmed"),
        ("confirmed", "fulfilled"),
        ("fulfilled", "shipped"),
        ("shipped", "delivered"),
        ("delivered", "delivered"),
    ]
    assert steps[-1][2] == "payment:cash_on_delivery"
    # Delivered twice (a double click in the console) collects nothing twice.
    with pytest.raises(ApplicationError):
        services.order_deliver(order=order, actor=operator)
    assert Payment.objects.get().captured_minor == order.total_minor


def test_cash_on_delivery_refused_at_the_door_goes_back_on_sale(use_region, stocked, operator, on_commit):
    variant, order = _cod_order(use_region, stocked, "cod-vase", units=1)
    on_commit(services.order_pay, order=order)
    (shipment,) = services.order_fulfil(order=Order.objects.get(pk=order.pk), actor=operator)
    on_commit(services.shipment_ship, shipment=shipment, tracking_number="ARAMEX2", actor=operator)
    assert stock_of(variant) == 0

    order = services.order_cancel(order=order, actor=operator, note="refused at the door")

    assert order.status == Order.Status.CANCELLED
    assert stock_of(variant) == 1
    assert available_units([variant.pk])[variant.pk] == 1
    assert Payment.objects.get().status == "cancelled"


def test_paid_order_on_its_way_is_refunded_not_cancelled(stocked, operator, on_commit):
    variant = stocked("paid-kettle", 2)
    order = checkout(cart_with(variant))
    on_commit(services.order_pay, order=order)
    services.order_fulfil(order=Order.objects.get(pk=order.pk), actor=operator)

    with pytest.raises(ApplicationError) as err:
        services.order_cancel(order=order, actor=operator)

    assert err.value.code == "illegal_transition"
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert stock_of(variant) == 1


def test_checkout_reads_and_writes_the_same_number_of_times_for_one_line_or_many(stocked, merchant, warehouse):
    """No query per line: a ten-line cart costs the checkout what a one-line cart does, and the
    gate's path (lines admitted in Redis) skips the stock count the database path needs."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.catalog.models import ProductIngredient

    def queries(cart, **kwargs) -> int:
        with CaptureQueriesContext(connection) as captured:
            order = checkout(cart, **kwargs)
        assert order.placed_now and order.lines.count() == cart.lines.count()
        assert order.reservations.count() == cart.lines.count()
        return len(captured.captured_queries)

    variants = [stocked(f"item-{n}", 5) for n in range(10)]
    # Facts the country rules read (ingredients) on every product, so a per-line rule check would show.
    for variant in variants:
        ProductIngredient.objects.create(product=variant.product, position=1, name="Sugar")
    one = queries(cart_with(variants[0]))
    many_cart = cart_with(variants[0])
    for variant in variants[1:]:
        services.cart_line_add(cart=many_cart, variant_id=variant.pk, quantity=2, country="US")
    assert queries(many_cart) == one

    services.flash_sale_open(variant_id=variants[1].pk)
    assert queries(cart_with(variants[1])) == one - 1
    assert available_units([v.pk for v in variants[:2]]) == {variants[0].pk: 3, variants[1].pk: 2}
