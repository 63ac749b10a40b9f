"""Merchant staff see the orders holding their products, only their part of them, and ship
and deliver their own parcels; operators keep every order and every step."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from apps.accounts import services as accounts
from apps.orders import services
from apps.orders.models import Order, OrderEvent, OrderLine, Shipment
from tests.orders.conftest import cart_with, checkout

pytestmark = pytest.mark.django_db


@pytest.fixture
def orders(stocked, stocked_b, paid_order_of, operator):
    """An order of Shop A's lamp only, one of Shop B's vase only, and a packed one holding both."""
    lamp, vase = stocked("lamp", 5, price_minor=4000), stocked_b("vase", 5, price_minor=2500)
    only_a, only_b, mixed = paid_order_of(lamp), paid_order_of(vase), paid_order_of(lamp, vase)
    services.order_fulfil(order=mixed, actor=operator)
    return only_a, only_b, Order.objects.get(pk=mixed.pk)


def parcel_of(order: Order, warehouse_name: str) -> Shipment:
    return order.shipments.get(warehouse_name=warehouse_name)


def admin_step(client, order: Order, step: str, **data):
    return client.post(reverse("admin:orders_order_step", args=[order.pk, step]), data, follow=True)


def api_step(client, order: Order, step: str, data: dict | None = None):
    return client.post(f"/api/v1/orders/{order.reference}/steps/{step}", data or {}, content_type="application/json")


def messages_of(page) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in page.context["messages"]]


def rows(page, model) -> list:
    (inline,) = [i for i in page.context["inline_admin_formsets"] if i.formset.model is model]
    return [form.instance for form in inline.formset.forms]


def shown_fields(page) -> list[str]:
    return [name for _title, options in page.context["adminform"].fieldsets for name in options["fields"]]


def snapshot(order: Order) -> tuple:
    order.refresh_from_db()
    return (
        order.status,
        order.refunded_minor,
        sorted(order.shipments.values_list("pk", "tracking_number", "shipped_at", "delivered_at")),
        order.events.count(),
    )


def test_the_merchant_staff_group_may_view_orders_and_nothing_more():
    granted = set(Group.objects.get(name="Merchant staff").permissions.filter(content_type__app_label="orders"))
    assert {p.codename for p in granted} == {"view_order"}


def test_staff_list_only_the_orders_holding_their_products(client, orders, staff_a, staff_b):
    only_a, only_b, mixed = orders
    changelist = reverse("admin:orders_order_changelist")

    client.force_login(staff_a)
    page = client.get(changelist)
    assert page.status_code == 200
    assert set(page.context["cl"].result_list) == {only_a, mixed}
    assert "total_minor" not in page.context["cl"].list_display
    assert only_b.reference not in page.content.decode()
    # Searching does not reach past the merchant's own orders.
    assert list(client.get(changelist, {"q": only_b.reference}).context["cl"].result_list) == []

    client.force_login(staff_b)
    assert set(client.get(changelist).context["cl"].result_list) == {only_b, mixed}


def test_a_shared_order_shows_each_merchant_only_their_part(client, orders, staff_a, staff_b):
    mixed = orders[2]
    client.force_login(staff_a)

    page = client.get(reverse("admin:orders_order_change", args=[mixed.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert [line.sku for line in rows(page, OrderLine)] == ["LAMP"]
    assert [s.warehouse_name for s in rows(page, Shipment)] == ["Main"]
    assert "B Depot" not in html and "VASE" not in html
    # Enough to ship (who and where), not what the whole order cost nor how it was paid.
    assert shown_fields(page) == ["reference", "status", "created_at", "ship_to", "shipping_option", "eta"]
    assert "Ann Buyer" in html and "1 Main St" in html and "Albany, New York 12207" in html
    assert "buyer@example.test" not in html
    (history,) = [i for i in page.context["inline_admin_formsets"] if i.formset.model is OrderEvent]
    assert [field["name"] for field in history.fields()] == ["from_status", "to_status", "at"]
    assert page.context["order_steps"] == ["ship"]
    assert page.context["unshipped"] == [parcel_of(mixed, "Main")]
    assert "refundable" not in page.context and b'data-testid="step-cancel"' not in page.content

    client.force_login(staff_b)
    page = client.get(reverse("admin:orders_order_change", args=[mixed.pk]))
    assert [s.warehouse_name for s in rows(page, Shipment)] == ["B Depot"]
    assert page.context["unshipped"] == [parcel_of(mixed, "B Depot")]


def test_another_merchants_order_does_not_exist_for_them(client, orders, staff_a, stocked_b, operator):
    only_b = orders[1]
    services.order_fulfil(order=only_b, actor=operator)
    parcel = only_b.shipments.get()
    before = snapshot(only_b)
    client.force_login(staff_a)

    for url in (
        reverse("admin:orders_order_change", args=[only_b.pk]),
        reverse("admin:orders_order_history", args=[only_b.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and response.url == reverse("admin:index"), url
    page = client.get(reverse("admin:orders_order_change", args=[only_b.pk]), follow=True)
    assert "Perhaps it was deleted?" in messages_of(page)[0][1]  # Django's "doesn't exist"

    response = client.post(
        reverse("admin:orders_order_step", args=[only_b.pk, "ship"]), {f"tracking-{parcel.pk}": "1ZSTOLEN"}
    )
    assert response.status_code == 404
    r = api_step(client, only_b, "ship", {"tracking_numbers": {str(parcel.pk): "1ZSTOLEN"}})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    # Nor through the shopper's pages: merchant staff are not operators.
    assert client.get(f"/api/v1/orders/{only_b.reference}").status_code == 404
    assert client.get(reverse("orders:detail", args=[only_b.reference])).status_code == 404
    assert snapshot(only_b) == before


def test_staff_cannot_ship_another_merchants_parcel_of_a_shared_order(client, orders, staff_a):
    mixed = orders[2]
    mine, theirs = parcel_of(mixed, "Main"), parcel_of(mixed, "B Depot")
    before = snapshot(mixed)
    client.force_login(staff_a)

    page = admin_step(client, mixed, "ship", **{f"tracking-{theirs.pk}": "1ZSTOLEN"})
    assert messages_of(page) == [
        (
            "error",
            f"You can only ship parcels leaving your own warehouses. Not one of yours: {theirs.pk}",
        )
    ]
    # Their own parcel with someone else's in the same request: nothing is shipped at all.
    r = api_step(client, mixed, "ship", {"tracking_numbers": {str(mine.pk): "1ZMINE", str(theirs.pk): "1ZSTOLEN"}})
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_your_shipment"
    assert r.json()["error"]["fields"] == {"tracking_numbers": [f"Not one of yours: {theirs.pk}"]}
    r = api_step(client, mixed, "ship", {"tracking_numbers": {"99999999999999999999": "1Z"}})
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_your_shipment"

    # Money and the whole order stay with operators.
    for step in ("cancel", "refund"):
        r = api_step(client, mixed, step)
        assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied", step
        page = admin_step(client, mixed, step)
        assert [level for level, _text in messages_of(page)] == ["error"]
    # Their part is packed (by the operator, here): packing again is out of turn, not another parcel.
    r = api_step(client, mixed, "fulfil")
    assert r.status_code == 409 and r.json()["error"]["code"] == "illegal_transition"
    page = admin_step(client, mixed, "fulfil")
    assert messages_of(page) == [("error", "This order is packed already.")]
    assert snapshot(mixed) == before


@pytest.mark.parametrize(
    ("step", "data", "status", "code"),
    [
        ("ship", {}, 400, "invalid_tracking"),
        ("ship", {"tracking_numbers": {"mine": "   "}}, 400, "invalid_tracking"),
        ("ship", {"tracking_numbers": {"abc": "1Z"}}, 400, "invalid_tracking"),
        ("ship", {"tracking_numbers": {"mine": "X" * 61}}, 400, None),
        ("deliver", {}, 409, "illegal_transition"),  # nothing of theirs has left yet
        ("teleport", {}, 404, "unknown_step"),
        ("ship", {"tracking_numbers": {"mine": "1Z"}, "price": 1}, 400, "unexpected_fields"),
    ],
)
def test_bad_shipping_steps_from_merchant_staff_change_nothing(client, orders, staff_a, step, data, status, code):
    mixed = orders[2]
    mine = parcel_of(mixed, "Main")
    if "tracking_numbers" in data:
        data = {
            **data,
            "tracking_numbers": {str(mine.pk) if k == "mine" else k: v for k, v in data["tracking_numbers"].items()},
        }
    before = snapshot(mixed)
    client.force_login(staff_a)

    r = api_step(client, mixed, step, data)

    assert r.status_code == status, r.json()
    assert set(r.json()["error"]) == {"code", "message", "fields"}
    if code:
        assert r.json()["error"]["code"] == code
    assert snapshot(mixed) == before


def test_each_merchant_ships_and_delivers_their_own_parcel(client, orders, staff_a, staff_b, on_commit):
    mixed = orders[2]
    mine, theirs = parcel_of(mixed, "Main"), parcel_of(mixed, "B Depot")

    client.force_login(staff_a)
    page = on_commit(admin_step, client, mixed, "ship", **{f"tracking-{mine.pk}": " 1ZSHOPA "})
    assert messages_of(page) == [("success", "Shipped: 1 parcel, Main (tracking number 1ZSHOPA).")]
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.tracking_number == "1ZSHOPA" and mine.shipped_at is not None
    assert not theirs.tracking_number and theirs.shipped_at is None
    event = mixed.events.latest("pk")
    assert (event.actor, event.to_status) == (staff_a, "fulfilled") and "1ZSHOPA" in event.note
    assert page.context["order_steps"] == ["deliver"]

    client.force_login(staff_b)
    r = on_commit(api_step, client, mixed, "ship", {"tracking_numbers": {str(theirs.pk): "1ZSHOPB"}})
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["status"] == "shipped" and body["next_steps"] == ["deliver"]
    assert [s["warehouse_name"] for s in body["shipments"]] == ["B Depot"]
    assert [line["sku"] for line in body["lines"]] == ["VASE"]
    assert "total_minor" not in body and "payment_provider" not in body
    event = mixed.events.latest("pk")
    assert (event.actor, event.from_status, event.to_status) == (staff_b, "fulfilled", "shipped")

    client.force_login(staff_a)
    page = admin_step(client, mixed, "deliver")
    for row in (mixed, mine, theirs):
        row.refresh_from_db()
    assert mixed.status == Order.Status.SHIPPED and mine.delivered_at is not None and theirs.delivered_at is None
    assert page.context["order_steps"] == []

    client.force_login(staff_b)
    r = api_step(client, mixed, "deliver")
    assert r.status_code == 200 and r.json()["status"] == "delivered" and r.json()["next_steps"] == []
    event = mixed.events.latest("pk")
    assert (event.actor, event.from_status, event.to_status) == (staff_b, "shipped", "delivered")
    assert api_step(client, mixed, "deliver").status_code == 409
    assert mixed.events.filter(actor=staff_a).count() == 2  # shipped, delivered: each parcel on the record


def test_cash_on_delivery_is_collected_when_the_last_parcel_arrives(
    client, use_region, stocked, staff_a, operator, on_commit
):
    use_region("me-south")
    order = checkout(
        cart_with(stocked("merchant-cod", 2, price_minor=10000), country="AE"),
        country="AE",
        payment_provider="cash_on_delivery",
        payment_method="cash_on_delivery",
    )
    on_commit(services.order_pay, order=order)
    (parcel,) = services.order_fulfil(order=Order.objects.get(pk=order.pk), actor=operator)
    client.force_login(staff_a)

    on_commit(api_step, client, order, "ship", {"tracking_numbers": {str(parcel.pk): "ARAMEX7"}})
    r = on_commit(api_step, client, order, "deliver")

    assert r.status_code == 200 and r.json()["status"] == "delivered"
    order.refresh_from_db()
    assert order.paid_at is not None


def test_operators_still_see_every_order_whole_and_take_every_step(client, orders, operator, on_commit):
    only_a, only_b, mixed = orders
    client.force_login(operator)

    assert set(client.get(reverse("admin:orders_order_changelist")).context["cl"].result_list) == set(orders)
    page = client.get(reverse("admin:orders_order_change", args=[mixed.pk]))
    assert {s.warehouse_name for s in rows(page, Shipment)} == {"Main", "B Depot"}
    assert {line.sku for line in rows(page, OrderLine)} == {"LAMP", "VASE"}
    assert "payment_provider" in shown_fields(page) and "total_minor" in shown_fields(page)
    assert page.context["order_steps"] == ["ship", "refund"]

    tracking = {f"tracking-{s.pk}": f"1ZOP{s.pk}" for s in mixed.shipments.all()}
    page = on_commit(admin_step, client, mixed, "ship", **tracking)
    main, depot = parcel_of(mixed, "Main").pk, parcel_of(mixed, "B Depot").pk
    assert messages_of(page) == [
        (
            "success",
            f"Shipped: 2 parcels, Main (tracking number 1ZOP{main}), B Depot (tracking number 1ZOP{depot}). "
            "The order is now shipped.",
        )
    ]
    assert admin_step(client, mixed, "deliver").context["order_steps"] == ["refund"]
    r = api_step(client, only_b, "fulfil")
    assert r.status_code == 200 and r.json()["status"] == "fulfilled" and "total_minor" in r.json()
    r = on_commit(api_step, client, only_a, "cancel", {"note": "out of lamps"})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    mixed.refresh_from_db()
    assert mixed.status == Order.Status.DELIVERED
    assert mixed.events.filter(actor=operator, to_status="delivered").exists()


def test_a_shopper_gets_nothing(client, orders, make_user):
    mixed = orders[2]
    before = snapshot(mixed)
    shopper = make_user(email="shopper@example.test")
    client.force_login(shopper)

    response = client.get(reverse("admin:orders_order_changelist"))
    assert response.status_code == 302 and reverse("admin:login") in response.url
    response = client.post(
        reverse("admin:orders_order_step", args=[mixed.pk, "ship"]),
        {f"tracking-{s.pk}": "1Z" for s in mixed.shipments.all()},
    )
    assert response.status_code == 302 and reverse("admin:login") in response.url
    r = api_step(client, mixed, "ship", {"tracking_numbers": {str(s.pk): "1Z" for s in mixed.shipments.all()}})
    assert r.status_code == 403 and r.json()["error"]["code"]
    assert client.get(f"/api/v1/orders/{mixed.reference}").status_code == 404
    assert snapshot(mixed) == before


def test_staff_of_a_merchant_without_orders_see_an_empty_list(client, orders, make_user):
    quiet = accounts.merchant_create(name="Shop C", country="US", owner=make_user(email="owner@shop-c.test"))
    client.force_login(quiet.memberships.get().user)

    page = client.get(reverse("admin:orders_order_changelist"))

    assert page.status_code == 200 and list(page.context["cl"].result_list) == []
    assert api_step(client, orders[2], "ship").status_code == 404
