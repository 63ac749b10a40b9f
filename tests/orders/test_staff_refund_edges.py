"""Edges staff meet with coupon codes and refunds.

A code differing only by case from another is refused (the form, the database, the
migration that adds the rule); a flash coupon only names countries this region serves; a
refund asked while the provider is down is accepted, worded for staff; a cancel whose
refund the provider declines stands, and the money still held is shown until returned.

Real PostgreSQL and Redis; Stripe is the local fake, and "down" is a port nothing listens on.
"""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps as django_apps
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from apps.errors import ApplicationError
from apps.money.formatting import format_money
from apps.orders import services
from apps.orders.models import Coupon, Order, OrderEvent
from apps.orders.selectors import available_units
from apps.payments import services as payments
from apps.payments.models import Refund
from apps.payments.providers.base import RefundStatus
from tests.orders.test_coupon_rules import _admin_form
from tests.payments.fakes import closed_port_url

pytestmark = pytest.mark.django_db

RETRIED = (
    "The payment provider is not answering, so the refund is not made yet: "
    "it is sent again every 15 minutes until the provider takes it."
)
SHOPPER_WORDING = "try another method"


def _coupon(code: str, **kwargs) -> Coupon:
    now = timezone.now()
    params = {
        "percent_off": 10,
        "valid_from": now - dt.timedelta(minutes=1),
        "valid_until": now + dt.timedelta(hours=1),
    }
    params.update(kwargs)
    return Coupon.objects.create(code=code, **params)


# --- 1: one coupon per code, in any case -------------------------------------------------------


def test_the_admin_refuses_a_code_that_differs_only_by_case(operator):
    coupon = _coupon("FLASH-1")
    form = _admin_form(operator, {"code": "flash-1"})
    assert not form.is_valid()
    assert form.errors["code"] == ["A coupon with this code exists."]
    assert Coupon.objects.count() == 1
    # Its own code in another case is no clash.
    coupon.code = "Flash-1"
    coupon.full_clean()
    coupon.save()
    assert Coupon.objects.get().code == "Flash-1"


def test_the_database_refuses_a_code_that_differs_only_by_case():
    _coupon("LIVE-AB12")
    with pytest.raises(IntegrityError), transaction.atomic():
        _coupon("live-ab12")
    assert list(Coupon.objects.values_list("code", flat=True)) == ["LIVE-AB12"]


def _migration():
    return importlib.import_module("apps.orders.migrations.0008_coupon_code_unique_in_any_case")


def _without_the_constraint():
    """Rows as they could be before the migration: the constraint dropped (rolled back with the test)."""
    constraint = next(c for c in Coupon._meta.constraints if c.name == "coupon_code_unique_in_any_case")
    with connection.schema_editor() as editor:
        editor.remove_constraint(Coupon, constraint)


def test_the_migration_stops_with_the_clashing_codes_named():
    _without_the_constraint()
    kept = _coupon("SUMMER")
    upper, lower = _coupon("FLASH-1"), _coupon("flash-1")
    with connection.schema_editor() as editor, pytest.raises(CommandError) as err:
        _migration().refuse_codes_differing_only_by_case(django_apps, editor)
    message = str(err.value)
    assert f"FLASH-1 (id {upper.pk})" in message and f"flash-1 (id {lower.pk})" in message
    assert "Rename or delete all but one" in message
    assert kept.code not in message


def test_the_migration_goes_on_when_every_code_is_unique_in_any_case():
    _without_the_constraint()
    _coupon("FLASH-1")
    _coupon("FLASH-2")
    with connection.schema_editor() as editor:
        _migration().refuse_codes_differing_only_by_case(django_apps, editor)


# --- 2: flash coupons name countries this region serves ----------------------------------------


def test_a_flash_coupon_for_a_country_this_region_does_not_serve_is_refused(settings):
    served = settings.REGION.country_codes
    assert "DE" not in served
    now = timezone.now()
    with pytest.raises(ApplicationError) as err:
        services.coupon_create(
            code="LIVE-DE01",
            percent_off=20,
            valid_from=now,
            valid_until=now + dt.timedelta(minutes=5),
            countries=[settings.REGION.default_country, "DE"],
        )
    assert (err.value.code, err.value.status) == ("invalid_coupon", 400)
    assert err.value.fields == {
        "countries": [f"Not a country this region serves: DE. Use {', '.join(sorted(served))}."]
    }
    assert not Coupon.objects.exists()
    coupon = services.coupon_create(
        code="LIVE-DE01",
        percent_off=20,
        valid_from=now,
        valid_until=now + dt.timedelta(minutes=5),
        countries=sorted(served),
    )
    assert coupon.countries == sorted(served)


# --- 3 and 4: refunds staff ask for, and cancels, when the provider will not refund ---------------


