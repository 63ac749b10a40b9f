"""The merchant API (/api/v1/merchant/): merchant staff manage their own catalog, nobody else's.

Staff of merchant A must not list, view, change or delete merchant B's products, variants,
stock or certificates (404, B's rows unchanged); operators see both; shoppers and anonymous
callers are refused; every bad input answers 400 naming the field and writes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts import services as accounts
from apps.catalog import services
from apps.catalog.models import Certification, Product, Stock, Variant, Warehouse
from apps.compliance.models import CertificationType as Cert
from apps.compliance.models import ProductAttribute as A
from tests.catalog.factories import make_product, today

pytestmark = pytest.mark.django_db

PRODUCTS = reverse("catalog-api:merchant-product-list")
WAREHOUSES = reverse("catalog-api:merchant-warehouse-list")


def product_url(pk: int) -> str:
    return reverse("catalog-api:merchant-product-detail", args=[pk])


def variants_url(product_pk: int) -> str:
    return reverse("catalog-api:merchant-product-variants", args=[product_pk])


def certifications_url(product_pk: int) -> str:
    return reverse("catalog-api:merchant-product-certifications", args=[product_pk])


def variant_url(pk: int) -> str:
    return reverse("catalog-api:merchant-variant-detail", args=[pk])


def stock_url(variant_pk: int, warehouse: str | None = None) -> str:
    if warehouse is None:
        return reverse("catalog-api:merchant-variant-stock", args=[variant_pk])
    return reverse("catalog-api:merchant-variant-stock-row", args=[variant_pk, warehouse])


def certification_url(pk: int) -> str:
    return reverse("catalog-api:merchant-certification-detail", args=[pk])


def send(client: Client, method: str, url: str, data: Any = None, **extra: Any):
    return getattr(client, method)(url, data, content_type="application/json", **extra)


def error(response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()["error"]
    assert set(body) == {"code", "message", "fields"} and body["message"]
    return body


@pytest.fixture
def staff(client, staff_a):
    client.force_login(staff_a)
    return client


def snapshot(rows: dict[str, Any]) -> dict[str, Any]:
    """Everything of one merchant's rows that an attack could change."""
    return {
        "product": list(Product.objects.filter(pk=rows["product"].pk).values()),
        "variant": list(Variant.objects.filter(pk=rows["variant"].pk).values()),
        "stock": list(Stock.objects.filter(pk=rows["stock"].pk).values()),
        "certification": list(Certification.objects.filter(pk=rows["certification"].pk).values()),
        "warehouse": list(Warehouse.objects.filter(pk=rows["warehouse"].pk).values()),
    }


def new_product(**overrides: Any) -> dict[str, Any]:
    body = {
        "slug": "mug",
        "names": {"en": "Mug", "es": "Taza"},
        "descriptions": {"en": "Holds 350 ml."},
        "attributes": [A.IS_FOOD],
        "variants": [
            {"sku": "MUG-RED", "price_minor": 1200, "attributes": {"colour": "red"}},
            {"sku": "MUG-BLUE", "price_minor": 1250, "attributes": {"colour": "blue"}, "is_active": False},
        ],
    }
    body.update(overrides)
    return body


# --- happy paths --------------------------------------------------------------------------


def test_staff_create_a_product_with_its_variants_in_one_request(staff, merchant):
    response = send(staff, "post", PRODUCTS, new_product())
    assert response.status_code == 201, response.content
    body = response.json()
    product = Product.objects.get(pk=body["id"])
    assert product.merchant == merchant and product.name_en == "Mug" and product.name_es == "Taza"
    assert product.is_food and not product.contains_alcohol
    assert sorted(product.variants.values_list("sku", "price_minor", "is_active")) == [
        ("MUG-BLUE", 1250, False),
        ("MUG-RED", 1200, True),
    ]
    assert body["merchant"] == "shop-a"
    assert body["names"] == {"en": "Mug", "es": "Taza", "pt": "", "fr": ""}
    assert body["attributes"] == [A.IS_FOOD]
    assert {v["sku"]: v["currency"] for v in body["variants"]} == {"MUG-RED": "USD", "MUG-BLUE": "USD"}


def test_list_shows_own_products_on_sale_or_not_with_paging(staff, world, merchant):
    make_product(merchant, "switched-off", is_active=False)
    response = staff.get(PRODUCTS, {"page_size": 1})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and len(body["results"]) == 1 and body["next"]
    slugs = {item["slug"] for item in body["results"]} | {
        item["slug"] for item in staff.get(body["next"]).json()["results"]
    }
    assert slugs == {"dates-a", "switched-off"}


