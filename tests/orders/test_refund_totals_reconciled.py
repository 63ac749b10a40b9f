"""An order's refunded total is always what its payments gave back, across all of them.

1. An order paid twice (a stale tab's second intent succeeded too) refunded on both payments:
   its refunded total is the sum, and it is refunded only once everything paid is back.
2. A refund whose "refunded" news never reached orders (the process died between payments'
   commit and the signal: here the test's on-commit callbacks are dropped) leaves the order's
   total behind; the reconciling sweep sets it from payments' record, once, with a history
   entry and a warning, in as many queries for one order as for several.
3. A refund that failed after it succeeded lowers the total to what still stands, by its
   signal and, that news lost, by the sweep.

Stripe is the local fake; webhooks are signed and posted to our endpoint; real PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest
from django.db import connection
from django.db.models import F
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.money.formatting import format_money
from apps.orders import services
from apps.orders.models import Order, OrderEvent, RefundEmail
from apps.payments import selectors as payment_selectors
from apps.payments import services as payments
from apps.payments.models import Payment, Refund
from apps.payments.providers.base import RefundStatus
from tests.orders.test_refund_email_gaps import _stripe_order_paid_twice
from tests.orders.test_refund_emails import _stripe_order
from tests.payments.fakes import stripe_delivered, stripe_event

pytestmark = pytest.mark.django_db

GRACE = services.REFUND_TOTALS_GRACE
SWEPT = "from payments' refunds, their notice was lost"


@pytest.fixture
def client():
    return Client(enforce_csrf_checks=True)


@pytest.fixture(autouse=True)
def _mails_sent_here(celery_inline):
    """The mails the refunds owe are sent in the test's process (to Django's test outbox)."""


def _news_lost(refund: Refund, age: dt.timedelta) -> None:
    """Payments wrote ``refund`` ``age`` earlier than it did: its news is past the sweep's grace."""
    Refund.objects.filter(pk=refund.pk).update(updated_at=F("updated_at") - age)


def _refund_failed(client, stripe_fake, refund: Refund, event_id: str) -> None:
    """Stripe says ``refund``, which it had said succeeded, failed (the card was closed)."""
    refund.refresh_from_db()
    stripe_refund = {**stripe_fake.refunds[refund.provider_refund_id], "failure_reason": "expired_or_canceled_card"}
    stripe_delivered(client, stripe_event(event_id, "refund.failed", stripe_refund, int(time.time()), status="failed"))
    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.FAILED


def _totals(order: Order) -> tuple[str, int]:
    order.refresh_from_db()
    return order.status, order.refunded_minor


def _swept_events(order: Order) -> list[OrderEvent]:
    return list(OrderEvent.objects.filter(order=order, note__contains=SWEPT).order_by("pk"))


# --- 1: two payments ----------------------------------------------------------------------


def test_an_order_paid_twice_counts_both_payments_refunds_and_is_refunded_when_all_is_back(
    stocked, stripe_fake, on_commit, operator
):
    order = _stripe_order_paid_twice(stocked, stripe_fake, on_commit)
    first, second = payment_selectors.payments_for_reference(order_reference=order.reference)
    paid = order.total_minor + 5000
    # The second payment went back by itself (tests/orders/test_paid_twice.py): the order is not refunded.
    assert Payment.objects.get(pk=second.pk).status == "refunded"
    assert _totals(order) == (Order.Status.PAID, 5000)

    on_commit(payments.payment_refund, payment_id=first.pk, amount_minor=1000)
    # $10.00 of the first is back too: the sum over both payments.
    assert _totals(order) == (Order.Status.PAID, 6000)

    on_commit(services.order_refund, order=order, actor=operator)
    assert Payment.objects.get(pk=first.pk).status == "refunded"
    assert _totals(order) == (Order.Status.REFUNDED, paid)
    event = OrderEvent.objects.filter(order=order).latest("at", "pk")
    assert (event.from_status, event.to_status, event.actor_label) == ("paid", "refunded", "payment:refund")
    assert event.note.endswith(f": {format_money(paid, 'USD', 'en')} refunded in all")


