"""The preferences page's language and currency selects show the current choice and offer no blank one."""

from __future__ import annotations

import re

import pytest

from apps.money.services import fx_rates_update
from tests.money.factories import todays_provider

pytestmark = pytest.mark.django_db

PREFERENCES = "/accounts/preferences/"


def _options(html: str, name: str) -> list[tuple[str, bool]]:
    """(value, selected) of each option of the select named ``name``."""
    select = re.search(rf'<select name="{name}"[^>]*id="id_{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, html
    return [
        (value, "selected" in rest) for value, rest in re.findall(r'<option value="([^"]*)"([^>]*)>', select.group(1))
    ]


@pytest.fixture
def fresh_rates(tmp_path, django_capture_on_commit_callbacks):
    """Today's rates: every currency of the region can be priced, so every one is offered."""
    with django_capture_on_commit_callbacks(execute=True):
        fx_rates_update(provider=todays_provider(tmp_path / "rates.xml"))


def test_the_preferences_page_selects_the_current_language_and_currency_with_no_blank(
    client, region, make_user, fresh_rates
):
    language, currency = region.languages[-1], region.currencies[-1]
    client.force_login(make_user(language=language, currency=currency))

    html = client.get(PREFERENCES).content.decode()

    languages, currencies = _options(html, "language"), _options(html, "currency")
    assert [value for value, _selected in languages] == list(region.languages)
    assert [value for value, selected in languages if selected] == [language]
    assert [value for value, _selected in currencies] == list(region.currencies)
    assert [value for value, selected in currencies if selected] == [currency]


def test_a_visitor_sees_the_language_and_currency_in_use_selected(client, region, fresh_rates):
    language = region.languages[-1]

    html = client.get(PREFERENCES, headers={"Accept-Language": language}).content.decode()

    assert [value for value, selected in _options(html, "language") if selected] == [language]
    currencies = _options(html, "currency")
    assert [value for value, _selected in currencies] == list(region.currencies)
    assert len([value for value, selected in currencies if selected]) == 1


def test_a_post_of_the_currency_alone_still_keeps_the_language(client, region, make_user, fresh_rates):
    # The header's form and others may send one choice: the other is left as it is, not refused.
    shopper = make_user(language=region.languages[-1], currency=region.currencies[0])
    client.force_login(shopper)

    assert client.post(PREFERENCES, {"currency": region.currencies[-1], "next": "/"}).status_code == 302

    shopper.refresh_from_db()
    assert (shopper.language, shopper.currency) == (region.languages[-1], region.currencies[-1])
