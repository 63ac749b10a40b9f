"""Operators read the rates in the admin; nobody edits them, merchant staff do not see them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.money import services
from apps.money.models import FxRate, RateSnapshot
from tests.money.factories import SHIPPED_DATE, shipped_provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def snapshot():
    services.fx_rates_update(provider=shipped_provider(), today=SHIPPED_DATE)
    return RateSnapshot.objects.get()


def test_operator_reads_snapshots_and_rates(operator_client, snapshot):
    listing = operator_client.get(reverse("admin:money_ratesnapshot_changelist"))
    assert listing.status_code == 200
    assert "2026" in listing.content.decode()
    detail = operator_client.get(reverse("admin:money_ratesnapshot_change", args=[snapshot.pk]))
    body = detail.content.decode()
    assert detail.status_code == 200
    assert "3.6725" in body  # the stored peg row
    assert "1 EUR = 4.25533 AED" in body  # what conversions use, crossed through USD
    rates = operator_client.get(reverse("admin:money_fxrate_changelist") + "?quote=AED")
    assert rates.status_code == 200


def test_nobody_adds_changes_or_deletes_rates(operator_client, snapshot):
    rate = FxRate.objects.get(quote="USD")
    assert operator_client.get(reverse("admin:money_fxrate_add")).status_code == 403
    assert operator_client.get(reverse("admin:money_fxrate_delete", args=[rate.pk])).status_code == 403
    response = operator_client.post(
        reverse("admin:money_fxrate_change", args=[rate.pk]),
        {"snapshot": snapshot.pk, "source": "ecb", "base": "EUR", "quote": "USD", "rate": "9.9"},
    )
    assert response.status_code in {302, 403}
    rate.refresh_from_db()
    assert str(rate.rate.normalize()) == "1.1587"


def test_merchant_staff_do_not_see_rates(client, merchant, snapshot):
    staff = merchant.memberships.get().user
    assert staff.is_staff
    client.force_login(staff)
    assert client.get(reverse("admin:money_ratesnapshot_changelist")).status_code == 403
    assert client.get(reverse("admin:money_fxrate_changelist")).status_code == 403