def test_refunds_signalled_out_of_order_and_again_leave_the_sum_recorded_once(
    stocked, stripe_fake, on_commit, django_capture_on_commit_callbacks
):
    order = _stripe_order(stocked, stripe_fake, on_commit, "totals-out-of-order")
    payment = payment_selectors.payment_paid_for_reference(order_reference=order.reference)
    with django_capture_on_commit_callbacks() as first_news:
        payments.payment_refund(payment_id=payment.pk, amount_minor=1000)
    with django_capture_on_commit_callbacks() as second_news:
        payments.payment_refund(payment_id=payment.pk, amount_minor=2000)

    # The second refund's news arrives first, then the first's, then the second's again.
    for callback in (*second_news, *first_news, *second_news):
        on_commit(callback)

    assert _totals(order) == (Order.Status.PAID, 3000)
    (event,) = OrderEvent.objects.filter(order=order, note__endswith="refunded in all")
    assert event.note.endswith(": $30.00 refunded in all")
    # Each refund's mail, each saying the order's total when it was written.
    assert sorted(RefundEmail.objects.filter(order=order).values_list("amount_minor", "refunded_minor")) == [
        (1000, 3000),
        (2000, 3000),
    ]


# --- 2: the news lost ---------------------------------------------------------------------


def test_the_sweep_sets_the_total_of_a_refund_whose_news_was_lost_once(
    stocked, stripe_fake, on_commit, operator, caplog
):
    order = _stripe_order(stocked, stripe_fake, on_commit, "totals-lost")
    # Its on-commit callbacks (payments' signal among them) never run.
    refund = services.order_refund(order=order, amount_minor=1500, actor=operator)
    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.SUCCEEDED
    assert _totals(order) == (Order.Status.PAID, 0)

    assert services.order_refund_totals_reconcile() == 0  # within the grace: the signal may yet come
    _news_lost(refund, GRACE * 2)
    with caplog.at_level(logging.WARNING, logger="apps.orders.services"):
        assert services.order_refund_totals_reconcile() == 1

    assert _totals(order) == (Order.Status.PAID, 1500)
    (event,) = _swept_events(order)
    assert (event.from_status, event.to_status, event.actor_label, event.actor) == (
        "paid",
        "paid",
        "payment:refund",
        None,
    )
    assert event.note == f"refunded in all $15.00, not $0.00: {SWEPT}"
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING and order.reference in r.getMessage()]
    assert "(drift +1500)" in warning.getMessage()

    # Not twice: the next sweep, and the signal should it come after all.
    caplog.clear()
    assert services.order_refund_totals_reconcile() == 0
    events = OrderEvent.objects.filter(order=order).count()
    on_commit(
        services.order_record_refund,
        order_reference=order.reference,
        refunded_minor=1500,
        fully_refunded=False,
        refund_id=refund.pk,
        amount_minor=1500,
        currency="USD",
    )
    assert _totals(order) == (Order.Status.PAID, 1500)
    assert OrderEvent.objects.filter(order=order).count() == events
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_sweep_refunds_an_order_whose_full_refund_news_was_lost(stocked, stripe_fake, on_commit, operator):
    order = _stripe_order(stocked, stripe_fake, on_commit, "totals-lost-full")
    refund = services.order_refund(order=order, actor=operator)
    _news_lost(refund, GRACE * 2)

    assert services.order_refund_totals_reconcile() == 1

    assert _totals(order) == (Order.Status.REFUNDED, order.total_minor)
    (event,) = _swept_events(order)
    assert (event.from_status, event.to_status) == ("paid", "refunded")
    assert services.order_refund_totals_reconcile() == 0
    assert len(_swept_events(order)) == 1