def test_view_and_change_a_product_per_language(staff, world, region):
    product = world["a"]["product"]
    category = services.category_create(region=region, slug="pantry", names={"en": "Pantry"})
    assert staff.get(product_url(product.pk)).json()["variants"][0]["stock"] == [{"warehouse": "wh-a", "quantity": 10}]
    response = send(
        staff,
        "patch",
        product_url(product.pk),
        {"names": {"es": "Dátiles"}, "category": "pantry", "attributes": [A.IS_FOOD, A.CLAIMS_ORGANIC]},
    )
    assert response.status_code == 200, response.content
    product.refresh_from_db()
    assert product.name_en == "Dates A" and product.name_es == "Dátiles"
    assert product.category == category and product.claims_organic
    assert response.json()["names"]["es"] == "Dátiles"
    assert send(staff, "patch", product_url(product.pk), {"category": None}).json()["category"] is None


def test_an_unsold_product_is_deleted_with_its_rows(staff, world):
    rows = world["a"]
    assert staff.delete(product_url(rows["product"].pk)).status_code == 204
    assert not Product.objects.filter(pk=rows["product"].pk).exists()
    assert not Variant.objects.filter(pk=rows["variant"].pk).exists()
    assert Warehouse.objects.filter(pk=rows["warehouse"].pk).exists()


def test_an_ordered_product_cannot_be_deleted_but_can_be_taken_off_sale(staff, world, settings, celery_inline):
    from tests.orders.conftest import cart_with, checkout

    settings.PAYMENT_TEST_PROVIDER = True
    settings.STRIPE_SECRET_KEY = None
    settings.PAYPAL_CLIENT_ID = None
    rows = world["a"]
    checkout(cart_with(rows["variant"], 1))
    for url in (product_url(rows["product"].pk), variant_url(rows["variant"].pk)):
        body = error(staff.delete(url), 409)
        assert body["code"] == "in_use"
    assert Variant.objects.filter(pk=rows["variant"].pk).exists()
    response = send(staff, "patch", product_url(rows["product"].pk), {"is_active": False})
    assert response.status_code == 200 and response.json()["is_active"] is False


def test_variants_are_added_changed_and_deleted(staff, world):
    product = world["a"]["product"]
    response = send(staff, "post", variants_url(product.pk), {"sku": "DATES-1KG", "price_minor": 3000})
    assert response.status_code == 201, response.content
    variant = Variant.objects.get(pk=response.json()["id"])
    assert variant.merchant_id == product.merchant_id
    assert {v["sku"] for v in staff.get(variants_url(product.pk)).json()} == {"DATES-A", "DATES-1KG"}
    response = send(staff, "patch", variant_url(variant.pk), {"price_minor": 2900, "attributes": {"size": "1kg"}})
    assert response.status_code == 200, response.content
    variant.refresh_from_db()
    assert (variant.price_minor, variant.attributes, variant.sku) == (2900, {"size": "1kg"}, "DATES-1KG")
    assert staff.delete(variant_url(variant.pk)).status_code == 204
    assert not Variant.objects.filter(pk=variant.pk).exists()


def test_stock_is_set_per_warehouse_and_removed(staff, world, merchant):
    variant = world["a"]["variant"]
    services.warehouse_create(merchant=merchant, code="overflow", name="Overflow", country="US")
    response = send(staff, "put", stock_url(variant.pk, "overflow"), {"quantity": 4})
    assert response.status_code == 200, response.content
    assert response.json() == {"warehouse": "overflow", "quantity": 4}
    response = send(staff, "put", stock_url(variant.pk, "wh-a"), {"quantity": 0})
    assert response.status_code == 200
    assert staff.get(stock_url(variant.pk)).json() == [
        {"warehouse": "overflow", "quantity": 4},
        {"warehouse": "wh-a", "quantity": 0},
    ]
    assert staff.delete(stock_url(variant.pk, "overflow")).status_code == 204
    assert list(variant.stocks.values_list("warehouse__code", "quantity")) == [("wh-a", 0)]
    assert staff.delete(stock_url(variant.pk, "overflow")).status_code == 404


