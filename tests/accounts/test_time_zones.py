"""Each shopper sees their own time zone: their profile's, else their session's choice, else their country's."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.accounts import services
from apps.accounts.selectors import TIME_ZONE_SESSION_KEY
from apps.catalog import services as catalog
from apps.errors import ApplicationError
from apps.orders import rules
from apps.orders import services as orders
from apps.orders.web import request_shopper
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db

MEXICO_CITY = "America/Mexico_City"


@pytest.fixture
def edge(settings, use_region):
    """Requests from a country, as the trusted edge tells it (us-east serves US, CA, MX and BR)."""
    use_region("us-east")
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    return lambda country: {"HTTP_CF_IPCOUNTRY": country}


def time_zone_seen(client, **headers) -> str:
    return client.get("/", **headers).wsgi_request.shopper.time_zone


@pytest.mark.parametrize(
    ("country", "zone"),
    [("US", "America/New_York"), ("MX", MEXICO_CITY), ("BR", "America/Sao_Paulo"), ("CA", "America/Toronto")],
)
def test_a_shopper_without_a_choice_gets_their_countrys_time_zone(client, edge, country, zone):
    assert time_zone_seen(client, **edge(country)) == zone
    html = client.get("/accounts/preferences/", **edge(country)).content.decode()
    assert f'<option value="{zone}" selected>' in html


def test_the_profiles_time_zone_wins_over_the_country_and_the_session(client, edge, make_user):
    user = make_user(country="MX", time_zone="America/Tijuana")
    client.force_login(user)
    session = client.session
    session[TIME_ZONE_SESSION_KEY] = "America/Monterrey"
    session.save()
    assert time_zone_seen(client, **edge("MX")) == "America/Tijuana"
    # Chosen on the preferences page, it is kept in the profile: a new browser still gets it.
    response = client.post("/accounts/preferences/", {"time_zone": "America/Los_Angeles", "next": "/orders/"})
    assert (response.status_code, response["Location"]) == (302, "/orders/")
    user.refresh_from_db()
    assert user.time_zone == "America/Los_Angeles"
    client.logout()
    client.force_login(user)
    assert time_zone_seen(client, **edge("MX")) == "America/Los_Angeles"


def test_an_anonymous_shoppers_choice_is_kept_in_the_session(client, edge):
    response = client.post("/accounts/preferences/", {"time_zone": "America/Los_Angeles", "next": "/"}, **edge("MX"))
    assert response.status_code == 302
    assert client.session[TIME_ZONE_SESSION_KEY] == "America/Los_Angeles"
    for _ in range(2):
        assert time_zone_seen(client, **edge("MX")) == "America/Los_Angeles"
    html = client.get("/accounts/preferences/", **edge("MX")).content.decode()
    assert '<option value="America/Los_Angeles" selected>' in html
    # The header's language/currency form leaves the time zone as it is.
    client.post("/accounts/preferences/", {"language": "es", "currency": "USD", "next": "/"}, **edge("MX"))
    assert time_zone_seen(client, **edge("MX")) == "America/Los_Angeles"


def test_signing_up_keeps_a_chosen_time_zone_and_leaves_the_countrys_to_follow(client, edge):
    from apps.accounts.models import User

    client.post("/accounts/preferences/", {"time_zone": "America/Cancun", "next": "/"}, **edge("MX"))
    form = {"password": "a-long-password-9"}
    client.post("/accounts/signup/", {**form, "email": "chose@example.test"}, **edge("MX"))
    client.logout()
    client.post("/accounts/signup/", {**form, "email": "followed@example.test"}, **edge("MX"))
    zones = dict(
        User.objects.filter(email__in=["chose@example.test", "followed@example.test"]).values_list("email", "time_zone")
    )
    assert zones == {"chose@example.test": "America/Cancun", "followed@example.test": ""}


@pytest.mark.parametrize("bad", ["Mars/Olympus", "posixrules", "localtime", "../../etc/passwd", "x" * 300])
def test_a_bad_time_zone_is_refused_with_a_field_error_and_nothing_kept(client, edge, make_user, bad):
    user = make_user(country="MX")
    client.force_login(user)
    response = client.post("/accounts/preferences/", {"time_zone": bad, "language": "es", "next": "/"}, **edge("MX"))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == ["time_zone"]
    user.refresh_from_db()
    assert (user.time_zone, user.language) == ("", "")
    assert TIME_ZONE_SESSION_KEY not in client.session
    assert time_zone_seen(client, **edge("MX")) == MEXICO_CITY


def test_the_service_refuses_a_bad_time_zone_for_anonymous_and_signed_in_shoppers(make_user, region):
    with pytest.raises(ApplicationError) as excinfo:
        services.shopper_preferences_check(region=region, time_zone="Mars/Olympus")
    assert excinfo.value.fields == {"time_zone": ["Not an IANA time zone such as Europe/Paris."]}
    user = make_user()
    with pytest.raises(ApplicationError) as excinfo:
        services.shopper_preferences_update(user=user, region=region, time_zone="posixrules")
    assert list(excinfo.value.fields) == ["time_zone"]


def test_a_stale_time_zone_in_the_session_falls_back_to_the_countrys(client, edge):
    session = client.session
    session[TIME_ZONE_SESSION_KEY] = "Mars/Olympus"
    session.save()
    assert time_zone_seen(client, **edge("MX")) == MEXICO_CITY


def test_a_mexican_order_at_half_past_eleven_at_night_counts_its_eta_from_the_mexican_date(
    client, edge, merchant, monkeypatch, settings
):
    # Priced in the settlement currency, so no exchange rates are needed.
    client.post("/accounts/preferences/", {"currency": "USD", "next": "/"}, **edge("MX"))
    shopper = request_shopper(client.get("/", **edge("MX")).wsgi_request)
    assert (shopper.country, shopper.time_zone) == ("MX", MEXICO_CITY)
    product = make_product(merchant, "reloj", price_minor=10000)
    variant = product.variants.get()
    warehouse = catalog.warehouse_create(merchant=merchant, code="cdmx", name="CDMX", country="MX")
    catalog.stock_set(variant=variant, warehouse=warehouse, quantity=5)
    cart = orders.cart_for()
    orders.cart_line_add(cart=cart, variant_id=variant.pk, quantity=1, country="MX")
    # Thursday 5 Nov 2026, 23:30 in Mexico City: already Friday in New York and in UTC
    # (Django's clock is pinned; our code runs for real).
    placed_at = dt.datetime(2026, 11, 5, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-6)))
    monkeypatch.setattr(timezone, "now", lambda: placed_at.astimezone(dt.UTC))
    order = orders.checkout_place(
        cart=cart,
        idempotency_key="tz-mexico-2330",
        shopper=shopper,
        email="lupita@example.test",
        address={
            "name": "Lupita",
            "line1": "Av. Paseo de la Reforma 1",
            "city": "Ciudad de México",
            "state": "CMX",
            "postal_code": "06600",
            "country": "MX",
        },
        shipping_option="standard",
        payment_provider="test",
        payment_method="test",
    )
    order.refresh_from_db()
    assert order.time_zone == MEXICO_CITY
    # 1 handling + 4 carrier working days. From Thursday 5: Fri 6, (Sat, Sun), Mon 9 ... Thu 12;
    # counted from New York's Friday 6 it would be Friday 13.
    assert order.eta == dt.date(2026, 11, 12)
    ordered_on = dt.date(2026, 11, 5)
    standard = rules.shipping_option("standard")
    assert order.eta == rules.delivery_eta(
        region=settings.REGION, option=standard, ordered_on=ordered_on, country="MX", handling_days=1
    )
