"""Signing up keeps the language and currency a guest chose, and only those: what was resolved
from the browser or the country stays empty in the profile, so it goes on following them."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.accounts.models import User
from apps.money.services import fx_rates_update
from tests.money.factories import todays_provider

pytestmark = pytest.mark.django_db

PREFERENCES = "/accounts/preferences/"
PASSWORD = "a-long-password-9"


@pytest.fixture
def gulf(use_region, tmp_path, django_capture_on_commit_callbacks):
    """me-south with today's rates, so that riyals can be shown to a Saudi shopper."""
    use_region("me-south")
    with django_capture_on_commit_callbacks(execute=True):
        fx_rates_update(provider=todays_provider(tmp_path / "rates.xml"))


def _sign_up(client: Client, email: str) -> User:
    response = client.post("/accounts/signup/", {"email": email, "display_name": "Noor", "password": PASSWORD})
    assert response.status_code == 302, response.context and response.context["form"].errors
    return User.objects.get(email=email)


def _seen(client: Client, **headers: str):
    return client.get("/", headers=headers).wsgi_request.shopper


def test_a_guest_who_chose_nothing_gets_a_profile_that_follows_browser_and_country(gulf):
    client = Client(headers={"accept-language": "ar"})
    assert (_seen(client).language, _seen(client).currency) == ("ar", "AED")  # resolved, not chosen

    user = _sign_up(client, "noor@example.test")
    assert (user.country, user.language, user.currency) == ("AE", "", "")

    # The browser's language still decides, and a move to Saudi Arabia brings riyals.
    assert _seen(client, **{"accept-language": "en"}).language == "en"
    assert client.post(PREFERENCES, {"country": "SA", "next": "/"}).status_code == 302
    assert _seen(client).currency == "SAR"
    user.refresh_from_db()
    assert (user.country, user.language, user.currency) == ("SA", "", "")


def test_a_guests_own_choices_are_kept_and_only_those(gulf):
    client = Client(headers={"accept-language": "ar"})
    client.post(PREFERENCES, {"language": "en", "next": "/"})

    user = _sign_up(client, "omar@example.test")
    assert (user.language, user.currency) == ("en", "")

    # Another browser, another country: the language is theirs, the currency the country's.
    other = Client(headers={"accept-language": "ar"})
    other.force_login(user)
    other.post(PREFERENCES, {"country": "SA", "next": "/"})
    assert (_seen(other).language, _seen(other).currency) == ("en", "SAR")


def test_a_currency_chosen_as_a_guest_is_kept(gulf):
    client = Client(headers={"accept-language": "en"})
    client.post(PREFERENCES, {"currency": "SAR", "next": "/"})
    user = _sign_up(client, "layla@example.test")
    assert (user.language, user.currency) == ("", "SAR")
