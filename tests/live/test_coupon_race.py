"""Many viewers check out with the same flash coupon at once: never more orders than its quantity."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from apps.errors import ApplicationError
from apps.live import services
from apps.live.models import FlashCoupon, LiveRoom
from apps.orders import services as orders
from apps.orders.models import Cart, Order, Reservation
from tests.live.console_factories import schedule_room
from tests.orders.conftest import checkout

BUYERS = 10
USES = 3


@pytest.mark.django_db(transaction=True)
def test_ten_buyers_for_three_uses_make_exactly_three_orders(
    merchant, region, live_settings, scarf, payments_by_test_provider
):
    room = services.live_room_start(room=schedule_room(merchant=merchant, region=region), provider="manual")
    coupon = services.flash_coupon_push(room=room, discount_percent=30, quantity=USES, minutes=5)
    carts = []
    for _ in range(BUYERS):
        cart = orders.cart_for(user=None)
        orders.cart_line_add(cart=cart, variant_id=scarf.variants.get().pk, quantity=1, country=region.default_country)
        carts.append(cart)
    placed, refused, failed = [], [], []
    start = threading.Barrier(BUYERS)

    def buy(cart) -> None:
        try:
            start.wait()
            placed.append(checkout(cart, coupon_code=coupon.code))
        except ApplicationError as exc:
            refused.append(exc.code)
        except Exception as exc:  # reported by the assertion below, not lost in the thread
            failed.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=buy, args=(cart,)) for cart in carts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a checkout hung"

    assert failed == []
    assert len(placed) == USES and refused == ["coupon_sold_out"] * (BUYERS - USES)
    assert Order.objects.filter(coupon_id=coupon.order_coupon_id).count() == USES == Order.objects.count()
    assert Reservation.objects.count() == USES
    assert Cart.objects.filter(status=Cart.Status.OPEN).count() == BUYERS - USES
    coupon = FlashCoupon.objects.select_related("order_coupon").get(pk=coupon.pk)
    assert coupon.order_coupon.redemptions == USES and coupon.remaining == 0
    # However the announcements interleaved, the last one shows what is really left.
    assert LiveRoom.objects.get(pk=room.pk).live_state["coupon"]["remaining"] == 0