def test_certificates_are_added_and_removed(staff, world):
    product = world["a"]["product"]
    valid_until = (today() + dt.timedelta(days=365)).isoformat()
    body = {"type": Cert.EU_ORGANIC, "issuer": "DE-ÖKO-001", "number": "EU-42", "valid_until": valid_until}
    response = send(staff, "post", certifications_url(product.pk), body)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["counts_today"] is True and created["valid_until"] == valid_until
    assert len(staff.get(certifications_url(product.pk)).json()) == 2
    assert staff.get(certification_url(created["id"])).json()["number"] == "EU-42"
    assert staff.delete(certification_url(created["id"])).status_code == 204
    assert not Certification.objects.filter(pk=created["id"]).exists()


def test_warehouses_are_listed_and_added(staff, world):
    assert [w["code"] for w in staff.get(WAREHOUSES).json()] == ["wh-a"]
    response = send(staff, "post", WAREHOUSES, {"code": "east", "name": "East", "country": "us"})
    assert response.status_code == 201, response.content
    assert response.json()["country"] == "US" and response.json()["merchant"] == "shop-a"
    assert error(send(staff, "post", WAREHOUSES, {"code": "east", "name": "East", "country": "US"}), 400)["fields"][
        "code"
    ]


def test_a_warehouse_says_how_many_working_days_it_packs_in(staff, world):
    assert (
        response_json(send(staff, "post", WAREHOUSES, {"code": "east", "name": "East", "country": "US"}))[
            "handling_days"
        ]
        == 1
    )
    slow = {"code": "west", "name": "West", "country": "US", "handling_days": 3}
    assert response_json(send(staff, "post", WAREHOUSES, slow))["handling_days"] == 3
    for bad in (-1, 31, "soon"):
        body = {"code": f"bad-{bad}", "name": "Bad", "country": "US", "handling_days": bad}
        assert error(send(staff, "post", WAREHOUSES, body), 400)["fields"]["handling_days"]
    assert sorted(w["code"] for w in staff.get(WAREHOUSES).json()) == ["east", "west", "wh-a"]


def response_json(response) -> dict:
    assert response.status_code == 201, response.content
    return response.json()


# --- isolation ----------------------------------------------------------------------------


def test_other_merchants_rows_never_appear_in_lists(staff, world):
    slugs = {item["slug"] for item in staff.get(PRODUCTS).json()["results"]}
    assert slugs == {"dates-a"}
    assert staff.get(PRODUCTS, {"merchant": "shop-b"}).json()["results"] == []
    assert [w["code"] for w in staff.get(WAREHOUSES).json()] == ["wh-a"]


def attempts(rows: dict[str, Any]) -> list[tuple[str, str, Any]]:
    product, variant, certification = rows["product"].pk, rows["variant"].pk, rows["certification"].pk
    return [
        ("get", product_url(product), None),
        ("patch", product_url(product), {"names": {"en": "Hacked"}, "is_active": False}),
        ("delete", product_url(product), None),
        ("get", variants_url(product), None),
        ("post", variants_url(product), {"sku": "HACKED", "price_minor": 1}),
        ("get", certifications_url(product), None),
        (
            "post",
            certifications_url(product),
            {"type": "halal", "issuer": "x", "number": "y", "valid_until": "2999-01-01"},
        ),
        ("get", variant_url(variant), None),
        ("patch", variant_url(variant), {"price_minor": 1, "sku": "HACKED"}),
        ("delete", variant_url(variant), None),
        ("get", stock_url(variant), None),
        ("put", stock_url(variant, "wh-b"), {"quantity": 0}),
        ("delete", stock_url(variant, "wh-b"), None),
        ("get", certification_url(certification), None),
        ("delete", certification_url(certification), None),
    ]


def test_staff_cannot_view_change_or_delete_another_merchants_rows(staff, world):
    before = snapshot(world["b"])
    for method, url, data in attempts(world["b"]):
        body = error(send(staff, method, url, data), 404)
        assert body["code"] == "not_found", (method, url)
    assert snapshot(world["b"]) == before


def test_staff_cannot_put_stock_of_their_variant_into_another_merchants_warehouse(staff, world):
    response = send(staff, "put", stock_url(world["a"]["variant"].pk, "wh-b"), {"quantity": 99})
    error(response, 404)
    assert not Stock.objects.filter(variant=world["a"]["variant"], warehouse=world["b"]["warehouse"]).exists()


def test_staff_cannot_move_a_product_to_another_merchant(staff, world):
    product = world["a"]["product"]
    body = error(send(staff, "patch", product_url(product.pk), {"merchant": "shop-b"}), 400)
    assert "merchant" in body["fields"]
    product.refresh_from_db()
    assert product.merchant.slug == "shop-a"


