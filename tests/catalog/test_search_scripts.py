"""Search finds products as shoppers type them in Arabic, Thai and Chinese (PostgreSQL).

Arabic is written with or without hamza or madda on alef, ta marbuta or ha, alef maksura or
ya, diacritics and tatweel: every spelling finds the product, whichever one the merchant used.
Thai and Chinese put no spaces between words, so a word is found inside a sentence of the
description too.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.catalog import services
from apps.catalog.selectors import CATALOG_GENERATION
from apps.compliance.moderation import fold_for_matching
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def edge_country(settings):
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"

    def headers(country: str, language: str) -> dict[str, str]:
        return {"CF-IPCountry": country, "Accept-Language": language}

    return headers


def _product(region, merchant, slug: str, names: dict[str, str], descriptions: dict[str, str] | None = None):
    product = services.product_create(
        region=region, merchant=merchant, slug=slug, names=names, descriptions=descriptions
    )
    services.variant_create(region=region, product=product, sku=slug.upper(), price_minor=1000)
    return product


def _found(client, query: str, headers: dict[str, str]) -> set[str]:
    response = client.get(reverse("catalog:search"), {"q": query}, headers=headers)
    assert response.status_code == 200
    return set(re.findall(r'data-product="([^"]+)"', response.content.decode()))


@pytest.fixture
def arabic_shelf(merchant, use_region):
    region = use_region("me-south")
    _product(region, merchant, "watch", {"ar": "ساعة يد ذكية", "en": "Smart watch"})
    _product(region, merchant, "bag", {"ar": "حقيبة جلد أسود", "en": "Black leather bag"})
    _product(
        region,
        merchant,
        "dress",
        {"ar": "فُسْتَانُ سَهْرَةٍ", "en": "Evening dress"},
        {"ar": "مصنوع من الحرير الطبيعى", "en": "Made of natural silk."},
    )
    _product(region, merchant, "coffee", {"ar": "قهـــوة عربية", "en": "Arabic coffee"})
    _product(region, merchant, "machine", {"ar": "آلة تحميص", "en": "Roasting machine"})
    _product(region, merchant, "sweets", {"ar": "حلوى إماراتية", "en": "Emirati sweets"})


@pytest.mark.parametrize(
    ("query", "slugs"),
    [
        ("ساعه", {"watch"}),  # ha for ta marbuta
        ("ساعـة", {"watch"}),  # with tatweel
        ("اسود", {"bag"}),  # bare alef for alef with hamza
        ("فستان", {"dress"}),  # the name is written with diacritics
        ("فَسْتان سهرة", {"dress"}),  # the query is, partly
        ("الطبيعي", {"dress"}),  # ya for alef maksura, a word of the description
        ("قهوه", {"coffee"}),  # the name is stretched with tatweel
        ("الة", {"machine"}),  # bare alef for alef with madda
        ("حلوي اماراتيه", {"sweets"}),
        ("ساعة حقيبة", set()),  # every word is needed, as before
    ],
)
def test_arabic_spellings_find_each_other(client, arabic_shelf, edge_country, query, slugs):
    assert _found(client, query, edge_country("AE", "ar")) == slugs


def test_the_api_searches_arabic_the_same_way(client, arabic_shelf):
    response = client.get(reverse("catalog-api:products"), {"country": "AE", "lang": "ar", "q": "ساعه"})
    assert response.status_code == 200
    assert {item["slug"] for item in response.json()["results"]} == {"watch"}


def test_the_search_box_keeps_the_spelling_the_shopper_typed(client, arabic_shelf, edge_country):
    # Folding is how products are matched, not a correction of the shopper's spelling: the box
    # (and so the listing's cache key, see search_text) keeps "ساعة", and "ساعه" is a listing of its own.
    response = client.get(reverse("catalog:search"), {"q": "ساعة"}, headers=edge_country("AE", "ar"))
    assert 'value="ساعة"' in response.content.decode()


@pytest.fixture
def asian_shelf(merchant, use_region):
    region = use_region("ap-southeast")
    _product(
        region,
        merchant,
        "sunscreen",
        {"en": "Sunscreen SPF50", "th": "ครีมกันแดด SPF50"},
        {"en": "Light sunscreen for sensitive skin.", "th": "ครีมกันแดดเนื้อบางเบาสำหรับผิวแพ้ง่าย"},
    )
    _product(
        region,
        merchant,
        "shampoo",
        {"en": "Herbal shampoo", "th": "แชมพูสมุนไพร"},
        {"en": "For dry, damaged hair.", "th": "สำหรับผม\u200bแห้งเสียและหนังศีรษะบอบบาง"},
    )
    _product(
        region,
        merchant,
        "scarf",
        {"en": "Silk scarf", "zh-hans": "真丝围巾"},
        {"en": "Hand-rolled hems, dyed with indigo.", "zh-hans": "手工卷边\uff0c靛蓝染色\uff0c适合春秋季节佩戴。"},
    )
    _product(
        region, merchant, "hat", {"en": "Wool hat", "zh-hans": "羊毛帽子"}, {"zh-hans": "保暖舒适\uff0c冬季必备。"}
    )


@pytest.mark.parametrize(
    ("query", "slugs"),
    [
        ("ผิวแพ้ง่าย", {"sunscreen"}),  # "sensitive skin", inside the description's one sentence
        ("ผมแห้ง", {"shampoo"}),  # "dry hair", written with a zero-width space between the words
        ("สมุนไพร", {"shampoo"}),  # "herbal", inside the name
        ("กันแดด ผิวแพ้ง่าย", {"sunscreen"}),  # two words, each somewhere
        ("กันแดด ผมแห้ง", set()),
        ("ผิว -ผมแห้ง", {"sunscreen"}),  # "skin", not "dry hair"
        ("ลิปสติก", set()),
    ],
)
def test_thai_words_are_found_inside_sentences(client, asian_shelf, edge_country, query, slugs):
    assert _found(client, query, edge_country("TH", "th")) == slugs


@pytest.mark.parametrize(
    ("query", "slugs"),
    [
        ("靛蓝", {"scarf"}),  # "indigo", inside the description
        ("冬季", {"hat"}),  # "winter"
        ("围巾", {"scarf"}),
        ("真丝 染色", {"scarf"}),
        ("羊毛 靛蓝", set()),
        ("\uff53\uff49\uff4c\uff4b", {"scarf"}),  # "silk" in full-width letters, as a Chinese input method types them
    ],
)
def test_chinese_words_are_found_inside_sentences(client, asian_shelf, edge_country, query, slugs):
    assert _found(client, query, edge_country("SG", "zh-hans")) == slugs


def test_words_of_spaced_scripts_are_still_matched_whole_in_descriptions(client, asian_shelf, edge_country):
    # "dig" is inside "indigo": a Latin word of a description is found only whole, as before.
    assert _found(client, "dig", edge_country("SG", "en")) == set()
    assert _found(client, "indigo", edge_country("SG", "en")) == {"scarf"}


def test_a_search_in_thai_costs_the_same_queries_whatever_it_finds(client, merchant, edge_country, use_region):
    region = use_region("ap-southeast")

    def searched() -> tuple[int, int]:
        CATALOG_GENERATION.bump()  # rendered from the database, not the cache
        with CaptureQueriesContext(connection) as captured:
            slugs = _found(client, "กันแดด", edge_country("TH", "th"))
        return len(captured), len(slugs)

    _product(region, merchant, "sunscreen-0", {"en": "Sunscreen 0", "th": "ครีมกันแดด 0"})
    searched()  # the first request also loads and caches the country's rules
    queries_for_one, found = searched()
    assert found == 1
    for number in range(1, 8):
        _product(region, merchant, f"sunscreen-{number}", {"en": f"Sunscreen {number}", "th": f"ครีมกันแดด {number}"})
    make_product(merchant, "mug")
    queries_for_eight, found = searched()
    assert found == 8 and queries_for_eight == queries_for_one


@pytest.mark.parametrize(
    ("typed", "folded"),
    [
        ("أسوَد", "اسود"),
        ("ساعـة", "ساعه"),
        ("إلى مستشفى", "الي مستشفي"),
        ("\u0627\u0653\u0644\u0629", "اله"),  # alef and a combining madda compose first, then fold
        ("\uff33\uff29\uff2c\uff2b Scarf", "silk scarf"),  # full-width "SILK"
        ("ครีม\u200bกันแดด", "ครีมกันแดด"),
    ],
)
def test_query_and_products_are_folded_by_one_table(typed, folded):
    assert fold_for_matching(typed) == folded
