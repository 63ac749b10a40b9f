"""The merchant console through the real admin: isolation between merchants, clear errors.

Staff of merchant A must not list, view, change or delete merchant B's rows, nor
create rows for B by crafting POST data; operators see both.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.urls import reverse

from apps.catalog.models import Certification, Product, Stock, Variant, Warehouse
from apps.compliance.models import CertificationType as Cert
from apps.compliance.models import ProductAttribute as A
from tests.catalog.factories import make_product, today

pytestmark = pytest.mark.django_db


def _value(bound) -> object:
    value = bound.value()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def form_data(response, **overrides) -> dict:
    """The POST an admin page would send back unchanged, with ``overrides`` applied."""
    data: dict[str, object] = {}
    form = response.context["adminform"].form
    for name in form.fields:
        data[name] = _value(form[name])
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            data[f"{formset.prefix}-{name}"] = _value(formset.management_form[name])
        for inline_form in formset.forms:
            for name in inline_form.fields:
                data[inline_form.add_prefix(name)] = _value(inline_form[name])
    data.update(overrides)
    return {key: value for key, value in data.items() if value != ""}


def _url(model: str, action: str, *args) -> str:
    return reverse(f"admin:catalog_{model}_{action}", args=args)


KINDS = ["product", "variant", "warehouse", "stock", "certification"]


def test_merchant_staff_get_the_catalog_permissions_through_their_group(staff_a, merchant_b):
    assert staff_a.is_staff and not staff_a.is_superuser
    assert staff_a.groups.filter(name="Merchant staff").exists()
    assert staff_a.has_perm("catalog.change_product") and staff_a.has_perm("catalog.delete_stock")
    assert staff_a.has_perm("catalog.view_category") and not staff_a.has_perm("catalog.change_category")
    assert not staff_a.has_perm("compliance.change_productrule")


@pytest.mark.parametrize("kind", KINDS)
def test_staff_list_only_their_own_merchants_rows(client, staff_a, world, kind):
    client.force_login(staff_a)
    response = client.get(_url(kind, "changelist"))
    assert response.status_code == 200
    shown = set(response.context["cl"].result_list)
    assert world["a"][kind] in shown and world["b"][kind] not in shown


@pytest.mark.parametrize("kind", KINDS)
def test_operators_list_every_merchants_rows(client, operator, world, kind):
    client.force_login(operator)
    shown = set(client.get(_url(kind, "changelist")).context["cl"].result_list)
    assert {world["a"][kind], world["b"][kind]} <= shown


@pytest.mark.parametrize("kind", KINDS)
def test_staff_cannot_view_change_or_delete_another_merchants_row(client, staff_a, world, kind):
    client.force_login(staff_a)
    theirs = world["b"][kind]
    own = world["a"][kind]
    assert client.get(_url(kind, "change", own.pk)).status_code == 200
    for action in ("change", "delete", "history"):
        response = client.get(_url(kind, action, theirs.pk))
        # The admin answers as if the row did not exist: a redirect with "doesn't exist".
        assert response.status_code == 302, action
        assert response.url == reverse("admin:index")
    client.post(_url(kind, "delete", theirs.pk), {"post": "yes"})
    client.post(_url(kind, "change", theirs.pk), {"quantity": 0, "sku": "HACKED", "name_en": "Hacked"})
    client.post(_url(kind, "changelist"), {"action": "delete_selected", "_selected_action": [theirs.pk], "post": "yes"})
    theirs.refresh_from_db()
    assert str(theirs) != "HACKED"
    if kind == "stock":
        assert theirs.quantity == 10


def test_staff_cannot_create_a_product_for_another_merchant(client, staff_a, merchant_b):
    client.force_login(staff_a)
    page = client.get(_url("product", "add"))
    assert [m.pk for m in page.context["adminform"].form.fields["merchant"].queryset] == [
        staff_a.memberships.get().merchant_id
    ]
    response = client.post(
        _url("product", "add"), form_data(page, merchant=merchant_b.pk, slug="sneaky", name_en="Sneaky")
    )
    assert response.status_code == 200
    assert "merchant" in response.context["adminform"].form.errors
    assert not Product.objects.filter(slug="sneaky").exists()


def test_staff_cannot_move_their_product_to_another_merchant(client, staff_a, world):
    client.force_login(staff_a)
    product = world["a"]["product"]
    page = client.get(_url("product", "change", product.pk))
    response = client.post(
        _url("product", "change", product.pk), form_data(page, merchant=world["b"]["product"].merchant_id)
    )
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.merchant_id == world["a"]["product"].merchant_id


def test_staff_cannot_attach_a_variant_certificate_or_stock_to_another_merchants_rows(client, staff_a, world):
    client.force_login(staff_a)
    theirs, own = world["b"], world["a"]

    page = client.get(_url("variant", "add"))
    response = client.post(
        _url("variant", "add"), form_data(page, product=theirs["product"].pk, sku="SNEAKY-1", price_minor=1)
    )
    assert "product" in response.context["adminform"].form.errors
    assert not Variant.objects.filter(sku="SNEAKY-1").exists()

    page = client.get(_url("certification", "add"))
    response = client.post(
        _url("certification", "add"),
        form_data(
            page,
            product=theirs["product"].pk,
            type=Cert.HALAL,
            issuer="X",
            number="SNEAKY",
            valid_until=(today() + dt.timedelta(days=9)).isoformat(),
        ),
    )
    assert "product" in response.context["adminform"].form.errors
    assert not Certification.objects.filter(number="SNEAKY").exists()

    page = client.get(_url("stock", "add"))
    for variant, warehouse in ((own["variant"], theirs["warehouse"]), (theirs["variant"], own["warehouse"])):
        response = client.post(
            _url("stock", "add"), form_data(page, variant=variant.pk, warehouse=warehouse.pk, quantity=5)
        )
        assert response.context["adminform"].form.errors
    assert Stock.objects.count() == 2

    page = client.get(_url("warehouse", "add"))
    response = client.post(
        _url("warehouse", "add"),
        form_data(page, merchant=theirs["warehouse"].merchant_id, code="sneaky", name="Sneaky", country="US"),
    )
    assert "merchant" in response.context["adminform"].form.errors
    assert not Warehouse.objects.filter(code="sneaky").exists()


def test_staff_cannot_pull_another_merchants_variant_into_their_product_form(client, staff_a, world):
    client.force_login(staff_a)
    product, theirs = world["a"]["product"], world["b"]["variant"]
    page = client.get(_url("product", "change", product.pk))
    data = form_data(page)
    # Claim B's variant as an existing row of A's product, and rename it.
    data.update({"variants-TOTAL_FORMS": 2, "variants-INITIAL_FORMS": 2})
    data.update({"variants-1-id": theirs.pk, "variants-1-sku": "STOLEN", "variants-1-price_minor": 1})
    data.update({"variants-1-attributes": "{}", "variants-1-position": 0, "variants-1-is_active": "on"})
    response = client.post(_url("product", "change", product.pk), data)
    # Django ignores an "existing" row that is not among the product's own variants.
    assert response.status_code in (200, 302)
    theirs.refresh_from_db()
    assert (theirs.sku, theirs.product_id, theirs.price_minor) == ("DATES-B", world["b"]["product"].pk, 1000)
    assert not Variant.objects.filter(sku="STOLEN").exists()


def test_staff_create_a_product_with_variants_for_their_merchant(client, staff_a, merchant):
    client.force_login(staff_a)
    page = client.get(_url("product", "add"))
    data = form_data(page, merchant=merchant.pk, slug="linen-shirt", name_en="Linen shirt", name_es="Camisa de lino")
    data.update({"variants-TOTAL_FORMS": 2})
    for i, (sku, price, size) in enumerate((("SHIRT-M", 3900, "M"), ("SHIRT-L", 4100, "L"))):
        data.update(
            {
                f"variants-{i}-sku": sku,
                f"variants-{i}-price_minor": price,
                f"variants-{i}-attributes": json.dumps({"size": size}),
                f"variants-{i}-position": i,
                f"variants-{i}-is_active": "on",
            }
        )
    response = client.post(_url("product", "add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    product = Product.objects.get(slug="linen-shirt")
    assert product.merchant == merchant
    assert sorted(product.variants.values_list("sku", "merchant_id", "currency")) == [
        ("SHIRT-L", merchant.pk, "USD"),
        ("SHIRT-M", merchant.pk, "USD"),
    ]


def test_the_product_form_offers_the_regions_languages_only(client, staff_a, merchant, use_region):
    client.force_login(staff_a)
    for code in ("us-east", "me-south"):
        region = use_region(code)
        page = client.get(_url("product", "add"))
        fields = set(page.context["adminform"].form.fields)
        ingredient_fields = set(
            next(
                i for i in page.context["inline_admin_formsets"] if i.formset.prefix == "ingredients"
            ).formset.form.base_fields
        )
        for language in ("en", "es", "pt", "ar", "th", "zh_hans"):
            offered = language.replace("_", "-") in region.languages
            assert (f"name_{language}" in fields) is offered, (code, language)
            assert (f"description_{language}" in fields) is offered, (code, language)
            assert (f"name_{language}" in ingredient_fields) is offered, (code, language)
            assert (f'name="name_{language}"' in page.content.decode()) is offered, (code, language)


def _errors_text(response) -> str:
    form = response.context["adminform"].form
    parts = [str(form.errors)]
    for inline in response.context["inline_admin_formsets"]:
        parts += [str(inline.formset.errors), str(inline.formset.non_form_errors())]
    return " ".join(parts)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"name_en": "", "name_es": "Sólo español"}, "region&#x27;s default language"),
        ({"variants-0-sku": "bad sku"}, "capital letters"),
        ({"variants-0-price_minor": -100}, "greater than or equal to 0"),
        ({"variants-0-attributes": '{"Size": "XL"}'}, "lower-case words"),
        ({"variants-0-attributes": "not json"}, "Enter a valid JSON"),
        ({"certifications-0-valid_until": "2001-01-01"}, "expired on 2001-01-01"),
        ({"ingredients-0-e_number": "171"}, "E-number such as E171"),
    ],
)
def test_bad_input_in_the_product_form_gives_a_message_not_a_500(client, staff_a, world, overrides, expected):
    client.force_login(staff_a)
    product = world["a"]["product"]
    product.ingredients.create(e_number="E330")
    page = client.get(_url("product", "change", product.pk))
    response = client.post(_url("product", "change", product.pk), form_data(page, **overrides))
    assert response.status_code == 200
    assert expected in _errors_text(response) or expected in response.content.decode()


def test_two_new_variants_with_the_same_sku_give_a_message(client, staff_a, world):
    client.force_login(staff_a)
    product = world["a"]["product"]
    page = client.get(_url("product", "change", product.pk))
    data = form_data(page)
    data.update({"variants-TOTAL_FORMS": 3})
    for i in (1, 2):
        data.update({f"variants-{i}-sku": "TWIN", f"variants-{i}-price_minor": 1, f"variants-{i}-attributes": "{}"})
        data[f"variants-{i}-position"] = 0
    response = client.post(_url("product", "change", product.pk), data)
    assert response.status_code == 200
    assert "appears twice" in _errors_text(response)
    assert not Variant.objects.filter(sku="TWIN").exists()


def test_a_new_product_reusing_an_sku_of_the_merchant_gives_a_message(client, staff_a, world, merchant):
    client.force_login(staff_a)
    page = client.get(_url("product", "add"))
    data = form_data(page, merchant=merchant.pk, slug="copy", name_en="Copy")
    data.update({"variants-TOTAL_FORMS": 1, "variants-0-sku": "DATES-A", "variants-0-price_minor": 5})
    data.update({"variants-0-attributes": "{}", "variants-0-position": 0})
    response = client.post(_url("product", "add"), data)
    assert response.status_code == 200
    assert "already uses the SKU DATES-A" in _errors_text(response)


def test_negative_stock_in_the_stock_page_gives_a_message(client, staff_a, world):
    client.force_login(staff_a)
    stock = world["a"]["stock"]
    page = client.get(_url("stock", "change", stock.pk))
    response = client.post(_url("stock", "change", stock.pk), form_data(page, quantity=-3))
    assert response.status_code == 200
    assert "quantity" in response.context["adminform"].form.errors
    stock.refresh_from_db()
    assert stock.quantity == 10


def test_an_expired_certificate_cannot_be_added_in_the_admin(client, staff_a, world):
    client.force_login(staff_a)
    page = client.get(_url("certification", "add"))
    response = client.post(
        _url("certification", "add"),
        form_data(
            page,
            product=world["a"]["product"].pk,
            type=Cert.HALAL,
            issuer="X",
            number="OLD",
            valid_until=(today() - dt.timedelta(days=1)).isoformat(),
        ),
    )
    assert response.status_code == 200
    assert "expired" in str(response.context["adminform"].form.errors["valid_until"])


def test_the_product_page_tells_the_merchant_where_and_why_it_is_hidden(client, staff_a, merchant, use_region):
    use_region("me-south")
    make_product(merchant, "perfume", attributes=(A.CONTAINS_ALCOHOL,), names={"ar": "عطر"})
    perfume = Product.objects.get(slug="perfume")
    client.force_login(staff_a)
    page = client.get(_url("product", "change", perfume.pk)).content.decode()
    assert "مخفي في" in page  # "Hidden in", in the region's default language
    for country in ("SA", "KW", "QA"):
        assert f"<th scope='row'>{country}</th>" in page or f'<th scope="row">{country}</th>' in page
    # The console speaks the region's default language, and so do the rule messages.
    assert '<html lang="ar" dir="rtl">' in page
    assert "لا يمكن بيع المنتجات التي تحتوي على الكحول في المملكة العربية السعودية." in page
    assert '<th scope="row">AE</th>' not in page and "<th scope='row'>AE</th>" not in page
    listing = client.get(_url("product", "changelist")).content.decode()
    assert "KW, QA, SA" in listing


def test_merchant_staff_cannot_edit_rules_or_categories(client, staff_a):
    client.force_login(staff_a)
    assert client.get(reverse("admin:compliance_productrule_changelist")).status_code == 403
    assert client.get(reverse("admin:catalog_category_add")).status_code == 403
    assert client.get(reverse("admin:catalog_category_changelist")).status_code == 200


def test_operators_edit_rules_in_the_admin_with_clear_errors(client, operator):
    client.force_login(operator)
    page = client.get(reverse("admin:compliance_productrule_add"))
    response = client.post(
        reverse("admin:compliance_productrule_add"),
        form_data(page, name="Odd", kind="require_certification", message_en="x", is_active="on"),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "country" in errors and "certification_type" in errors