def test_operators_see_and_change_every_merchants_rows(client, operator, world):
    client.force_login(operator)
    assert {item["slug"] for item in client.get(PRODUCTS).json()["results"]} == {"dates-a", "dates-b"}
    for rows in world.values():
        assert client.get(product_url(rows["product"].pk)).status_code == 200
        assert client.get(variant_url(rows["variant"].pk)).status_code == 200
    # Acting for every merchant, an operator must say which one a new product is for.
    assert "merchant" in error(send(client, "post", PRODUCTS, new_product()), 400)["fields"]
    response = send(client, "post", PRODUCTS, new_product(merchant="shop-b"))
    assert response.status_code == 201 and response.json()["merchant"] == "shop-b"


def test_staff_of_several_merchants_say_which_one(client, make_user, merchant, merchant_b):
    user = make_user(email="both@shops.test")
    for shop in (merchant, merchant_b):
        accounts.merchant_staff_add(merchant=shop, user=user)
    client.force_login(user)
    body = error(send(client, "post", PRODUCTS, new_product()), 400)
    assert list(body["fields"]) == ["merchant"]
    response = send(client, "post", PRODUCTS, new_product(merchant="shop-b"))
    assert response.status_code == 201 and Product.objects.get(slug="mug").merchant == merchant_b


def test_anonymous_callers_and_shoppers_are_refused(client, make_user, world):
    urls = [PRODUCTS, product_url(world["a"]["product"].pk), WAREHOUSES]
    for url in urls:
        assert error(client.get(url), 403)["code"] == "not_authenticated"
    assert error(send(client, "post", PRODUCTS, new_product()), 403)["code"] == "not_authenticated"
    client.force_login(make_user(email="shopper@example.test"))
    for url in urls:
        assert error(client.get(url), 403)["code"] == "permission_denied"
    assert error(send(client, "post", PRODUCTS, new_product()), 403)["code"] == "permission_denied"
    assert not Product.objects.filter(slug="mug").exists()


# --- bad input ----------------------------------------------------------------------------


def _variant(**fields: Any) -> list[dict[str, Any]]:
    return [{"sku": "MUG-1", "price_minor": 100, **fields}]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"variants": _variant(sku="mug 1")}, "variants.0.sku"),
        ({"variants": _variant(sku="DATES-A")}, "variants.0.sku"),  # merchant A already uses it
        ({"variants": [*_variant(), *_variant()]}, "variants.1.sku"),
        ({"variants": _variant(price_minor=-1)}, "variants.0.price_minor"),
        ({"variants": _variant(price_minor="ten")}, "variants.0.price_minor"),
        ({"variants": _variant(price_minor=2**70)}, "variants.0.price_minor"),
        ({"variants": _variant(attributes={"Size!": "XL"})}, "variants.0.attributes"),
        ({"variants": _variant(colour="red")}, "variants.0.colour"),
        ({"variants": "MUG-1"}, "variants"),
        ({"names": {"es": "Taza"}}, "names.en"),
        ({"names": {"en": "   "}}, "names.en"),
        ({"names": {"en": "Mug", "xx": "?"}}, "names.xx"),
        ({"names": "Mug"}, "names"),
        ({"slug": "not a slug"}, "slug"),
        ({"slug": "dates-a"}, "slug"),  # merchant A already has it
        ({"attributes": ["is_magic"]}, "attributes.0"),
        ({"attributes": "is_food"}, "attributes"),
        ({"is_active": "perhaps"}, "is_active"),
        ({"category": "no-such-category"}, "category"),
        ({"merchant": "no-such-shop"}, "merchant"),
        ({"merchant": "shop-b"}, "merchant"),  # exists, but not theirs: reads the same
        ({"price": 100}, "price"),
    ],
)
def test_bad_product_input_answers_400_naming_the_field_and_writes_nothing(staff, world, overrides, field):
    before = Product.objects.count(), Variant.objects.count()
    body = error(send(staff, "post", PRODUCTS, new_product(**overrides)), 400)
    assert field in body["fields"], body
    assert all(isinstance(m, str) for messages in body["fields"].values() for m in messages)
    assert (Product.objects.count(), Variant.objects.count()) == before


