from __future__ import annotations

import io

import pytest
from django.apps import apps
from django.core.management import call_command

from apps.accounts.models import Merchant, MerchantMembership, User
from apps.catalog.models import Product
from apps.live.models import LiveRoom


def _snapshot() -> dict[str, list[tuple]]:
    """Every row of every model the seed touches, as plain values (password hashes included)."""
    out = {}
    for model in apps.get_models():
        if model._meta.app_label in {
            "accounts",
            "catalog",
            "live",
            "auth",
            "compliance",
            "money",
            "payments",
            "orders",
        }:
            out[model._meta.label] = sorted(model.objects.values_list(), key=repr)
    return out


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["us-east", "me-south"])
def test_seed_demo_twice_gives_the_same_rows(use_region, code):
    region = use_region(code)
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    first = _snapshot()
    call_command("seed_demo", stdout=io.StringIO())
    assert _snapshot() == first

    assert Merchant.objects.count() >= 3
    staff = User.objects.filter(memberships__role=MerchantMembership.Role.STAFF)
    assert staff.count() >= 3
    assert all(user.is_staff and not user.is_superuser for user in staff)
    assert LiveRoom.objects.filter(status=LiveRoom.Status.SCHEDULED).count() >= 3
    product = Product.objects.first()
    for lang in region.languages:
        assert getattr(product, f"name_{lang.replace('-', '_')}"), lang
    printed = out.getvalue()
    assert "operator@livemall.example" in printed
    assert "staff@atelier-nova.example" in printed
    assert "livemall-demo" in printed
