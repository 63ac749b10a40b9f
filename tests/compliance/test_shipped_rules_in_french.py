"""The country rules the migrations ship speak French where us-east's shoppers may read it."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.utils.translation import override

from apps.compliance.models import ProductRule

pytestmark = pytest.mark.django_db

FOOD_COLOURS = "Food colours not permitted in the US"
MIGRATION = importlib.import_module("apps.compliance.migrations.0005_us_food_colours_in_french")


def test_a_french_reader_in_the_us_is_told_in_french_why_a_food_colour_is_not_sold(shipped_country_rules):
    rule = ProductRule.objects.get(name=FOOD_COLOURS)
    with override("fr"):
        assert rule.message == "Contient un colorant alimentaire non autorisé aux États-Unis."
    with override("en"):
        assert rule.message == "Contains a food colour that is not permitted in the United States."


def test_an_operators_own_french_message_is_kept(shipped_country_rules):
    ProductRule.objects.filter(name=FOOD_COLOURS).update(message_fr="Colorant interdit aux É.-U.")
    MIGRATION.add_french(django_apps, None)
    assert ProductRule.objects.get(name=FOOD_COLOURS).message_fr == "Colorant interdit aux É.-U."
    ProductRule.objects.filter(name=FOOD_COLOURS).update(message_fr=None)
    MIGRATION.add_french(django_apps, None)
    assert ProductRule.objects.get(name=FOOD_COLOURS).message_fr == MIGRATION.FRENCH
