"""A product pinned in a live show is sold through the flash-sale gate while it is pinned.

The show's crowd presses "Buy now" on the pinned product in the same second: its pinned
variants are admitted by the Redis gate (``apps.orders.gate``) before PostgreSQL is touched.
Pinning opens the gate with the units the database has free; unpinning, pinning another
product or ending the show closes it, unless another live show still pins the product. Real
PostgreSQL and Redis.
"""

from __future__ import annotations

import logging
import socket

import pytest

from apps.live import services
from apps.orders import gate
from apps.orders import services as orders
from apps.orders.models import Order
from tests.catalog.factories import make_product
from tests.live.console_factories import schedule_room
from tests.orders.conftest import checkout

pytestmark = pytest.mark.usefixtures("payments_by_test_provider")


def _left(variant_id: int) -> int | None:
    """The units the variant's gate has left to admit; None when no gate is open."""
    value = gate.client().get(gate.left_key(variant_id))
    return None if value is None else int(value)


def _bought_from(room, product, region) -> Order:
    """One unit of the pinned product, into a new cart at the show's price, checked out."""
    cart = orders.cart_for(user=None)
    variant = product.variants.get()
    services.pinned_product_to_cart(room=room, cart=cart, variant_id=variant.pk, quantity=1, country="US")
    return checkout(cart)


def test_pinning_opens_the_gate_with_the_free_units_and_unpinning_closes_it(live_room, scarf, region, commit):
    variant = scarf.variants.get()
    assert _left(variant.pk) is None

    commit(services.product_pin, room=live_room, product=scarf, region=region)
    assert _left(variant.pk) == 20

    order = _bought_from(live_room, scarf, region)
    # Admitted by the gate, then reserved in PostgreSQL: the gate counts the unit sold.
    assert order.flash_sale_admission and _left(variant.pk) == 19

    commit(services.product_unpin, room=live_room)
    assert _left(variant.pk) is None


def test_pinning_another_product_closes_the_first_ones_gate(live_room, merchant, scarf, region, commit):
    mug = make_product(merchant, "live-mug", price_minor=1500)
    commit(services.product_pin, room=live_room, product=scarf, region=region)
    commit(services.product_pin, room=live_room, product=mug, region=region)

    assert _left(scarf.variants.get().pk) is None
    # No stock of the mug anywhere: its gate admits no one, and checkout answers "sold out" at once.
    assert _left(mug.variants.get().pk) == 0


def test_ending_the_show_closes_the_gate(live_room, scarf, region, commit):
    commit(services.product_pin, room=live_room, product=scarf, region=region)
    assert _left(scarf.variants.get().pk) == 20
    commit(services.live_room_end, room=live_room, region=region)
    assert _left(scarf.variants.get().pk) is None


def test_a_product_pinned_in_two_shows_keeps_its_gate_and_its_count_until_neither_pins_it(
    live_room, merchant, scarf, region, commit
):
    variant = scarf.variants.get()
    other = commit(
        services.live_room_start,
        room=schedule_room(merchant=merchant, region=region, slug="late-show"),
        provider="manual",
    )
    commit(services.product_pin, room=live_room, product=scarf, region=region)
    # A buyer of the first show admitted, their checkout still running: the gate counts their unit.
    assert gate.admit({variant.pk: 1}, admission_id="checkout:in-flight") is True
    assert _left(variant.pk) == 19

    commit(services.product_pin, room=other, product=scarf, region=region)
    # Opened afresh from the database it would offer the in-flight unit a second time.
    assert _left(variant.pk) == 19
    commit(services.product_unpin, room=live_room)
    assert _left(variant.pk) == 19
    commit(services.product_unpin, room=other)
    assert _left(variant.pk) is None


def test_redis_out_of_reach_never_undoes_a_pin(live_room, scarf, region, commit, settings, caplog):
    pin = commit(services.product_pin, room=live_room, product=scarf, region=region)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    reachable, settings.REDIS_URL = settings.REDIS_URL, f"redis://127.0.0.1:{closed_port}/0"
    try:
        with caplog.at_level(logging.ERROR, logger="apps.live.services"):
            services.flash_sale_gates_follow_pins(product_ids={scarf.pk})
    finally:
        # The room's own fixtures clean up through the Redis that is there.
        settings.REDIS_URL = reachable

    assert "could not follow their pins" in caplog.text
    pin.refresh_from_db()
    assert pin.unpinned_at is None


def test_the_minute_sweep_opens_the_gate_a_pin_lost_to_redis(live_room, scarf, region, commit):
    commit(services.product_pin, room=live_room, product=scarf, region=region)
    variant = scarf.variants.get()
    gate.close_gate(variant.pk)  # as if Redis was out of reach when the pin tried to open it

    assert services.flash_sale_gates_follow_all_pins() == {scarf.pk}

    assert _left(variant.pk) == 20
    assert _bought_from(live_room, scarf, region).flash_sale_admission and _left(variant.pk) == 19


def test_the_minute_sweep_closes_a_gate_no_show_pins_any_more(live_room, merchant, scarf, region, commit):
    commit(services.product_pin, room=live_room, product=scarf, region=region)
    variant = scarf.variants.get()
    # Unpinned while Redis was out of reach: the pin is gone, its gate stayed open.
    live_room.pins.update(unpinned_at=live_room.started_at)
    assert _left(variant.pk) == 20

    assert services.flash_sale_gates_follow_all_pins() == {scarf.pk}

    assert _left(variant.pk) is None
    # Nothing pinned and no gate open: the sweep has nothing to look at.
    assert services.flash_sale_gates_follow_all_pins() == set()


def test_the_sweep_runs_each_minute_on_the_beat(live_room, scarf, region, commit):
    from apps.live import tasks
    from livemall.celery import app

    entry = app.conf.beat_schedule["live-flash-sale-gates-follow-pins"]
    assert entry == {"task": tasks.flash_sale_gates_follow_pins.name, "schedule": 60.0}
    commit(services.product_pin, room=live_room, product=scarf, region=region)
    gate.close_gate(scarf.variants.get().pk)
    assert tasks.flash_sale_gates_follow_pins.apply().get() == 1
    assert _left(scarf.variants.get().pk) == 20
