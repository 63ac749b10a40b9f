"""The buying pages speak the shopper's language: payment methods by name, not code; one
date and one date-and-time style per locale (Babel, the shopper's zone); each line says which
variant it is.

Real PostgreSQL and Redis; Stripe and PayPal are the local fakes. No .po file may be edited
here, so the new msgids get a stand-in translation (``translations``); what Babel writes
(dates, units) is the real CLDR text.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
from django.conf import settings
from django.utils.translation import trans_real

from apps.accounts import services as accounts
from apps.catalog import services as catalog
from apps.money.formatting import format_day, format_moment
from apps.orders.models import Order
from apps.payments.method_labels import METHOD_LABELS
from regions import all_regions
from tests.orders.conftest import ADDRESSES, cart_with, checkout, page_text

pytestmark = pytest.mark.django_db

# What a translator would write for the msgids these pages add (context, msgid) → text.
ARABIC = {
    ("payment method", "Card"): "بطاقة",
    ("payment method", "Cash on delivery"): "الدفع عند الاستلام",
    ("product option", "Size"): "الحجم",
}
GERMAN = {
    ("payment method", "Card"): "Karte",
    ("payment method", "SEPA Direct Debit"): "SEPA-Lastschrift",
    ("product option", "Size"): "Größe",
}
# 02:24 UTC on 24 November 2026: 06:24 in Dubai, 03:24 in Berlin.
PLACED_AT = dt.datetime(2026, 11, 24, 2, 24, tzinfo=dt.UTC)


@pytest.fixture
def translations(monkeypatch):
    """``translations("ar", ARABIC)``: that language with the given (context, msgid) translated."""

    def give(language: str, texts: dict[tuple[str, str], str]) -> None:
        catalog_ = trans_real.translation(language)
        real = catalog_.gettext
        keyed = {f"{context}\x04{msgid}": text for (context, msgid), text in texts.items()}
        monkeypatch.setattr(catalog_, "gettext", lambda message: keyed.get(message) or real(message))

    return give


def _payment_fieldset(html: bytes) -> str:
    page = html.decode()
    start = page.index('name="payment"')
    return " ".join(re.sub(r"<[^>]+>", " ", page[start : page.index("</fieldset>", start)]).split())


@pytest.fixture
def sized(merchant, warehouse):
    """``sized(slug, size)``: a product whose one variant has the option {"size": size}, 5 in stock."""

    def make(slug: str, size: str):
        region = settings.REGION
        product = catalog.product_create(
            region=region, merchant=merchant, slug=slug, names={region.default_language: "Dates"}
        )
        variant = catalog.variant_create(
            region=region, product=product, sku=slug.upper(), price_minor=3200, attributes={"size": size}
        )
        catalog.stock_set(variant=variant, warehouse=warehouse, quantity=5)
        return variant

    return make


@pytest.fixture(autouse=True)
def _edge_country(settings):
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"


def _shopper_client(client, country: str, language: str) -> dict[str, str]:
    return {"Accept-Language": language, "CF-IPCountry": country}


# --- 1: payment methods by name ---------------------------------------------------------------


def test_checkout_names_the_payment_methods_in_arabic(client, use_region, stocked, stripe_fake, translations):
    use_region("me-south")
    translations("ar", ARABIC)
    headers = _shopper_client(client, "AE", "ar")
    client.post("/cart/add", {"variant": stocked("label-cod-lamp", 3).pk, "quantity": 1}, headers=headers)
    page = client.get("/checkout/", headers=headers)
    assert page.status_code == 200 and '<html lang="ar" dir="rtl">' in page.content.decode()
    payment = _payment_fieldset(page.content)
    assert "بطاقة" in payment and "الدفع عند الاستلام" in payment
    assert "cash_on_delivery" not in payment.replace('value="cash_on_delivery/cash_on_delivery"', "")
    assert "stripe · card" not in payment and " · " not in payment


def test_checkout_names_the_payment_methods_in_german(
    client, use_region, stocked, stripe_fake, paypal_fake, translations
):
    use_region("eu-west")
    translations("de", GERMAN)
    headers = _shopper_client(client, "DE", "de")
    client.post("/cart/add", {"variant": stocked("label-de-lamp", 3).pk, "quantity": 1}, headers=headers)
    page = client.get("/checkout/", headers=headers)
    assert page.status_code == 200
    labels = re.findall(r'name="payment" value="[^"]+"[^>]*>\s*([^<]+?)\s*</label>', page.content.decode())
    # Common nouns translated, brands as their owners write them; every method, in the region file's order.
    assert labels == ["Karte", "SEPA-Lastschrift", "iDEAL", "Bancontact", "Klarna", "PayPal"]


def test_the_options_api_gives_each_method_its_label(client, use_region, translations):
    use_region("me-south")
    translations("ar", ARABIC)
    answer = client.get("/api/v1/checkout/options", headers=_shopper_client(client, "AE", "ar")).json()
    labels = {(m["provider"], m["method"]): m["label"] for m in answer["payment_methods"]}
    assert labels[("cash_on_delivery", "cash_on_delivery")] == "الدفع عند الاستلام"
    assert labels[("test", "test")]  # the stand-in provider keeps its own (translated) label
    schema = client.get("/api/schema/?format=json").json()
    offered = schema["components"]["schemas"]["PaymentMethodOffered"]
    assert set(offered["properties"]) == {"provider", "method", "label", "is_test"}


@pytest.mark.parametrize("region", [r.code for r in all_regions()])
def test_every_method_a_region_file_lists_has_a_label(region):
    methods = {m for entry in next(r for r in all_regions() if r.code == region).payment_methods for m in entry.methods}
    assert methods <= set(METHOD_LABELS)


# --- 2: one date style and one date-and-time style per locale ----------------------------------


@pytest.mark.parametrize(
    ("region", "country", "language", "zone", "placed"),
    [
        # CLDR's ar-AE: day/month/year with right-to-left marks, the 12-hour clock with ص/م.
        ("me-south", "AE", "ar", "Asia/Dubai", "24\u200f/11\u200f/2026، 6:24 ص"),
        ("eu-west", "DE", "de", "Europe/Berlin", "24.11.2026, 03:24"),
    ],
)
def test_the_order_date_reads_the_same_in_my_orders_and_on_the_order_page(
    client, use_region, sized, region, country, language, zone, placed
):
    use_region(region)
    user = accounts.user_create(
        region=settings.REGION,
        email=f"label-{country.lower()}@example.test",
        password="a-long-test-password",
        country=country,
        language=language,
    )
    order = checkout(
        cart_with(sized(f"label-date-{country.lower()}", "500 g"), user=user, country=country),
        user=user,
        country=country,
    )
    Order.objects.filter(pk=order.pk).update(created_at=PLACED_AT)
    client.force_login(user)
    mine = client.get("/orders/")
    detail = client.get(f"/orders/{order.reference}/")
    assert page_text(mine.content, "placed") == page_text(detail.content, "placed") == placed
    locale = f"{language}_{country}"
    assert placed == format_moment(PLACED_AT, locale, zoneinfo.ZoneInfo(zone))
    # The placed date is written as the delivery date beside it is.
    eta = page_text(mine.content, "eta")
    assert eta == page_text(detail.content, "eta") == format_day(order.eta, locale)
    assert placed.startswith(format_day(dt.date(2026, 11, 24), locale))


def test_a_moment_in_saudi_arabia_is_written_in_arabic_indic_digits_like_its_prices():
    moment = format_moment(PLACED_AT, "ar_SA", zoneinfo.ZoneInfo("Asia/Riyadh"))
    # ٢٤/١١/٢٠٢٦، ٥:٢٤ ص  # noqa: RUF003
    assert moment == "\u0662\u0664\u200f/\u0661\u0661\u200f/\u0662\u0660\u0662\u0666\u060c \u0665:\u0662\u0664 \u0635"
    assert moment.startswith(format_day(dt.date(2026, 11, 24), "ar_SA"))


# --- 3 and 4: which variant, on every line --------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "country", "language", "texts", "options"),
    [
        ("me-south", "AE", "ar", ARABIC, "الحجم: 500 غرام"),
        ("eu-west", "DE", "de", GERMAN, "Größe: 500 g"),
    ],
)
def test_cart_checkout_and_order_lines_say_which_variant(
    client, use_region, sized, translations, region, country, language, texts, options
):
    use_region(region)
    translations(language, texts)
    headers = _shopper_client(client, country, language)
    variant = sized(f"label-line-{country.lower()}", "500 g")
    client.post("/cart/add", {"variant": variant.pk, "quantity": 1}, headers=headers)
    assert page_text(client.get("/cart/", headers=headers).content, "line-options") == options
    assert page_text(client.get("/checkout/", headers=headers).content, "line-options") == options
    user = accounts.user_create(
        region=settings.REGION,
        email=f"label-line-{country.lower()}@example.test",
        password="a-long-test-password",
        country=country,
        language=language,
    )
    order = checkout(cart_with(variant, user=user, country=country), user=user, country=country)
    client.force_login(user)
    assert page_text(client.get(f"/orders/{order.reference}/").content, "line-options") == options


def test_the_order_page_names_the_payment_method(client, use_region, sized, translations):
    use_region("me-south")
    translations("ar", ARABIC)
    user = accounts.user_create(
        region=settings.REGION,
        email="label-cod@example.test",
        password="a-long-test-password",
        country="AE",
        language="ar",
    )
    order = checkout(
        cart_with(sized("label-cod", "1 kg"), user=user, country="AE"),
        user=user,
        country="AE",
        address=ADDRESSES["AE"],
        payment_provider="cash_on_delivery",
        payment_method="cash_on_delivery",
    )
    client.force_login(user)
    page = client.get(f"/orders/{order.reference}/")
    assert page_text(page.content, "payment-method") == "الدفع عند الاستلام"
    assert page_text(page.content, "line-options") == "الحجم: 1 كغم"
