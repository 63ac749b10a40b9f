"""Writes to the catalog: translations and their fallback, and bad input refused with clear messages."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import override

from apps.catalog import services
from apps.catalog.models import Category, Stock, Variant
from apps.compliance.models import CertificationType as Cert
from apps.errors import ApplicationError
from tests.catalog.factories import make_product, today

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def _error_fields(call) -> dict[str, list[str]]:
    with pytest.raises(ApplicationError) as caught:
        call()
    return caught.value.fields


# --- Translations ---------------------------------------------------------------------


def test_names_are_shown_in_the_shoppers_language_and_fall_back_to_the_region_default(merchant):
    product = services.product_create(
        region=settings.REGION,
        merchant=merchant,
        slug="silk-scarf",
        names={"en": "Silk scarf", "es": "Pañuelo de seda"},
        descriptions={"en": "Pure mulberry silk."},
    )
    with override("es"):
        assert product.name == "Pañuelo de seda"
        assert product.description == "Pure mulberry silk."  # no Spanish description: the default's
    with override("pt"):
        assert product.name == "Silk scarf"
    # The active language at creation does not leak into another language's field.
    assert product.name_pt is None


def test_a_product_needs_its_name_in_the_region_default_language(merchant, region):
    fields = _error_fields(
        lambda: services.product_create(region=region, merchant=merchant, slug="x", names={"es": "Sólo español"})
    )
    assert "name_en" in fields and "region's default language" in fields["name_en"][0]


def test_in_me_south_arabic_is_the_required_language(merchant, use_region):
    region = use_region("me-south")
    fields = _error_fields(
        lambda: services.product_create(region=region, merchant=merchant, slug="dates", names={"en": "Dates"})
    )
    assert list(fields) == ["name_ar"]
    product = services.product_create(region=region, merchant=merchant, slug="dates", names={"ar": "تمور"})
    assert product.name_ar == "تمور"


def test_names_in_languages_the_region_does_not_offer_are_refused(merchant, region):
    with override("en"):
        fields = _error_fields(
            lambda: services.product_create(
                region=region, merchant=merchant, slug="x", names={"en": "Scarf", "ar": "وشاح"}
            )
        )
    assert fields["language"] == [
        "Not offered here: ar (Arabic); valid values: en (English), es (Spanish), pt (Portuguese), fr (French)"
    ]


def test_me_south_falls_back_to_arabic():
    """Fallback is fixed when the process starts, so a me-south process is started for it."""
    code = textwrap.dedent(
        """
        import django
        django.setup()
        from django.utils.translation import override
        from apps.catalog.models import Category, Product
        product = Product(name_ar="وشاح حريري", name_en=None)
        category = Category(name_ar="أزياء")
        with override("en"):
            print(product.name, category.name, sep="|")
        """
    )
    env = {**os.environ, "REGION": "me-south", "DJANGO_SETTINGS_MODULE": "livemall.settings"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "وشاح حريري|أزياء"


def test_category_names_are_translated_and_required_in_the_default_language(region):
    category = services.category_create(region=region, slug="fashion", names={"en": "Fashion", "es": "Moda"})
    with override("es"):
        assert Category.objects.get(pk=category.pk).name == "Moda"
    with override("pt"):
        assert Category.objects.get(pk=category.pk).name == "Fashion"
    fields = _error_fields(lambda: services.category_create(region=region, slug="home", names={"es": "Hogar"}))
    assert "name_en" in fields


def test_a_category_cannot_sit_below_itself(region):
    root = services.category_create(region=region, slug="root", names={"en": "Root"})
    child = services.category_create(region=region, slug="child", names={"en": "Child"}, parent=root)
    root.parent = child
    with pytest.raises(Exception) as caught:
        root.full_clean()
    assert "cannot sit below itself" in str(caught.value)


# --- Variants, SKUs and prices --------------------------------------------------------


@pytest.mark.parametrize("sku", ["ab-1", "AB", "A B-1", "-ABC", "ABC-", "AB--C", "ÄBC-1", "X" * 41, "ABC_1"])
def test_malformed_skus_are_refused(merchant, region, sku):
    product = make_product(merchant, "mug")
    fields = _error_fields(lambda: services.variant_create(region=region, product=product, sku=sku, price_minor=100))
    assert "sku" in fields


def test_well_formed_sku_and_price_in_the_settlement_currency(merchant, region):
    product = make_product(merchant, "tshirt")
    variant = services.variant_create(
        region=region,
        product=product,
        sku="TSHIRT-RED-XL",
        price_minor=2499,
        attributes={"size": "XL", "colour": "red"},
    )
    assert (variant.merchant_id, variant.currency, variant.price_minor) == (merchant.pk, "USD", 2499)


def test_sku_is_unique_per_merchant_not_across_merchants(merchant, merchant_b, region):
    make_product(merchant, "mug")  # SKU "MUG"
    other = make_product(merchant, "cup")
    fields = _error_fields(lambda: services.variant_create(region=region, product=other, sku="MUG", price_minor=1))
    assert "already uses the SKU MUG" in fields["sku"][0]
    make_product(merchant_b, "mug")  # another merchant may use the same code


def test_negative_price_is_refused_by_the_service_and_the_database(merchant, region):
    product = make_product(merchant, "mug")
    fields = _error_fields(lambda: services.variant_create(region=region, product=product, sku="MUG-2", price_minor=-1))
    assert "price_minor" in fields
    with pytest.raises(IntegrityError), transaction.atomic():
        Variant.objects.filter(product=product).update(price_minor=-5)


def test_the_database_refuses_a_malformed_sku_written_around_the_model(merchant):
    product = make_product(merchant, "mug")
    with pytest.raises(IntegrityError), transaction.atomic():
        Variant.objects.filter(product=product).update(sku="lower case")


@pytest.mark.parametrize(
    "attributes", [{"Size": "XL"}, {"size": ""}, {"size": 42}, ["XL"], {f"a{i}": "x" for i in range(11)}]
)
def test_malformed_variant_attributes_are_refused(merchant, region, attributes):
    product = make_product(merchant, "mug")
    fields = _error_fields(
        lambda: services.variant_create(
            region=region, product=product, sku="MUG-X", price_minor=1, attributes=attributes
        )
    )
    assert "attributes" in fields


# --- Stock ----------------------------------------------------------------------------


def test_stock_is_never_negative(merchant):
    product = make_product(merchant, "mug")
    warehouse = services.warehouse_create(merchant=merchant, code="main", name="Main", country="us")
    variant = product.variants.get()
    assert warehouse.country == "US"
    fields = _error_fields(lambda: services.stock_set(variant=variant, warehouse=warehouse, quantity=-1))
    assert "quantity" in fields
    stock = services.stock_set(variant=variant, warehouse=warehouse, quantity=7)
    assert services.stock_set(variant=variant, warehouse=warehouse, quantity=3).pk == stock.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        Stock.objects.filter(pk=stock.pk).update(quantity=-1)


def test_stock_cannot_lie_in_another_merchants_warehouse(merchant, merchant_b):
    variant = make_product(merchant, "mug").variants.get()
    theirs = services.warehouse_create(merchant=merchant_b, code="main", name="B's", country="US")
    fields = _error_fields(lambda: services.stock_set(variant=variant, warehouse=theirs, quantity=1))
    assert "another merchant" in fields["warehouse"][0]


def test_warehouse_country_must_be_an_iso_code(merchant):
    fields = _error_fields(lambda: services.warehouse_create(merchant=merchant, code="x", name="X", country="USA"))
    assert "country" in fields


# --- Ingredients and certifications -----------------------------------------------------


def test_e_numbers_are_normalised_and_checked(merchant, region):
    product = make_product(merchant, "candy", e_numbers=("e 171", "E160a(ii)", "e927A"))
    assert sorted(product.ingredients.values_list("e_number", flat=True)) == ["E160a(ii)", "E171", "E927a"]
    with pytest.raises(ApplicationError) as caught:
        make_product(merchant, "gum", e_numbers=("171",))
    assert "e_number" in caught.value.fields


def test_an_ingredient_needs_a_name_or_an_e_number(merchant, region):
    product = make_product(merchant, "candy")
    fields = _error_fields(
        lambda: services.product_ingredients_set(
            region=region, product=product, ingredients=[services.IngredientInput(names={"es": "azúcar"})]
        )
    )
    assert "name_en" in fields


def test_an_already_expired_certificate_cannot_be_added(merchant):
    product = make_product(merchant, "dates")
    fields = _error_fields(
        lambda: services.certification_add(
            product=product, type=Cert.HALAL, issuer="X", number="H-1", valid_until=today() - dt.timedelta(days=1)
        )
    )
    assert "expired" in fields["valid_until"][0]


def test_a_certificate_cannot_end_before_it_starts(merchant):
    product = make_product(merchant, "dates")
    fields = _error_fields(
        lambda: services.certification_add(
            product=product,
            type=Cert.HALAL,
            issuer="X",
            number="H-1",
            valid_from=today() + dt.timedelta(days=10),
            valid_until=today() + dt.timedelta(days=5),
        )
    )
    assert "valid_until" in fields


def test_an_unknown_certification_type_is_refused(merchant):
    product = make_product(merchant, "dates")
    fields = _error_fields(
        lambda: services.certification_add(
            product=product, type="kosher-ish", issuer="X", number="1", valid_until=today() + dt.timedelta(days=5)
        )
    )
    assert "type" in fields


def test_an_unknown_product_attribute_is_refused(merchant, region):
    fields = _error_fields(
        lambda: services.product_create(
            region=region, merchant=merchant, slug="x", names={"en": "X"}, attributes=("is_radioactive",)
        )
    )
    assert "is_food" in fields["attributes"][0]


def test_the_same_slug_twice_for_one_merchant_is_refused(merchant, region):
    make_product(merchant, "mug")
    fields = _error_fields(
        lambda: services.product_create(region=region, merchant=merchant, slug="mug", names={"en": "Mug"})
    )
    assert "slug" in fields
