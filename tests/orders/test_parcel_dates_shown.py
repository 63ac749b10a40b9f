"""Each parcel's own delivery day reaches everyone who reads the order: the shopper's and the
merchant's API, the admin's parcels, and "My orders" (a split order's row gives each parcel's day)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import formats, translation

from apps.catalog import services as catalog
from apps.money.formatting import format_day
from apps.orders import services
from apps.orders.models import Order, Shipment
from tests.catalog.factories import make_product
from tests.orders.conftest import cart_with, checkout

pytestmark = pytest.mark.django_db


@pytest.fixture
def ann(make_user):
    return make_user(email="ann@example.test")


@pytest.fixture
def stocked_in(merchant):
    """``stocked_in(slug, code, handling_days)``: a product of Shop A held only in its own warehouse ``code``."""

    def make(slug: str, code: str, handling_days: int):
        warehouse = catalog.warehouse_create(
            merchant=merchant, code=code, name=code.title(), country="US", handling_days=handling_days
        )
        variant = make_product(merchant, slug, price_minor=2000).variants.get()
        catalog.stock_set(variant=variant, warehouse=warehouse, quantity=5)
        return variant

    return make


@pytest.fixture
def split_order(ann, stocked_in, on_commit):
    """Ann's paid order of a mug packed in 1 day and a lamp packed in 3: Shop A's two warehouses, two parcels."""
    cart = cart_with(stocked_in("fast-mug", "fast", 1), user=ann)
    services.cart_line_add(cart=cart, variant_id=stocked_in("slow-lamp", "slow", 3).pk, quantity=1, country="US")
    order = checkout(cart, user=ann)
    on_commit(services.order_pay, order=order)
    return Order.objects.get(pk=order.pk)


def _packed(order: Order, operator) -> list[Shipment]:
    parcels = services.order_fulfil(order=order, actor=operator)
    # Two different days, or showing "the order's day" twice would pass for each parcel's own.
    assert len({p.eta for p in parcels}) == 2 and all(p.eta for p in parcels)
    return parcels


def test_the_shopper_s_api_gives_each_parcel_its_own_day(client, ann, split_order, operator):
    client.force_login(ann)
    parcels = _packed(split_order, operator)

    body = client.get(f"/api/v1/orders/{split_order.reference}").json()

    assert [(s["id"], s["eta"]) for s in body["shipments"]] == [(p.pk, p.eta.isoformat()) for p in parcels]
    assert body["eta"] == max(p.eta for p in parcels).isoformat()

    # A parcel packed before parcels had their own day says so (null), not the order's day.
    Shipment.objects.filter(pk=parcels[0].pk).update(eta=None)
    body = client.get(f"/api/v1/orders/{split_order.reference}").json()
    assert [s["eta"] for s in body["shipments"]] == [None, parcels[1].eta.isoformat()]


def test_the_merchant_s_api_gives_each_of_their_parcels_its_day(client, split_order, staff_a):
    client.force_login(staff_a)

    r = client.post(f"/api/v1/orders/{split_order.reference}/steps/fulfil", {}, content_type="application/json")

    assert r.status_code == 200, r.json()
    parcels = list(split_order.shipments.order_by("pk"))
    assert len({p.eta for p in parcels}) == 2
    assert [(s["warehouse_name"], s["eta"]) for s in r.json()["shipments"]] == [
        (p.warehouse_name, p.eta.isoformat()) for p in parcels
    ]


def test_the_api_schema_documents_the_parcel_s_day(client):
    schema = client.get("/api/schema/?format=json").json()
    eta = schema["components"]["schemas"]["ShipmentOut"]["properties"]["eta"]
    assert eta["format"] == "date" and eta.get("nullable") is True
    assert "expected" in eta["description"]


@pytest.mark.parametrize("who", ["operator", "staff_a"])
def test_the_admin_shows_each_parcel_s_promised_day(client, request, split_order, operator, who):
    parcels = _packed(split_order, operator)
    client.force_login(request.getfixturevalue(who))

    page = client.get(reverse("admin:orders_order_change", args=[split_order.pk]))

    assert page.status_code == 200
    shown = re.findall(r'<td class="field-eta">\s*<p>([^<]*)</p>', page.content.decode())
    with translation.override("en"):
        assert shown == [formats.localize(p.eta) for p in parcels]


def _rows(client) -> dict[str, str]:
    """Each order's row of "My orders" by reference, as HTML."""
    response = client.get("/orders/")
    assert response.status_code == 200
    rows = response.content.decode().split('data-testid="order-row"')[1:]
    return {re.search(r">(LM-[^<]+)</a>", row).group(1): row.split("</tr>")[0] for row in rows}


def _words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _delivery_cell(row: str) -> str:
    return _words(re.search(r'data-testid="delivery">(.*?)</td>', row, re.S).group(1))


def test_my_orders_gives_a_split_order_each_parcel_s_day_and_a_single_parcel_its_one(
    client, ann, split_order, stocked_in, operator, on_commit
):
    one_box = checkout(cart_with(stocked_in("one-box", "other", 2), user=ann), user=ann)
    on_commit(services.order_pay, order=one_box)
    (one_parcel,) = services.order_fulfil(order=Order.objects.get(pk=one_box.pk), actor=operator)
    fast, slow = (format_day(p.eta, "en_US") for p in _packed(split_order, operator))
    client.force_login(ann)

    rows = _rows(client)

    split_row = rows[split_order.reference]
    assert re.findall(r'data-testid="parcel-eta">([^<]*)<', split_row) == [fast, slow]
    assert 'data-testid="eta"' not in split_row
    assert _delivery_cell(split_row) == f"Parcel 1 {fast} Parcel 2 {slow}"
    one_row = rows[one_box.reference]
    assert 'data-testid="parcel-eta"' not in one_row
    assert _delivery_cell(one_row) == format_day(one_parcel.eta, "en_US")