def test_a_body_that_is_not_an_object_or_not_json_answers_400(staff, world):
    assert error(send(staff, "post", PRODUCTS, ["mug"]), 400)["fields"]
    assert error(staff.post(PRODUCTS, "{not json", content_type="application/json"), 400)["code"] == "parse_error"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"names": {"en": ""}}, "names.en"),
        ({"names": {"de": "Datteln"}}, "names.de"),
        ({"slug": ""}, "slug"),
        ({"attributes": ["is_magic"]}, "attributes.0"),
        ({"variants": []}, "variants"),
    ],
)
def test_bad_product_changes_answer_400_and_change_nothing(staff, world, change, field):
    product = world["a"]["product"]
    before = snapshot(world["a"])
    body = error(send(staff, "patch", product_url(product.pk), change), 400)
    assert field in body["fields"], body
    assert snapshot(world["a"]) == before


@pytest.mark.parametrize(
    ("method", "url", "data", "field"),
    [
        ("patch", "variant", {"price_minor": -5}, "price_minor"),
        ("patch", "variant", {"sku": "lower-case"}, "sku"),
        ("patch", "variant", {"currency": "EUR"}, "currency"),
        ("put", "stock", {"quantity": -1}, "quantity"),
        ("put", "stock", {"quantity": "many"}, "quantity"),
        ("put", "stock", {}, "quantity"),
        ("post", "variants", {"sku": "DATES-A", "price_minor": 1}, "sku"),
        (
            "post",
            "certifications",
            {"type": "halal", "issuer": "x", "number": "1", "valid_until": "2000-01-01"},
            "valid_until",
        ),
        (
            "post",
            "certifications",
            {"type": "magic", "issuer": "x", "number": "1", "valid_until": "2999-01-01"},
            "type",
        ),
        (
            "post",
            "certifications",
            {"type": "halal", "issuer": "x", "number": "1", "valid_until": "soon"},
            "valid_until",
        ),
    ],
)
def test_bad_variant_stock_and_certificate_input_answers_400(staff, world, method, url, data, field):
    rows = world["a"]
    target = {
        "variant": variant_url(rows["variant"].pk),
        "stock": stock_url(rows["variant"].pk, "wh-a"),
        "variants": variants_url(rows["product"].pk),
        "certifications": certifications_url(rows["product"].pk),
    }[url]
    before = snapshot(rows), Variant.objects.count(), Certification.objects.count()
    body = error(send(staff, method, target, data), 400)
    assert field in body["fields"], body
    assert (snapshot(rows), Variant.objects.count(), Certification.objects.count()) == before


def test_an_expired_certificate_is_refused_with_a_clear_message(staff, world):
    expired = today() - dt.timedelta(days=1)
    body = {"type": Cert.HALAL, "issuer": "JAKIM", "number": "H-1", "valid_until": expired.isoformat()}
    fields = error(send(staff, "post", certifications_url(world["a"]["product"].pk), body), 400)["fields"]
    assert expired.isoformat() in fields["valid_until"][0]


# --- sessions, CSRF and the storefront --------------------------------------------------------


def test_session_writes_need_the_csrf_token(staff_a, world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_a)
    assert client.get(PRODUCTS).status_code == 200
    body = error(send(client, "post", PRODUCTS, new_product()), 403)
    assert "CSRF" in body["message"]
    assert error(client.delete(product_url(world["a"]["product"].pk)), 403)
    assert not Product.objects.filter(slug="mug").exists() and Product.objects.filter(slug="dates-a").exists()
    token = "a" * 32
    client.cookies["csrftoken"] = token
    assert send(client, "post", PRODUCTS, new_product(), HTTP_X_CSRFTOKEN=token).status_code == 201


def test_the_storefront_shows_a_created_product_at_once(staff, client, world, django_capture_on_commit_callbacks):
    storefront = reverse("catalog-api:products")
    before = {item["slug"] for item in client.get(storefront, {"country": "US"}).json()["results"]}
    assert "mug" not in before  # and that listing is now cached
    with django_capture_on_commit_callbacks(execute=True):
        created = send(staff, "post", PRODUCTS, new_product(attributes=[]))
    assert created.status_code == 201
    assert "mug" in {item["slug"] for item in client.get(storefront, {"country": "US"}).json()["results"]}
    with django_capture_on_commit_callbacks(execute=True):
        send(staff, "patch", product_url(created.json()["id"]), {"is_active": False})
    assert "mug" not in {item["slug"] for item in client.get(storefront, {"country": "US"}).json()["results"]}
