"""A flash coupon pushed in a show works at checkout: its uses are counted there, and viewers see them go."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.errors import ApplicationError
from apps.live import selectors, services
from apps.live.models import FlashCoupon
from apps.orders import services as orders
from apps.orders.models import Cart, Coupon, Order, Reservation
from tests.orders.conftest import checkout

pytestmark = pytest.mark.usefixtures("payments_by_test_provider")


@pytest.fixture
def bus(bus):
    """The room's bus (tests/live/conftest.py), its coupon events only: what each said of the coupon."""
    subscribe, events = bus

    def coupon_events():
        return [event["coupon"] for event in events() if event["type"] == "coupon"]

    return subscribe, coupon_events


@pytest.fixture
def push(live_room, commit):
    def make(*, quantity: int = 3, discount_percent: int = 20, minutes: int = 5) -> FlashCoupon:
        return commit(
            services.flash_coupon_push,
            room=live_room,
            discount_percent=discount_percent,
            quantity=quantity,
            minutes=minutes,
        )

    return make


@pytest.fixture
def cart_of_scarves(scarf, region):
    def make(quantity: int = 1) -> Cart:
        cart = orders.cart_for(user=None)
        orders.cart_line_add(
            cart=cart, variant_id=scarf.variants.get().pk, quantity=quantity, country=region.default_country
        )
        return cart

    return make


def _remaining(coupon: FlashCoupon) -> int | None:
    return FlashCoupon.objects.select_related("order_coupon").get(pk=coupon.pk).remaining


def test_the_code_pushed_in_the_show_gives_its_discount_at_checkout(push, cart_of_scarves, commit, live_room, bus):
    subscribe, coupon_events = bus
    subscribe(live_room)
    coupon = push(quantity=3, discount_percent=20)
    assert [e["remaining"] for e in coupon_events()] == [3]

    order = commit(checkout, cart_of_scarves(2), coupon_code=coupon.code.lower())  # as a viewer types it

    assert order.coupon_id == coupon.order_coupon_id
    assert (order.subtotal_minor, order.discount_minor) == (9800, 1960)
    assert _remaining(coupon) == 2
    # Viewers learn it through the real path: orders' signal, live's receiver, Redis.
    [event] = coupon_events()
    assert (event["code"], event["remaining"], event["quantity"]) == (coupon.code, 2, 3)
    live_room.refresh_from_db()
    assert live_room.live_state["coupon"]["remaining"] == 2


def test_the_use_after_the_last_is_refused_and_nothing_is_written(push, cart_of_scarves, commit):
    coupon = push(quantity=1)
    commit(checkout, cart_of_scarves(), coupon_code=coupon.code)
    late = cart_of_scarves()

    with pytest.raises(ApplicationError) as err:
        commit(checkout, late, coupon_code=coupon.code)

    assert (err.value.code, err.value.status) == ("coupon_sold_out", 409)
    assert err.value.fields == {"coupon": [coupon.code]}
    assert Order.objects.count() == 1 and Reservation.objects.count() == 1
    late.refresh_from_db()
    assert late.status == Cart.Status.OPEN and late.order_id is None
    assert Coupon.objects.get(pk=coupon.order_coupon_id).redemptions == 1
    # Without the coupon the same shopper can still buy.
    assert commit(checkout, late).coupon_id is None


def test_a_retried_submit_does_not_use_the_coupon_twice(push, cart_of_scarves, commit):
    coupon = push(quantity=1)
    cart = cart_of_scarves()
    first = commit(checkout, cart, key="retry-key-0001", coupon_code=coupon.code)
    again = commit(checkout, cart, key="retry-key-0001", coupon_code=coupon.code)  # no "all used up" either
    assert again.pk == first.pk
    assert Coupon.objects.get(pk=coupon.order_coupon_id).redemptions == 1


def test_cancelling_before_payment_gives_the_use_back_once(push, cart_of_scarves, commit, live_room, bus):
    subscribe, coupon_events = bus
    coupon = push(quantity=2)
    order = commit(checkout, cart_of_scarves(), coupon_code=coupon.code)
    subscribe(live_room)

    commit(orders.order_cancel, order=order, note="changed my mind")

    assert _remaining(coupon) == 2
    assert [e["remaining"] for e in coupon_events()] == [2]
    with pytest.raises(ApplicationError) as err:
        commit(orders.order_cancel, order=order)
    assert err.value.code == "illegal_transition"
    assert _remaining(coupon) == 2 and coupon_events() == []


