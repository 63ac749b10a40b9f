"""A pinned product with several variants: the room offers each, the shopper chooses, the
server takes only the pinned product's; the console writes the pinned price readably."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.errors import ApplicationError
from apps.live import services
from apps.live.models import PinnedProduct
from apps.live.realtime import events
from apps.money.formatting import format_money
from apps.orders import services as orders
from apps.orders.models import CartLine
from regions import all_regions, load_region
from tests.catalog.factories import make_product
from tests.live.conftest import two_colour_scarf
from tests.live.console_factories import load_fx_rates


@pytest.fixture
def two_scarves(merchant, region):
    return two_colour_scarf(merchant=merchant, region=region)


def _variant(product, colour: str):
    return product.variants.get(attributes__colour=colour)


def test_the_pin_event_offers_every_variant_with_its_options_and_prices(live_room, two_scarves, region, commit, bus):
    load_fx_rates()
    subscribe, events = bus
    subscribe(live_room)
    commit(services.product_pin, room=live_room, product=two_scarves, region=region)
    product = [e for e in events() if e["type"] == "pinned"][-1]["product"]
    by_locale = product["prices"]["by_locale"]
    offered = {v["id"]: v for v in product["variants"]}
    assert list(offered) == [_variant(two_scarves, "navy").pk, _variant(two_scarves, "ivory").pk]
    navy = offered[_variant(two_scarves, "navy").pk]
    assert navy["options"][by_locale["en_US"]] == "navy"
    assert navy["prices"][by_locale["en_US"]]["USD"] == "$49.00"
    assert navy["prices"][by_locale["pt_BR"]]["USD"] == "US$\xa049,00"
    assert set(navy["prices"][by_locale["en_CA"]]) == set(region.currencies)


@pytest.mark.parametrize("code", [region.code for region in all_regions()])
def test_the_pin_event_of_a_product_with_many_sizes_stays_one_small_frame(code):
    # The ways of writing are shared by all variants, so even eu-west (five languages, 32
    # countries) sends a run of eight sizes with their prices in one frame.
    region = load_region(code)
    sizes = ("XS", "S", "M", "L", "XL", "XXL", "3XL", "4XL")
    prices = {
        str(pk): {currency: {"minor": 1_299_000 + pk} for currency in region.currencies}
        for pk in range(1, len(sizes) + 1)
    }
    options = {str(pk): {"size": size, "colour": "navy"} for pk, size in enumerate(sizes, start=1)}
    first, variants = services._pinned_variants(prices=prices, options=options, region=region)
    product = {"name": {"en": "Wool coat"}, "prices": first, "variants": variants}
    assert len(events.dumps({"type": "pinned", "product": product}).encode()) < services.MAX_EVENT_BYTES
    assert [v["id"] for v in variants] == list(range(1, len(sizes) + 1))
    assert first["formats"] == variants[0]["prices"]


def test_with_several_variants_the_shopper_must_choose_and_only_a_pinned_one_is_taken(
    live_room, two_scarves, merchant, region, commit
):
    commit(services.product_pin, room=live_room, product=two_scarves, region=region)
    cart = orders.cart_for(user=None)
    with pytest.raises(ApplicationError) as unchosen:
        services.pinned_product_to_cart(room=live_room, cart=cart, variant_id=None, quantity=1, country="US")
    assert unchosen.value.code == "variant_required" and "variant" in unchosen.value.fields

    other = make_product(merchant, "other-hat").variants.get()
    with pytest.raises(ApplicationError) as foreign:
        services.pinned_product_to_cart(room=live_room, cart=cart, variant_id=other.pk, quantity=1, country="US")
    assert foreign.value.code == "not_pinned"
    assert foreign.value.message == "This is not one of the pinned product's options."
    assert not CartLine.objects.filter(cart=cart).exists()
    assert PinnedProduct.objects.get().buy_clicks == 0

    navy = _variant(two_scarves, "navy")
    line = services.pinned_product_to_cart(room=live_room, cart=cart, variant_id=navy.pk, quantity=1, country="US")
    assert line.variant_id == navy.pk and line.locked_prices["USD"] == 4900


def test_the_room_page_refuses_buy_now_without_a_choice_and_says_why(client, live_room, two_scarves, region, commit):
    commit(services.product_pin, room=live_room, product=two_scarves, region=region)
    url = reverse("live:pinned-to-cart", args=[live_room.slug])
    refused = client.post(url, {}, follow=True)
    assert refused.redirect_chain[-1][0] == reverse("live:room", args=[live_room.slug])
    assert "Choose which one you want first." in refused.content.decode()
    assert not CartLine.objects.exists()

    ivory = _variant(two_scarves, "ivory")
    bought = client.post(url, {"variant": str(ivory.pk)})
    assert bought.status_code == 302 and bought.url == reverse("orders:checkout")
    assert CartLine.objects.get().variant_id == ivory.pk


def test_the_room_page_offers_the_choice_accessibly(client, live_room):
    body = client.get(reverse("live:room", args=[live_room.slug])).content.decode()
    # The select is filled from the pin event; the page gives it a label and a "choose" first option.
    assert '<label for="pinned-variant">Option</label>' in body
    assert 'id="pinned-variant" name="variant" data-testid="pinned-variant"' in body
    assert "required disabled" in body and "Choose one…" in body


def test_the_console_writes_the_pinned_price_in_the_merchants_own_locale(
    client, staff_a, live_room, two_scarves, region, commit
):
    load_fx_rates()
    pin = commit(services.product_pin, room=live_room, product=two_scarves, region=region)
    client.force_login(staff_a)
    response = client.get(reverse("admin:live_liveroom_console", args=[live_room.pk]))
    assert response.status_code == 200
    locale = response.wsgi_request.shopper.locale
    navy = pin.prices[str(_variant(two_scarves, "navy").pk)]
    written = " · ".join(format_money(navy[c]["minor"], c, locale) for c in region.currencies)
    assert len(navy) == len(region.currencies) > 1
    body = response.content.decode()
    start = body.index('<p id="live-pinned">')
    pinned_line = body[start : body.index("</p>", start)]
    assert f"Silk scarf — {written}" in pinned_line, pinned_line
    assert written.startswith("$49.00 · CA$")
    assert "{'" not in pinned_line and "[{" not in pinned_line and "&#x27;" not in pinned_line
