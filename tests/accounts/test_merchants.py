"""Merchants: created with an owner, named in any script."""

from __future__ import annotations

import pytest

from apps.accounts import services
from apps.errors import ApplicationError


@pytest.mark.parametrize(
    ("name", "slug"),
    [("Shop A", "shop-a"), ("  Café   Lumière ", "cafe-lumiere")],
)
def test_a_merchant_gets_a_slug_from_its_name(make_user, name, slug):
    merchant = services.merchant_create(name=name, country="us", owner=make_user())
    assert (merchant.slug, merchant.country, merchant.name) == (slug, "US", " ".join(name.split()))


@pytest.mark.parametrize("name", ["متجر الخليج", "ร้านผ้าไหม", "丝绸小店"])
def test_a_name_in_another_script_gets_a_stable_ascii_slug(make_user, name):
    merchant = services.merchant_create(name=name, country="AE", owner=make_user())
    assert merchant.name == name
    assert merchant.slug.startswith("shop-") and merchant.slug.isascii()
    with pytest.raises(ApplicationError) as err:  # the same name again is the same shop
        services.merchant_create(name=name, country="AE", owner=make_user())
    assert err.value.code == "duplicate"


@pytest.mark.parametrize("name", ["", "   "])
def test_a_merchant_needs_a_name(db, make_user, name):
    with pytest.raises(ApplicationError) as err:
        services.merchant_create(name=name, country="US", owner=make_user())
    assert err.value.fields == {"name": ["This field is required."]}
