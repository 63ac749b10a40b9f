"""French in us-east: Quebec's law wants commerce in French, so a Canadian whose browser asks for
French reads the whole shop in French (pages, the language picker, Canadian French prices and
province names), from region data alone (regions/us-east.toml)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from apps.compliance.moderation import MASKED, REJECTED, moderate_chat
from apps.money.selectors import utc_today
from apps.money.services import fx_rates_update
from apps.orders import rules
from regions import load_region
from tests.catalog.factories import make_product
from tests.money.factories import file_provider, write_ecb_file

QUEBEC = {"CF-IPCountry": "CA", "Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"}


@pytest.fixture
def americas(settings, use_region):
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    return use_region("us-east")


def test_the_region_file_offers_french_with_its_name_and_word_list():
    region = load_region("us-east")
    assert "fr" in region.languages
    assert region.name_in("fr") == "Amériques"
    assert "common-fr" in region.sensitive_word_lists


def test_french_chat_is_checked_against_the_french_word_list(americas):
    # The lists the region names are the ones the chat consumer hands to moderation.
    masked = moderate_chat(list_names=americas.sensitive_word_lists, text="Quel crétin !")
    assert (masked.verdict, masked.text) == (MASKED, "Quel ****** !")
    asked = moderate_chat(list_names=americas.sensitive_word_lists, text="Paiement hors application, svp")
    assert asked.verdict == REJECTED


@pytest.mark.django_db
def test_a_french_canadian_browser_gets_the_shop_in_french(client, americas):
    html = client.get(reverse("catalog:products"), headers=QUEBEC).content.decode()
    assert '<html lang="fr"' in html
    # Words of locale/fr (the header's links and search box) and the region's French name.
    assert "Mes commandes" in html and "Rechercher des produits" in html
    assert "Amériques" in html
    # The picker offers French, selected, beside the region's other languages.
    assert re.search(r'<option value="fr" lang="fr" selected>Français</option>', html)
    assert re.findall(r'<option value="([a-z-]+)" lang=', html) == list(americas.languages)


@pytest.mark.django_db
def test_a_canadian_reading_french_sees_prices_the_canadian_french_way(client, americas, merchant, tmp_path):
    # 1 USD = 1.5 CAD today, so the 10.00 USD mug costs 15.00 CAD.
    rates = write_ecb_file(tmp_path / "rates.xml", {utc_today(): {"USD": "1.0", "CAD": "1.5"}})
    fx_rates_update(provider=file_provider(rates))
    make_product(merchant, "ceramic-mug", names={"en": "Mug", "fr": "Tasse"}, price_minor=1000)

    html = client.get(reverse("catalog:products"), headers=QUEBEC).content.decode()

    assert "Tasse" in html
    # fr_CA: decimal comma, the symbol after a no-break space, and "$" alone for the local dollar.
    assert "15,00\xa0$" in html
    assert "CA$" not in html and "$CA" not in html


def test_canadas_provinces_have_their_french_names_for_a_french_reader():
    region = load_region("us-east")
    french = dict(rules.subdivision_choices(region, "CA", "fr"))
    assert (french["QC"], french["BC"], french["NL"], french["PE"]) == (
        "Québec",
        "Colombie-Britannique",
        "Terre-Neuve-et-Labrador",
        "Île-du-Prince-Édouard",
    )
    # An address may name the province as a French reader writes it.
    assert rules.subdivision_named(region, "CA", "colombie-britannique").code == "CA-BC"
    # English readers keep the English names.
    assert dict(rules.subdivision_choices(region, "CA", "en"))["BC"] == "British Columbia"
