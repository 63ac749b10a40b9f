"""A shopper chooses the country they shop from ("Deliver to"), anonymous or signed in.

On eu-west a German shopper was treated as Irish (the region's default country): header, VAT
and postcode rules all Irish, and nothing on the site let them say otherwise.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from apps.accounts.models import User
from apps.accounts.selectors import COUNTRY_COOKIE_NAME, TIME_ZONE_SESSION_KEY
from apps.catalog import services as catalog
from apps.compliance.models import ProductAttribute
from apps.orders.models import Order
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db

PREFERENCES = "/accounts/preferences/"


def _page_form(client: Client, headers: dict[str, str] | None = None, **changes: str) -> dict[str, str]:
    """What the preferences page sends: every field as shown, with ``changes`` made by the shopper."""
    form = client.get(PREFERENCES, headers=headers).context["form"]
    sent = {name: str(form.initial.get(name, "")) for name in ("country", "language", "currency", "time_zone")}
    return {**sent, "next": "/", **changes}


def _country_seen(client: Client, **headers: str) -> str:
    return client.get("/", **headers).wsgi_request.shopper.country


def _options(html: str, select_id: str) -> list[tuple[str, str]]:
    select = re.search(rf'<select name="\w+"[^>]* id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    assert select, select_id
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1))


@pytest.fixture
def europe(use_region):
    return use_region("eu-west")


@pytest.fixture
def edge(settings):
    """The trusted edge (GeoIP) header, as in production."""
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    return lambda country: {"HTTP_CF_IPCOUNTRY": country}


def test_the_page_lists_the_regions_countries_by_their_names_in_the_shoppers_language(client, europe):
    html = client.get(PREFERENCES, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    countries = _options(html, "id_country")
    assert {code for code, _name in countries} == set(europe.country_codes)
    names = dict(countries)
    assert (names["DE"], names["AT"], names["GB"], names["CH"]) == (
        "Deutschland",
        "Österreich",
        "Vereinigtes Königreich",
        "Schweiz",
    )
    order = [name for _code, name in countries]
    # Sorted as a German reader expects: "Österreich" among the O's, not after "Zypern".
    assert order.index("Norwegen") < order.index("Österreich") < order.index("Polen")
    assert order[0] == "Belgien" and order[-1] == "Zypern"
    assert '<option value="IE" selected>Irland</option>' in html
    in_french = dict(_options(client.get(PREFERENCES, HTTP_ACCEPT_LANGUAGE="fr").content.decode(), "id_country"))
    assert in_french["DE"] == "Allemagne"


def test_an_anonymous_shopper_chooses_germany_and_keeps_it_in_session_and_cookie(client, europe):
    assert _country_seen(client) == "IE"
    german = {"accept-language": "de"}
    response = client.post(PREFERENCES, _page_form(client, german, country="DE", next="/products/"), headers=german)
    assert (response.status_code, response["Location"]) == (302, "/products/")
    assert client.session[COUNTRY_COOKIE_NAME] == "DE"
    assert client.cookies[COUNTRY_COOKIE_NAME].value == "DE"
    html = client.get("/", headers=german).content.decode()
    assert 'data-testid="region">Europa · <span data-testid="country" data-country="DE">Deutschland</span>' in html
    # The header's country is a link to the choice, and back to where the shopper was.
    assert re.search(r'<a class="region" href="/accounts/preferences/\?next=/"[^>]*data-testid="country-link"', html)
    # A new session with only the cookie (the session ran out) still shops from Germany.
    returning = Client()
    returning.cookies[COUNTRY_COOKIE_NAME] = "DE"
    assert _country_seen(returning) == "DE"


def test_saving_the_page_says_so_in_the_language_the_next_page_speaks(client, europe):
    response = client.post(PREFERENCES, _page_form(client, language="de"), follow=True)
    with translation.override("de"):
        saved_in_german = translation.gettext("Your preferences are saved.")
    assert saved_in_german in response.content.decode()
    assert '<html lang="de"' in response.content.decode()
    # Shown once.
    assert "Your preferences are saved." not in client.get("/").content.decode()
    english = Client()
    html = english.post(PREFERENCES, _page_form(english, country="FR"), follow=True).content.decode()
    # France's language is French, which the next page speaks: so does the message.
    with translation.override("fr"):
        saved_in_french = translation.gettext("Your preferences are saved.")
    assert saved_in_french != "Your preferences are saved."
    assert html.count(saved_in_french) == 1
    # The header's quick language switch goes back without one.
    html = english.post(PREFERENCES, {"language": "it", "currency": "EUR", "next": "/"}, follow=True).content.decode()
    assert 'class="messages"' not in html


def test_a_signed_in_shoppers_choice_is_kept_in_their_profile(client, europe, make_user):
    user = make_user(email="hanna@example.test")
    client.force_login(user)
    assert client.post(PREFERENCES, _page_form(client, country="DE")).status_code == 302
    user.refresh_from_db()
    assert user.country == "DE"
    # Another browser: no session, no cookie, the profile still says Germany.
    other = Client()
    other.force_login(User.objects.get(pk=user.pk))
    assert _country_seen(other) == "DE"


def test_signing_up_keeps_the_country_chosen_before(client, europe):
    client.post(PREFERENCES, _page_form(client, country="DE"))
    response = client.post("/accounts/signup/", {"email": "jonas@example.test", "password": "a-long-password-9"})
    assert response.status_code == 302
    user = User.objects.get(email="jonas@example.test")
    # The country, as chosen; the time zone, not chosen, goes on following it.
    assert (user.country, user.time_zone) == ("DE", "")


def test_the_choice_wins_over_the_edge_header_and_the_profile_over_the_choice(client, europe, edge, make_user):
    assert _country_seen(client, **edge("FR")) == "FR"
    client.post(PREFERENCES, _page_form(client, country="DE"), **edge("FR"))
    assert _country_seen(client, **edge("FR")) == "DE"
    # The profile's country comes first: a shopper who chose on another device gets it here too.
    user = make_user(email="claire@example.test", country="AT")
    client.force_login(user)
    assert _country_seen(client, **edge("FR")) == "AT"
    # A stale choice of a country this region no longer serves is passed over, not trusted.
    stale = Client()
    stale.cookies[COUNTRY_COOKIE_NAME] = "US"
    assert _country_seen(stale, **edge("FR")) == "FR"
    assert _country_seen(stale) == "IE"


@pytest.mark.parametrize("bad", ["US", "XX", "de", "DEU", "<b>"])
def test_a_country_the_region_does_not_serve_is_refused_with_a_field_error(client, europe, make_user, bad):
    user = make_user()
    client.force_login(user)
    response = client.post(PREFERENCES, _page_form(client, country=bad, currency="GBP"))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == ["country"]
    assert errors["country"] == ["We do not deliver to that country from this site."]
    assert "We do not deliver to that country from this site." in response.content.decode()
    user.refresh_from_db()
    assert (user.country, user.currency) == ("", "")
    assert COUNTRY_COOKIE_NAME not in client.session and COUNTRY_COOKIE_NAME not in client.cookies
    assert _country_seen(client) == "IE"


@pytest.fixture
def fresh_rates(tmp_path):
    """Today's rates loaded, so that every currency of the region can be priced (as on a live site)."""
    from apps.money import services as money
    from tests.money.factories import todays_provider

    money.fx_rates_update(provider=todays_provider(tmp_path / "rates.xml"))


