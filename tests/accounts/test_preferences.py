"""Language and currency choices: shown in the header, kept for anonymous and signed-in shoppers."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.utils import translation

from apps.accounts import services
from apps.errors import ApplicationError
from apps.money.services import fx_rates_update
from tests.money.factories import todays_provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh_rates(tmp_path, django_capture_on_commit_callbacks):
    """Today's rates: only currencies that can be priced now are offered (apps.money.middleware)."""
    with django_capture_on_commit_callbacks(execute=True):
        fx_rates_update(provider=todays_provider(tmp_path / "rates.xml"))


def test_home_page_header_lists_the_regions_languages_and_currencies(client, use_region, fresh_rates):
    use_region("ap-southeast")
    html = client.get("/").content.decode()
    for code in ("en", "th", "id", "ms", "zh-hans"):
        assert f'value="{code}"' in html
    for currency in ("SGD", "THB", "IDR", "MYR"):
        assert f'<option value="{currency}"' in html
    assert 'dir="ltr"' in html
    assert "@livemall-sea" in html  # the region's LINE support channel in the footer


def test_switching_to_arabic_renders_right_to_left(client, use_region):
    use_region("me-south")
    response = client.post("/accounts/preferences/", {"language": "ar", "next": "/"})
    assert response.status_code == 302
    html = client.get("/").content.decode()
    assert '<html lang="ar" dir="rtl">' in html


def test_arabic_is_the_default_for_a_gulf_shopper_without_a_choice(client, use_region):
    use_region("me-south")
    assert '<html lang="ar" dir="rtl">' in client.get("/").content.decode()
    assert '<html lang="en" dir="ltr">' in client.get("/", HTTP_ACCEPT_LANGUAGE="en-GB").content.decode()


def test_currency_choice_persists_across_requests_for_an_anonymous_shopper(client, fresh_rates):
    client.post("/accounts/preferences/", {"currency": "BRL", "next": "/"})
    for _ in range(2):
        html = client.get("/").content.decode()
        assert '<option value="BRL" selected>' in html
    assert client.cookies["livemall_currency"].value == "BRL"


def test_currency_choice_persists_in_the_profile_of_a_signed_in_shopper(client, make_user, fresh_rates):
    user = make_user()
    client.force_login(user)
    client.post("/accounts/preferences/", {"currency": "CAD", "language": "es", "next": "/"})
    user.refresh_from_db()
    assert (user.currency, user.language) == ("CAD", "es")
    # A new browser (no cookie, no session) still gets the profile's choice.
    client.logout()
    client.cookies.clear()
    client.force_login(user)
    html = client.get("/").content.decode()
    assert '<option value="CAD" selected>' in html
    assert '<html lang="es"' in html


def test_a_currency_of_another_region_is_refused_and_changes_nothing(client, make_user):
    user = make_user()
    client.force_login(user)
    response = client.post("/accounts/preferences/", {"currency": "EUR", "next": "/"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.currency == ""
    assert "livemall_currency" not in client.cookies
    html = client.get("/").content.decode()
    assert '<option value="USD" selected>' in html
    assert "That choice is not available in this region." in html


def test_next_must_stay_on_this_site(client):
    response = client.post("/accounts/preferences/", {"language": "es", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_preferences_service_names_the_bad_fields(make_user, region):
    user = make_user()
    with translation.override("en"), pytest.raises(ApplicationError) as excinfo:
        services.shopper_preferences_update(
            user=user, region=region, language="de", currency="GBP", time_zone="Nowhere"
        )
    assert set(excinfo.value.fields) == {"language", "currency", "time_zone"}
    assert (
        "valid values: en (English), es (Spanish), pt (Portuguese), fr (French)" in excinfo.value.fields["language"][0]
    )


def test_trusted_edge_header_sets_the_country_only_when_configured(client, settings, use_region):
    use_region("eu-west")
    assert 'data-country="IE">Ireland<' in client.get("/", HTTP_CF_IPCOUNTRY="DE").content.decode()
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    html = client.get("/", HTTP_CF_IPCOUNTRY="DE").content.decode()
    assert '<html lang="de"' in html
    assert 'data-testid="region">Europa · <span data-testid="country" data-country="DE">Deutschland<' in html
    assert '<option value="EUR" selected>' in html


def test_pages_vary_on_the_trusted_country_header_when_one_is_configured(client, settings, use_region):
    use_region("eu-west")
    assert "cf-ipcountry" not in client.get("/products/")["Vary"].lower()
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    vary = [part.strip().lower() for part in client.get("/products/", HTTP_CF_IPCOUNTRY="DE")["Vary"].split(",")]
    assert {"accept-language", "cookie", "cf-ipcountry"} <= set(vary)


def test_cloudfront_viewer_country_is_read_when_it_is_the_trusted_header(client, settings, use_region):
    use_region("eu-west")
    settings.TRUSTED_COUNTRY_HEADER = "CloudFront-Viewer-Country"
    html = client.get("/", HTTP_CLOUDFRONT_VIEWER_COUNTRY="FR", HTTP_CF_IPCOUNTRY="DE").content.decode()
    assert 'data-country="FR"' in html
    # A malformed or unserved value falls back to the region's default country.
    for value in ("F", "FRA", "1E", "US"):
        html = client.get("/", HTTP_CLOUDFRONT_VIEWER_COUNTRY=value).content.decode()
        assert 'data-country="IE"' in html, value


def test_the_profile_country_wins_over_the_edge_header(client, settings, use_region):
    region = use_region("eu-west")
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    user = services.user_create(
        region=region, email="claire@example.test", password="a-long-test-password", country="FR"
    )
    client.force_login(user)
    html = client.get("/", HTTP_CF_IPCOUNTRY="DE").content.decode()
    assert 'data-country="FR"' in html
    assert 'data-country="DE"' not in html


def test_signup_creates_a_shopper_with_the_current_choices(client):
    client.post("/accounts/preferences/", {"language": "pt", "currency": "BRL", "next": "/"})
    response = client.post(
        "/accounts/signup/", {"email": "Ana@Example.test", "display_name": "Ana", "password": "a-long-password-9"}
    )
    assert response.status_code == 302
    from apps.accounts.models import User

    user = User.objects.get(email="ana@example.test")
    assert (user.language, user.currency, user.country) == ("pt", "BRL", "US")


def test_signup_with_a_taken_email_shows_the_error(client, make_user):
    make_user(email="taken@example.test")
    response = client.post("/accounts/signup/", {"email": "taken@example.test", "password": "a-long-password-9"})
    assert response.status_code == 200
    assert "An account with this e-mail address exists." in response.content.decode()


def test_the_header_names_region_and_country_in_the_shoppers_language(client, use_region):
    use_region("me-south")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ar"
    html = client.get("/").content.decode()
    assert 'data-testid="region">الشرق الأوسط · ' in html
    assert 'data-country="AE">الإمارات العربية المتحدة<' in html
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = client.get("/").content.decode()
    assert 'data-testid="region">Middle East · ' in html and 'data-country="AE">United Arab Emirates<' in html