def test_the_sweep_leaves_refunds_older_than_its_look_back(stocked, stripe_fake, on_commit, operator):
    order = _stripe_order(stocked, stripe_fake, on_commit, "totals-lost-old")
    refund = services.order_refund(order=order, amount_minor=1000, actor=operator)
    _news_lost(refund, services.REFUND_TOTALS_WITHIN + dt.timedelta(hours=1))

    assert services.order_refund_totals_reconcile() == 0
    assert _totals(order) == (Order.Status.PAID, 0)


def test_the_sweep_sets_lost_totals_in_as_many_queries_for_one_order_as_for_several(
    stocked, stripe_fake, on_commit, operator
):
    def lost(slug: str) -> Order:
        order = _stripe_order(stocked, stripe_fake, on_commit, slug)
        _news_lost(services.order_refund(order=order, amount_minor=700, actor=operator), GRACE * 2)
        return order

    orders = [lost("totals-lost-1")]
    with CaptureQueriesContext(connection) as one:
        assert services.order_refund_totals_reconcile() == 1
    orders += [lost(slug) for slug in ("totals-lost-2", "totals-lost-3", "totals-lost-4")]
    with CaptureQueriesContext(connection) as several:
        assert services.order_refund_totals_reconcile() == 3

    assert len(several.captured_queries) == len(one.captured_queries)
    assert [_totals(order) for order in orders] == [(Order.Status.PAID, 700)] * 4


def test_the_sweep_is_on_the_beat_schedule():
    from livemall.celery import app

    entry = app.conf.beat_schedule["orders-refund-totals-reconcile"]
    assert entry["task"] == "orders.refund_totals_reconcile"
    assert entry["schedule"] <= 600


# --- 3: failed after it succeeded ---------------------------------------------------------


def test_a_refund_failing_after_success_lowers_the_total_to_the_other_payments_refunds(
    stocked, stripe_fake, on_commit, client
):
    order = _stripe_order_paid_twice(stocked, stripe_fake, on_commit)
    first, second = payment_selectors.payments_for_reference(order_reference=order.reference)
    on_commit(payments.payment_refund, payment_id=first.pk, amount_minor=2000)
    # The second payment's refund is the one that went back by itself.
    refund = second.refunds.get()
    assert _totals(order) == (Order.Status.PAID, 7000)

    on_commit(_refund_failed, client, stripe_fake, refund, "evt_totals_failed")

    # The first payment's refund still stands.
    assert _totals(order) == (Order.Status.PAID, 2000)
    event = OrderEvent.objects.filter(order=order).latest("at", "pk")
    assert event.note == (
        f"refund {refund.pk} of $50.00 failed after it succeeded (expired_or_canceled_card): $20.00 refunded in all"
    )
    assert services.order_refund_totals_reconcile(older_than=dt.timedelta(0)) == 0


def test_the_sweep_lowers_the_total_when_a_failure_after_success_was_not_heard_of(
    stocked, stripe_fake, on_commit, operator, client, caplog
):
    order = _stripe_order(stocked, stripe_fake, on_commit, "totals-failed-lost")
    refund = on_commit(services.order_refund, order=order, actor=operator)
    assert _totals(order) == (Order.Status.REFUNDED, order.total_minor)

    # Payments records the failure; its news to orders is lost.
    _refund_failed(client, stripe_fake, refund, "evt_totals_failed_lost")
    assert _totals(order) == (Order.Status.REFUNDED, order.total_minor)
    _news_lost(refund, GRACE * 2)

    with caplog.at_level(logging.WARNING, logger="apps.orders.services"):
        assert services.order_refund_totals_reconcile() == 1

    # No step leads back from refunded: the status stays, the money shows owed again.
    assert _totals(order) == (Order.Status.REFUNDED, 0)
    (event,) = _swept_events(order)
    assert (event.from_status, event.to_status) == ("refunded", "refunded")
    assert event.note == f"refunded in all $0.00, not {format_money(order.total_minor, 'USD', 'en')}: {SWEPT}"
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING and order.reference in r.getMessage()]
    assert f"(drift -{order.total_minor})" in warning.getMessage()
    assert services.order_refund_totals_reconcile() == 0