def test_what_the_shopper_did_not_choose_follows_the_new_country(client, europe, fresh_rates):
    # Irish defaults on the page: English, euro, Dublin time, all sent back as they were shown.
    form = _page_form(client, country="DE")
    assert (form["language"], form["currency"], form["time_zone"]) == ("en", "EUR", "Europe/Dublin")
    client.post(PREFERENCES, form)
    shopper = client.get("/").wsgi_request.shopper
    assert (shopper.country, shopper.language, shopper.currency, shopper.time_zone) == (
        "DE",
        "de",
        "EUR",
        "Europe/Berlin",
    )
    assert TIME_ZONE_SESSION_KEY not in client.session
    # Switzerland: Swiss francs and Zurich time follow too; a language the shopper chose stays.
    client.post(PREFERENCES, _page_form(client, language="en"))
    client.post(PREFERENCES, _page_form(client, country="CH"))
    shopper = client.get("/").wsgi_request.shopper
    assert (shopper.country, shopper.language, shopper.currency, shopper.time_zone) == (
        "CH",
        "en",
        "CHF",
        "Europe/Zurich",
    )
    # A time zone chosen on purpose stays when the country changes again.
    client.post(PREFERENCES, _page_form(client, time_zone="Europe/Lisbon"))
    client.post(PREFERENCES, _page_form(client, country="FR"))
    assert client.get("/").wsgi_request.shopper.time_zone == "Europe/Lisbon"


