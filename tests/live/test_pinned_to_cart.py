"""Price lock: a product pinned in a live show costs, at checkout, what the show said it costs."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.errors import ApplicationError
from apps.live import services
from apps.orders import services as orders
from apps.orders.models import CartLine, OrderLine
from apps.orders.selectors import cart_review
from tests.catalog.factories import make_product
from tests.live.console_factories import load_fx_rates
from tests.orders.conftest import checkout, shopper_for

pytestmark = pytest.mark.usefixtures("payments_by_test_provider")


def _reprice(variant, price_minor: int) -> None:
    variant.price_minor = price_minor
    variant.save(update_fields=["price_minor"])


def test_checkout_charges_the_pinned_price_after_the_catalog_price_went_up(live_room, scarf, region, commit):
    pin = commit(services.product_pin, room=live_room, product=scarf, region=region)
    variant = scarf.variants.get()
    cart = orders.cart_for(user=None)
    line = services.pinned_product_to_cart(
        room=live_room, cart=cart, variant_id=variant.pk, quantity=2, country=region.default_country
    )
    assert line.lock_source == f"live-pin:{pin.pk}" and line.locked_prices["USD"] == 4900
    _reprice(variant, 5900)

    review = cart_review(cart=cart, shopper=shopper_for())
    assert review.lines[0].unit_price_minor == 4900 and review.lines[0].price_lock == f"live-pin:{pin.pk}"
    order = checkout(cart)
    bought = OrderLine.objects.get(order=order)
    assert (bought.unit_price_minor, bought.total_minor) == (4900, 9800)
    assert bought.price_lock == f"live-pin:{pin.pk}"
    assert order.subtotal_minor == 9800


def test_the_lock_holds_in_the_viewers_currency_with_the_pins_fx_snapshot(live_room, scarf, region, commit):
    load_fx_rates()
    pin = commit(services.product_pin, room=live_room, product=scarf, region=region)
    variant = scarf.variants.get()
    cad = pin.prices[str(variant.pk)]["CAD"]["minor"]
    cart = orders.cart_for(user=None)
    services.pinned_product_to_cart(room=live_room, cart=cart, variant_id=variant.pk, quantity=1, country="CA")
    _reprice(variant, 9900)
    address = {"name": "Jean Tremblay", "line1": "1 Rue Sainte-Catherine", "city": "Montréal", "state": "QC"}
    order = checkout(cart, country="CA", address={**address, "postal_code": "H2X 1Y4", "country": "CA"})
    bought = order.lines.get()
    assert order.currency == "CAD" and bought.unit_price_minor == cad
    assert bought.price_lock_fx_snapshot_id == pin.fx_snapshot_id


def test_a_lower_current_price_wins_and_an_expired_lock_is_not_honoured(live_room, scarf, region, commit):
    commit(services.product_pin, room=live_room, product=scarf, region=region)
    variant = scarf.variants.get()
    cart = orders.cart_for(user=None)
    services.pinned_product_to_cart(
        room=live_room, cart=cart, variant_id=variant.pk, quantity=1, country=region.default_country
    )
    _reprice(variant, 3900)
    cheaper = cart_review(cart=cart, shopper=shopper_for()).lines[0]
    assert (cheaper.unit_price_minor, cheaper.price_lock) == (3900, "")

    _reprice(variant, 5900)
    CartLine.objects.filter(cart=cart).update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    expired = cart_review(cart=cart, shopper=shopper_for()).lines[0]
    assert (expired.unit_price_minor, expired.price_lock) == (5900, "")


def test_only_what_is_pinned_now_gets_the_show_price(live_room, scarf, merchant, region, commit):
    variant = scarf.variants.get()
    cart = orders.cart_for(user=None)
    with pytest.raises(ApplicationError) as nothing_pinned:
        services.pinned_product_to_cart(
            room=live_room, cart=cart, variant_id=variant.pk, quantity=1, country=region.default_country
        )
    assert nothing_pinned.value.code == "not_pinned"

    commit(services.product_pin, room=live_room, product=scarf, region=region)
    other = make_product(merchant, "other-hat").variants.get()
    for wrong in (other.pk, None, -1):
        with pytest.raises(ApplicationError) as refused:
            services.pinned_product_to_cart(
                room=live_room, cart=cart, variant_id=wrong, quantity=1, country=region.default_country
            )
        assert refused.value.code == "not_pinned"

    commit(services.product_unpin, room=live_room)
    with pytest.raises(ApplicationError):
        services.pinned_product_to_cart(
            room=live_room, cart=cart, variant_id=variant.pk, quantity=1, country=region.default_country
        )
    assert not CartLine.objects.filter(cart=cart).exists()


def test_bad_quantity_leaves_the_cart_alone(live_room, scarf, region, commit):
    commit(services.product_pin, room=live_room, product=scarf, region=region)
    cart = orders.cart_for(user=None)
    for quantity in (0, -1, 10_000, None):
        with pytest.raises(ApplicationError):
            services.pinned_product_to_cart(
                room=live_room, cart=cart, variant_id=scarf.variants.get().pk, quantity=quantity, country="US"
            )
    assert not CartLine.objects.filter(cart=cart).exists()


def test_a_price_promised_before_sign_in_survives_the_cart_merge(live_room, scarf, region, commit, make_user):
    pin = commit(services.product_pin, room=live_room, product=scarf, region=region)
    variant = scarf.variants.get()
    anonymous = orders.cart_for(user=None)
    services.pinned_product_to_cart(
        room=live_room, cart=anonymous, variant_id=variant.pk, quantity=1, country=region.default_country
    )
    user = make_user()
    merged = orders.cart_merge(user=user, anonymous_cart_id=anonymous.pk)
    line = merged.lines.get()
    assert line.lock_source == f"live-pin:{pin.pk}" and line.locked_prices["USD"] == 4900


def test_the_room_page_button_puts_the_pinned_product_in_the_cart(client, live_room, scarf, region, commit):
    commit(services.product_pin, room=live_room, product=scarf, region=region)
    variant = scarf.variants.get()
    url = reverse("live:pinned-to-cart", args=[live_room.slug])

    bad = client.post(url, {"variant": "not-a-number"})
    assert bad.status_code == 302 and bad.url == reverse("live:room", args=[live_room.slug])
    assert not CartLine.objects.exists()
    assert client.get(url).status_code == 405

    added = client.post(url, {"variant": str(variant.pk)})
    assert added.status_code == 302 and added.url == reverse("orders:checkout")
    page = client.get(added.url).content.decode()
    assert 'data-testid="price-lock"' in page and "$49.00" in page
    assert (
        client.post(reverse("live:pinned-to-cart", args=["no-such-show"]), {"variant": variant.pk}).status_code == 404
    )
