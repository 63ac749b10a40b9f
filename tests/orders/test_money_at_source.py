"""Services say money the way the staff member reads it, at the source: in their locale (language
and country: Canadian dollars are "$" in en_CA, where the language alone writes "CA$"), the minor
units kept for API clients under a ``*_minor`` field; and the order's history records amounts as
money, not as minor units.

Real PostgreSQL and Redis; Stripe is the local fake, declining refunds where asked.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from apps.accounts.selectors import COUNTRY_COOKIE_NAME
from apps.errors import ApplicationError
from apps.money import services as money
from apps.money.formatting import format_money
from apps.orders import services
from apps.orders.models import Order, OrderEvent
from apps.payments.models import Refund
from tests.money.factories import todays_provider
from tests.orders.conftest import ADDRESSES, card_paid, cart_with, checkout, shopper_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def canadian_paid(use_region, tmp_path, stocked, stripe_fake, on_commit):
    """``canadian_paid("slug")``: a Toronto shopper's order in Canadian dollars, paid by card."""
    use_region("us-east")
    money.fx_rates_update(provider=todays_provider(tmp_path / "rates.xml"))

    def make(slug: str) -> Order:
        cart = cart_with(stocked(slug, 3, price_minor=4000), country="CA")
        order = checkout(
            cart,
            shopper=shopper_for(country="CA"),
            address=ADDRESSES["CA"],
            payment_provider="stripe",
            payment_method="card",
        )
        assert order.currency == "CAD"
        return card_paid(order, stripe_fake, on_commit)

    return make


@pytest.fixture
def canadian_declined(canadian_paid, refund_declined):
    """A cancelled Canadian order whose refund Stripe declined: the money is owed, held."""

    def make(slug: str) -> Order:
        return refund_declined(canadian_paid(slug))

    return make


@pytest.fixture
def canadian_staff(client, operator):
    """An operator in Canada: their pages and API answers are in en_CA."""
    client.cookies[COUNTRY_COOKIE_NAME] = "CA"
    client.force_login(operator)
    return client


def _dollars(minor: int) -> str:
    return f"${minor // 100:,}.{minor % 100:02d}"


def test_the_api_says_the_owed_amount_changed_in_canadian_money_and_carries_the_number(
    canadian_staff, canadian_declined
):
    order = canadian_declined("source-owed-api")
    owed = order.total_minor

    r = canadian_staff.post(
        f"/api/v1/orders/{order.reference}/refund-returned-outside",
        {"amount_minor": owed - 1, "note": "bank transfer"},
        content_type="application/json",
    )

    assert r.status_code == 409
    assert r.wsgi_request.shopper.locale == "en_CA"
    error = r.json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["code"] == "owed_changed"
    assert error["message"] == (
        "The refund owed has changed since you looked; look at the order again before recording it."
    )
    assert error["fields"] == {
        "amount_minor": [f"The refund owed is now {_dollars(owed)}."],
        "owed_minor": [str(owed)],
    }
    assert "CA$" not in r.content.decode()
    assert not Refund.objects.filter(settled_outside_at__isnull=False).exists()


def test_the_admin_says_the_owed_amount_changed_in_canadian_money_without_the_number(canadian_staff, canadian_declined):
    order = canadian_declined("source-owed-admin")
    owed = order.total_minor

    page = canadian_staff.post(
        reverse("admin:orders_order_refund_settled", args=[order.pk]),
        {"owed_minor": str(owed - 1), "note": "bank transfer"},
        follow=True,
    )

    errors = [str(m) for m in page.context["messages"] if m.level_tag == "error"]
    assert (
        "The refund owed has changed since you looked; look at the order again before recording it. "
        f"The refund owed is now {_dollars(owed)}."
    ) in errors
    assert not any("CA$" in text or re.search(rf"\b{owed}\b", text) for text in errors)


def test_the_service_says_it_in_the_locale_it_is_given(canadian_declined, operator):
    order = canadian_declined("source-owed-service")
    owed = order.total_minor

    said = {}
    for locale in ("en_CA", "en_US"):
        with pytest.raises(ApplicationError) as err:
            services.order_refund_settle_outside(
                order=order, amount_minor=owed + 1, note="bank transfer", actor=operator, locale=locale
            )
        said[locale] = err.value.fields["amount_minor"]

    assert said == {
        "en_CA": [f"The refund owed is now {format_money(owed, 'CAD', 'en_CA')}."],
        "en_US": [f"The refund owed is now {format_money(owed, 'CAD', 'en_US')}."],
    }
    assert said["en_CA"] == [f"The refund owed is now {_dollars(owed)}."]
    assert said["en_US"] == [f"The refund owed is now CA{_dollars(owed)}."]


def test_a_refund_refused_as_too_much_is_said_in_the_staff_members_locale(canadian_staff, canadian_paid):
    order = canadian_paid("source-over-refund")
    most = order.total_minor

    api = canadian_staff.post(
        f"/api/v1/orders/{order.reference}/steps/refund",
        {"amount_minor": most + 1},
        content_type="application/json",
    )
    page = canadian_staff.post(
        reverse("admin:orders_order_step", args=[order.pk, "refund"]), {"amount": "100000"}, follow=True
    )

    assert api.status_code == 400
    assert api.json()["error"]["fields"] == {
        "amount_minor": [f"At most {_dollars(most)} can be refunded."],
        "refundable_minor": [str(most)],
    }
    assert [str(m) for m in page.context["messages"]] == [
        f"That is more than can be refunded. At most {_dollars(most)} can be refunded."
    ]


def test_the_history_records_refunds_as_money_with_their_ids(
    canadian_staff, canadian_paid, canadian_declined, on_commit
):
    paid = canadian_paid("source-history-refund")
    r = on_commit(
        canadian_staff.post,
        f"/api/v1/orders/{paid.reference}/steps/refund",
        {"amount_minor": 1850},
        content_type="application/json",
    )
    assert r.status_code == 200, r.json()
    refund = Refund.objects.get(payment__order_reference=paid.reference)
    notes = list(OrderEvent.objects.filter(order=paid, note__startswith="refund").values_list("note", flat=True))
    # Written once, read by any staff member later: English, the currency always named.
    assert notes == [f"refund {refund.pk} of CA$18.50 asked", f"refund {refund.pk}: CA$18.50 refunded in all"]

    declined = canadian_declined("source-history-outside")
    owed = declined.total_minor
    r = on_commit(
        canadian_staff.post,
        f"/api/v1/orders/{declined.reference}/refund-returned-outside",
        {"amount_minor": owed, "note": "Bank transfer 42"},
        content_type="application/json",
    )
    assert r.status_code == 200, r.json()
    settled = Refund.objects.get(settled_outside_at__isnull=False)
    event = OrderEvent.objects.get(order=declined, note__contains="returned outside")
    assert event.note == f"refund {settled.pk} of CA{_dollars(owed)} returned outside stripe: Bank transfer 42"