@pytest.fixture
def payment_test_provider(settings):
    settings.STRIPE_SECRET_KEY = None
    settings.STRIPE_PUBLISHABLE_KEY = None
    settings.PAYPAL_CLIENT_ID = None
    settings.PAYPAL_CLIENT_SECRET = None
    settings.PAYMENT_TEST_PROVIDER = True


def test_checkout_quotes_german_vat_and_takes_a_berlin_address_after_choosing_germany(
    europe, merchant, payment_test_provider, django_capture_on_commit_callbacks
):
    product = make_product(merchant, "kaffeemuehle", price_minor=10000)  # 100.00 EUR incl. VAT
    variant = product.variants.get()
    warehouse = catalog.warehouse_create(merchant=merchant, code="ber", name="Berlin", country="DE")
    catalog.stock_set(variant=variant, warehouse=warehouse, quantity=5)
    client = Client(headers={"accept-language": "en"})
    client.post("/cart/add", {"variant": variant.pk, "quantity": 1})
    irish = client.get("/checkout/")
    assert irish.context["quote"].tax_minor == 1870  # 23 % Irish VAT: 100 * 23 / 123
    assert "Delivery address (Ireland)" in irish.content.decode()

    client.post(PREFERENCES, _page_form(client, country="DE"))
    page = client.get("/checkout/")
    html = page.content.decode()
    assert "Delivery address (Germany)" in html and 'data-country="DE"' in html
    assert page.context["quote"].tax_minor == 1597  # 19 %: 100 * 19 / 119
    assert "Includes tax (19" in html
    form = {
        "email": "anna@example.test",
        "name": "Anna Käufer",
        "line1": "Hauptstr. 1",
        "city": "Berlin",
        "postal_code": "10115",
        "shipping_option": "standard",
        "payment": "test/test",
        "idempotency_key": page.context["idempotency_key"],
        "expected_total_minor": page.context["quote"].total_minor,
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/checkout/", form)
    assert response.status_code == 302, response.context and response.context["errors"]
    order = Order.objects.get()
    assert (order.country, order.tax_minor) == ("DE", 1597)


@pytest.fixture
def gulf_shelf(use_region, merchant, shipped_country_rules, fresh_rates):
    """me-south with fresh rates (Saudi shoppers see riyals) and a sparkling wine, hidden in Saudi Arabia."""
    use_region("me-south")
    wine = make_product(merchant, "sparkling-wine", attributes=(ProductAttribute.CONTAINS_ALCOHOL,))
    make_product(merchant, "date-box")
    warehouse = catalog.warehouse_create(merchant=merchant, code="dxb", name="Dubai", country="AE")
    catalog.stock_set(variant=wine.variants.get(), warehouse=warehouse, quantity=5)
    return wine


def _listed(client: Client) -> set[str]:
    html = client.get("/products/").content.decode()
    return set(re.findall(r'data-product="([^"]+)"', html))


def test_a_chosen_country_never_gets_another_countrys_cached_listing(gulf_shelf):
    emirati, saudi = Client(headers={"accept-language": "en"}), Client(headers={"accept-language": "en"})
    saudi.post(PREFERENCES, _page_form(saudi, country="SA"))
    for _ in range(2):  # the second round is served from the cache
        assert {"sparkling-wine", "date-box"} <= _listed(emirati)
        assert "sparkling-wine" not in _listed(saudi) and "date-box" in _listed(saudi)
    html = saudi.get("/products/").content.decode()
    assert 'data-country="SA">Saudi Arabia<' in html and "SAR" in html
    assert 'data-country="AE">United Arab Emirates<' in emirati.get("/products/").content.decode()
    # Changing back is seen at once, not after the cached page runs out.
    saudi.post(PREFERENCES, _page_form(saudi, country="AE"))
    assert "sparkling-wine" in _listed(saudi)


def test_the_cart_is_checked_again_for_the_new_country(gulf_shelf):
    client = Client(headers={"accept-language": "en"})
    client.post("/cart/add", {"variant": gulf_shelf.variants.get().pk, "quantity": 1})
    assert 'data-testid="line-reason"' not in client.get("/cart/").content.decode()
    client.post(PREFERENCES, _page_form(client, country="SA"))
    html = client.get("/cart/").content.decode()
    reason = re.search(r'data-testid="line-reason">([^<]*)<', html)
    said = "This product cannot be sold to shoppers in Saudi Arabia. Products containing alcohol cannot be sold in Saudi Arabia."
    assert reason and reason.group(1) == said
    # Checkout shows it the same way, and will not take it.
    page = client.get("/checkout/")
    assert f"— {said}" in page.content.decode()
    assert [line.available for line in page.context["quote"].lines] == [False]


def test_the_time_zone_list_offers_the_regions_zones_first_with_localised_names(client, europe):
    html = client.get(PREFERENCES, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    select = re.search(r'<select name="time_zone"[^>]* id="id_time_zone"[^>]*>(.*?)</select>', html, re.S).group(1)
    groups = re.findall(r'<optgroup label="([^"]*)">(.*?)</optgroup>', select, re.S)
    with translation.override("de"):
        expected = [translation.gettext("Time zones in %(region)s") % {"region": "Europa"}]
        expected.append(translation.gettext("Other time zones"))
    assert [label for label, _options in groups] == expected
    own = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', groups[0][1])
    others = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', groups[1][1])
    own_zones = {zone for zone, _label in own}
    # Every country's default zone, and the others of its countries (the Canaries, Büsingen).
    assert {country.time_zone for country in europe.countries} <= own_zones
    assert {"Atlantic/Canary", "Europe/Busingen", "Atlantic/Azores"} <= own_zones
    assert "America/New_York" not in own_zones
    labels = dict(own + others)
    assert labels["Europe/Berlin"] == "Deutschland · Berlin (Mitteleuropäische Zeit)"
    assert labels["Atlantic/Canary"] == "Spanien · Kanaren (Westeuropäische Zeit)"
    assert labels["America/New_York"].startswith("Vereinigte Staaten · New York")
    # Backward-compatible aliases are not offered twice.
    for alias in ("Africa/Asmera", "US/Pacific", "Asia/Calcutta", "Europe/Kiev", "GB", "Etc/Universal"):
        assert alias not in labels, alias
    assert {"Africa/Asmara", "Asia/Kolkata", "Europe/Kyiv", "Etc/UTC"} <= set(labels)
    assert '<option value="Europe/Dublin" selected>' in select
    # Sorted by label, each group.
    assert [label for _zone, label in own][:2] == [
        "Belgien · Brüssel (Mitteleuropäische Zeit)",
        "Bulgarien · Sofia (Osteuropäische Zeit)",
    ]


def test_an_alias_kept_from_before_is_still_shown_as_chosen_and_still_valid(client, europe):
    session = client.session
    session[TIME_ZONE_SESSION_KEY] = "Asia/Calcutta"
    session.save()
    html = client.get(PREFERENCES).content.decode()
    assert '<option value="Asia/Calcutta" selected>' in html
    response = client.post(PREFERENCES, {**_page_form(client), "time_zone": "Europe/Kiev"})
    assert response.status_code == 302
    assert client.session[TIME_ZONE_SESSION_KEY] == "Europe/Kiev"
    assert settings.REGION.code == "eu-west"
