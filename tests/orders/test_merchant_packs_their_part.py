"""Merchant staff pack their own part of an order (the parcels leaving their warehouses), never
another merchant's; the order is packed once every part is, and their page says what it waits for."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.orders import services
from apps.orders.models import Order, Shipment
from tests.orders.conftest import cart_with, checkout
from tests.orders.test_merchant_orders import admin_step, api_step, messages_of, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def mixed(stocked, stocked_b, paid_order_of):
    """A paid order of Shop A's lamp (warehouse "Main") and Shop B's vase ("B Depot"), not packed yet."""
    return paid_order_of(stocked("pack-lamp", 5, price_minor=4000), stocked_b("pack-vase", 5, price_minor=2500))


def page_of(client, order: Order):
    return client.get(reverse("admin:orders_order_change", args=[order.pk]))


def test_each_merchant_packs_only_their_part_and_the_last_part_packs_the_order(client, mixed, staff_a, staff_b):
    client.force_login(staff_a)
    page = page_of(client, mixed)
    assert page.context["order_steps"] == ["fulfil"]
    assert "Pack your part (one shipment per warehouse of yours)" in page.content.decode()

    page = admin_step(client, mixed, "fulfil")

    assert messages_of(page) == [
        (
            "success",
            "Packed: 1 parcel, from Main. The order ships once the other merchants of this order have packed their parts.",
        )
    ]
    mixed.refresh_from_db()
    assert mixed.status == Order.Status.PAID
    assert list(mixed.shipments.values_list("warehouse_name", flat=True)) == ["Main"]
    event = mixed.events.latest("pk")
    assert (event.actor, event.from_status, event.to_status) == (staff_a, "paid", "paid")
    assert event.note == "parcel from Main packed"
    # Nothing is theirs to do now: the page says what it waits for.
    assert page.context["order_steps"] == []
    waiting = "Your part is packed; waiting for the other merchants of this order to pack theirs."
    assert page.context["waiting_for"] == waiting and waiting in page.content.decode()

    # Packing again makes no second parcel, through the API as through the page.
    before = snapshot(mixed)
    r = api_step(client, mixed, "fulfil")
    assert r.status_code == 409 and r.json()["error"]["code"] == "illegal_transition"
    assert r.json()["error"]["message"] == "Your part of this order is packed already."
    assert snapshot(mixed) == before

    client.force_login(staff_b)
    assert page_of(client, mixed).context["order_steps"] == ["fulfil"]
    r = api_step(client, mixed, "fulfil")

    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["status"] == "fulfilled" and body["next_steps"] == ["ship"]
    assert [s["warehouse_name"] for s in body["shipments"]] == ["B Depot"]
    mixed.refresh_from_db()
    assert sorted(mixed.shipments.values_list("warehouse_name", flat=True)) == ["B Depot", "Main"]
    event = mixed.events.latest("pk")
    assert (event.actor, event.from_status, event.to_status) == (staff_b, "paid", "fulfilled")

    client.force_login(staff_a)
    page = page_of(client, mixed)
    assert page.context["order_steps"] == ["ship"]
    assert [s.warehouse_name for s in page.context["unshipped"]] == ["Main"]


def test_the_operator_packs_what_the_merchants_left(client, mixed, staff_a, operator):
    client.force_login(staff_a)
    admin_step(client, mixed, "fulfil")
    main = mixed.shipments.get()

    client.force_login(operator)
    assert page_of(client, mixed).context["order_steps"] == ["fulfil", "cancel", "refund"]
    page = admin_step(client, mixed, "fulfil")

    assert messages_of(page) == [
        ("success", "Packed: 1 parcel, from B Depot. The order is now packed and ready to ship.")
    ]
    mixed.refresh_from_db()
    assert mixed.status == Order.Status.FULFILLED
    assert sorted(mixed.shipments.values_list("pk", "warehouse_name")) == sorted(
        [(main.pk, "Main"), (Shipment.objects.get(order=mixed, warehouse_name="B Depot").pk, "B Depot")]
    )


def test_a_merchant_alone_in_an_order_packs_it_whole(client, stocked, paid_order_of, staff_a):
    order = paid_order_of(stocked("pack-alone", 3, price_minor=4000))
    client.force_login(staff_a)

    page = admin_step(client, order, "fulfil")

    assert messages_of(page) == [("success", "Packed: 1 parcel, from Main. The order is now packed and ready to ship.")]
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED and order.shipments.get().warehouse_name == "Main"
    assert page.context["order_steps"] == ["ship"]


def test_merchant_staff_cannot_pack_before_payment_and_are_told_what_it_waits_for(client, stocked, staff_a):
    order = checkout(cart_with(stocked("pack-unpaid", 3, price_minor=4000)))
    client.force_login(staff_a)

    page = page_of(client, order)
    assert page.context["order_steps"] == []
    assert page.context["waiting_for"] == "Waiting for the shopper to pay."
    assert b'data-testid="waiting-for"' in page.content

    before = snapshot(order)
    r = api_step(client, order, "fulfil")
    assert r.status_code == 409 and r.json()["error"]["code"] == "illegal_transition"
    page = admin_step(client, order, "fulfil")
    assert [level for level, _text in messages_of(page)] == ["error"]
    assert snapshot(order) == before and not order.shipments.exists()


def test_a_merchant_whose_parcels_arrived_is_told_the_order_waits_for_the_others(
    client,
    mixed,
    staff_a,
    staff_b,
    on_commit,
):
    client.force_login(staff_a)
    admin_step(client, mixed, "fulfil")
    client.force_login(staff_b)
    admin_step(client, mixed, "fulfil")
    client.force_login(staff_a)
    main = mixed.shipments.get(warehouse_name="Main")
    on_commit(admin_step, client, mixed, "ship", **{f"tracking-{main.pk}": "1ZMAIN"})

    page = admin_step(client, mixed, "deliver")

    assert messages_of(page) == [("success", "Delivered: 1 parcel, from Main.")]
    assert page.context["order_steps"] == []
    assert page.context["waiting_for"] == (
        "Your parcels are delivered; waiting for the other merchants' parcels of this order."
    )


def test_order_fulfil_keeps_one_parcel_per_warehouse_whoever_packs(mixed, merchant, merchant_b, staff_a, staff_b):
    """The service itself: a merchant's pack creates only their parcels; the other merchant's pack the rest."""
    (mine,) = services.order_fulfil(order=mixed, actor=staff_a, merchant_ids=[merchant.pk])
    assert mine.warehouse_name == "Main"
    assert services.order_next_steps(order=mixed, merchant_ids=[merchant_b.pk]) == ["fulfil"]

    (theirs,) = services.order_fulfil(order=mixed, actor=staff_b, merchant_ids=[merchant_b.pk])

    assert theirs.warehouse_name == "B Depot"
    mixed.refresh_from_db()
    assert mixed.status == Order.Status.FULFILLED and mixed.shipments.count() == 2