def test_my_orders_says_a_shipped_split_order_s_parcel_days_are_expected_until_delivered(
    client, ann, split_order, operator, on_commit
):
    parcels = _packed(split_order, operator)
    for parcel in parcels:
        on_commit(services.shipment_ship, shipment=parcel, tracking_number=f"1Z-{parcel.pk}", actor=operator)
    fast, slow = (format_day(p.eta, "en_US") for p in parcels)
    client.force_login(ann)

    cell = _delivery_cell(_rows(client)[split_order.reference])
    assert re.fullmatch(rf"Shipped on .+ Expected delivery Parcel 1 {fast} Parcel 2 {slow}", cell), cell

    on_commit(services.order_deliver, order=Order.objects.get(pk=split_order.pk), actor=operator)
    row = _rows(client)[split_order.reference]
    assert 'data-testid="parcel-eta"' not in row and _delivery_cell(row).startswith("Delivered on ")


def test_a_merchant_reads_the_order_page_s_labels_in_their_language(client, split_order, operator, staff_a):
    _packed(split_order, operator)
    client.force_login(staff_a)

    page = client.get(reverse("admin:orders_order_change", args=[split_order.pk]), HTTP_ACCEPT_LANGUAGE="es")

    assert page.status_code == 200 and page.headers["Content-Language"] == "es"
    html = page.content.decode()
    # The order's own fields (label) and its lines' and parcels' (column heads), as Django capitalises them.
    labels = dict(re.findall(r'class="form-row field-(\w+)[^"]*">.*?<label>([^<:]*):?</label>', html, re.S))
    heads = dict(re.findall(r'<th class="column-(\w+)[^"]*">\s*([^<]*?)\s*</th>', html))
    assert (labels["reference"], labels["shipping_option"], labels["eta"]) == (
        "Referencia",
        "Opción de envío",
        "Entrega prevista",
    )
    assert (heads["product_name"], heads["unit_price_minor"]) == (
        "Nombre del producto",
        "Precio unitario (en unidades menores)",
    )
    assert (heads["tracking_number"], heads["eta"]) == ("Número de seguimiento", "Entrega prevista")


def _parcel_days_on_the_order_page(client, order: Order) -> list[tuple[str, str]]:
    page = client.get(reverse("orders:detail", args=[order.reference]))
    assert page.status_code == 200
    return re.findall(r"<dt>(Parcel \d+)</dt><dd data-testid=\"parcel-eta\">([^<]*)</dd>", page.content.decode())


def test_a_parcel_without_a_day_of_its_own_was_promised_the_order_s(client, ann, split_order, operator):
    parcels = _packed(split_order, operator)
    client.force_login(ann)
    # Packed before parcels had their own day: the order's day was its promise, and it keeps its number.
    Shipment.objects.filter(pk=parcels[0].pk).update(eta=None)
    order_day, second_day = format_day(split_order.eta, "en_US"), format_day(parcels[1].eta, "en_US")

    assert _parcel_days_on_the_order_page(client, split_order) == [("Parcel 1", order_day), ("Parcel 2", second_day)]
    cell = _delivery_cell(_rows(client)[split_order.reference])
    assert cell == f"Parcel 1 {order_day} Parcel 2 {second_day}"


def test_a_parcel_that_arrived_is_no_longer_expected_and_the_next_keeps_its_number(
    client, ann, split_order, operator, on_commit
):
    parcels = _packed(split_order, operator)
    for parcel in parcels:
        on_commit(services.shipment_ship, shipment=parcel, tracking_number=f"1Z-{parcel.pk}", actor=operator)
    on_commit(services.shipments_deliver, order=split_order, shipment_ids=[parcels[0].pk], actor=operator)
    assert Order.objects.get(pk=split_order.pk).status == Order.Status.SHIPPED  # the second is still on its way
    client.force_login(ann)
    second_day = format_day(parcels[1].eta, "en_US")

    assert _parcel_days_on_the_order_page(client, split_order) == [("Parcel 2", second_day)]
    cell = _delivery_cell(_rows(client)[split_order.reference])
    assert re.fullmatch(rf"Shipped on .+ Expected delivery Parcel 2 {second_day}", cell), cell


def test_the_shipped_mail_gives_each_parcel_its_day_after_its_tracking_number(split_order, operator, on_commit):
    parcels = _packed(split_order, operator)
    before = len(mail.outbox)
    for parcel in parcels:
        on_commit(services.shipment_ship, shipment=parcel, tracking_number=f"1Z-{parcel.pk}", actor=operator)

    (sent,) = mail.outbox[before:]
    fast, slow = (format_day(p.eta, "en_US") for p in parcels)
    assert (
        f"Tracking number: 1Z-{parcels[0].pk}\nExpected delivery: {fast}\n\n"
        f"Tracking number: 1Z-{parcels[1].pk}\nExpected delivery: {slow}\n"
    ) in sent.body
    assert sent.body.count("Expected delivery:") == 2  # not the order's day a third time