def test_an_expired_reservation_gives_the_use_back_once(push, cart_of_scarves, commit):
    coupon = push(quantity=2)
    order = commit(checkout, cart_of_scarves(), coupon_code=coupon.code)
    assert _remaining(coupon) == 1
    Order.objects.filter(pk=order.pk).update(reserved_until=timezone.now() - dt.timedelta(seconds=1))

    assert commit(orders.reservations_expire) == 1
    assert commit(orders.reservations_expire) == 0  # the beat task runs again: nothing more comes back

    assert _remaining(coupon) == 2


def test_a_paid_order_keeps_its_use(push, cart_of_scarves, commit):
    coupon = push(quantity=2)
    order = commit(checkout, cart_of_scarves(), coupon_code=coupon.code)
    commit(orders.order_pay, order=order)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert orders.reservations_expire() == 0
    assert _remaining(coupon) == 1


def test_an_expired_flash_code_is_refused(push, cart_of_scarves, commit):
    coupon = push(minutes=1)
    past = timezone.now() - dt.timedelta(seconds=1)
    # What a minute later looks like: both ends say the coupon is over.
    FlashCoupon.objects.filter(pk=coupon.pk).update(ends_at=past)
    Coupon.objects.filter(pk=coupon.order_coupon_id).update(valid_until=past)
    cart = cart_of_scarves()

    with pytest.raises(ApplicationError) as err:
        commit(checkout, cart, coupon_code=coupon.code)

    assert err.value.code == "coupon_expired"
    assert not Order.objects.exists() and _remaining(coupon) == 3


def test_a_closed_flash_code_is_refused_and_a_late_give_back_does_not_show_it_again(
    push, cart_of_scarves, commit, live_room, region, bus
):
    subscribe, coupon_events = bus
    first = push(quantity=5)
    order = commit(checkout, cart_of_scarves(), coupon_code=first.code)
    second = push(quantity=5)  # closes the first one

    with pytest.raises(ApplicationError) as err:
        commit(checkout, cart_of_scarves(), coupon_code=first.code)
    assert err.value.code == "coupon_expired"
    assert commit(checkout, cart_of_scarves(), coupon_code=second.code).coupon_id == second.order_coupon_id

    commit(services.live_room_end, room=live_room, region=region)
    with pytest.raises(ApplicationError) as err:
        commit(checkout, cart_of_scarves(), coupon_code=second.code)
    assert err.value.code == "coupon_expired"

    subscribe(live_room)
    commit(orders.order_cancel, order=order)
    assert _remaining(first) == 5  # the use came back to the closed coupon ...
    live_room.refresh_from_db()
    assert live_room.live_state["coupon"] is None  # ... but viewers are not shown it again
    assert coupon_events() == []


def test_a_pushed_coupon_that_cannot_be_written_leaves_nothing(live_room, commit):
    with pytest.raises(ApplicationError) as err:
        services.flash_coupon_push(room=live_room, discount_percent=20, quantity=0, minutes=5)
    assert "quantity" in err.value.fields
    assert not FlashCoupon.objects.exists() and not Coupon.objects.exists()


def test_orders_placed_with_the_shows_coupon_count_in_its_stats(push, cart_of_scarves, commit, live_room):
    coupon = push(quantity=5, discount_percent=10)
    commit(orders.order_pay, order=commit(checkout, cart_of_scarves(2), coupon_code=coupon.code))
    commit(checkout, cart_of_scarves(), coupon_code=coupon.code)  # placed, never paid: no sale
    commit(orders.order_pay, order=commit(checkout, cart_of_scarves()))  # no coupon: not the show's

    stats = selectors.room_stats(room=live_room)

    assert stats.orders == 1
    [usd] = stats.revenue
    assert (usd.currency, usd.orders, usd.revenue_minor) == ("USD", 1, 9800)