def _api_step(client, order: Order, step: str, data: dict | None = None):
    return client.post(f"/api/v1/orders/{order.reference}/steps/{step}", data or {}, content_type="application/json")


def test_a_refund_asked_through_the_api_while_the_provider_is_down_is_accepted(
    client, operator, stripe_paid, settings, stripe_fake
):
    order = stripe_paid("edges-refund-down")
    settings.STRIPE_API_BASE = closed_port_url()
    client.force_login(operator)
    r = _api_step(client, order, "refund", {"amount_minor": 1000})
    assert r.status_code == 202, r.json()
    body = r.json()
    assert (body["status"], body["refunded_minor"], body["refund_owed_minor"]) == ("paid", 0, 1000)
    assert body["notice"] == RETRIED and SHOPPER_WORDING not in r.content.decode()
    refund = Refund.objects.get(payment__order_reference=order.reference)
    assert (refund.status, refund.provider_refund_id, refund.amount_minor) == (RefundStatus.PENDING, "", 1000)
    assert len(stripe_fake.refunds) == 0
    asked = OrderEvent.objects.get(order=order, actor=operator)
    assert asked.note == f"refund {refund.pk} of $10.00 asked; provider unavailable"


def test_the_refund_service_tells_staff_the_refund_is_retried_not_to_try_another_method(
    operator, stripe_paid, settings
):
    order = stripe_paid("edges-refund-words")
    settings.STRIPE_API_BASE = closed_port_url()
    with pytest.raises(ApplicationError) as err:
        services.order_refund(order=order, amount_minor=1000, actor=operator)
    assert (err.value.code, err.value.status, err.value.message) == ("provider_unavailable", 503, RETRIED)


def test_a_cancel_whose_refund_is_declined_stands_and_says_the_money_is_owed(
    client, operator, stripe_paid, stripe_fake
):
    order = stripe_paid("edges-cancel-declined")
    variant_id = order.lines.get().variant_id
    before = available_units([variant_id])[variant_id]
    stripe_fake.decline_refunds = True
    client.force_login(operator)
    r = _api_step(client, order, "cancel", {"note": "customer asked"})
    assert r.status_code == 200, r.json()
    body = r.json()
    assert (body["status"], body["refunded_minor"], body["refund_owed_minor"]) == ("cancelled", 0, 0)
    assert body["refund_declined_minor"] == order.total_minor
    amount = format_money(order.total_minor, order.currency, "en")
    assert body["notice"] == (
        f"Refund owed: {amount} paid for this cancelled order has not been returned to the customer, "
        "and nothing will send it again. Return it another way, for example from the stripe dashboard."
    )
    refund = Refund.objects.get(payment__order_reference=order.reference)
    assert refund.status == RefundStatus.FAILED
    assert available_units([variant_id])[variant_id] == before + 1  # the unit is on sale again
    declined = OrderEvent.objects.get(order=order, actor_label="payment:refund")
    assert declined.note.startswith("refund declined by stripe: Charge for ") and "charged back" in declined.note


def test_the_order_page_shows_a_declined_refund_as_owed_until_the_money_is_returned(
    client, operator, stripe_paid, stripe_fake, on_commit
):
    order = stripe_paid("edges-cancel-admin")
    stripe_fake.decline_refunds = True
    client.force_login(operator)
    page = client.post(reverse("admin:orders_order_step", args=[order.pk, "cancel"]), {"note": "x"}, follow=True)
    got = [(m.level_tag, str(m)) for m in page.context["messages"]]
    amount = format_money(order.total_minor, order.currency, page.wsgi_request.shopper.locale)
    owed = (
        "error",
        f"Refund owed: {amount} paid for this cancelled order has not been returned to the customer, "
        "and nothing will send it again. Return it another way, for example from the stripe dashboard.",
    )
    assert got == [("success", "Done: the order is now cancelled."), owed]
    # Not the pending refund's "sent again every 15 minutes": nothing sends this one.
    assert page.context["refunds_owed"] == []
    # Every visit says so, until the money has gone back (here: refunded from the provider's side).
    again = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert [(m.level_tag, str(m)) for m in again.context["messages"]] == [owed]
    stripe_fake.decline_refunds = False
    payment = Refund.objects.get(payment__order_reference=order.reference).payment
    on_commit(payments.payment_refund, payment_id=payment.pk, reason="returned by hand")
    settled = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert list(settled.context["messages"]) == []


def test_a_cancel_whose_refund_succeeds_shows_nothing_owed(client, operator, stripe_paid):
    order = stripe_paid("edges-cancel-ok")
    client.force_login(operator)
    r = _api_step(client, order, "cancel")
    assert r.status_code == 200, r.json()
    assert (r.json()["refund_owed_minor"], r.json()["refund_declined_minor"], r.json()["notice"]) == (0, 0, "")
    page = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert list(page.context["messages"]) == []
