"""After a cancel, nothing the customer is owed is forgotten, and nothing is paid back twice.

1. A paid order cancelled while a partial refund still waits for the provider: the rest is
   written at once and sent (now or by the retry sweep), each refund with its own key.
2. An order whose payment is only authorized: the cancel voids the authorization (Stripe
   cancels the intent), cleanly; a provider that is down leaves the void to the sweep.
3. A refund the provider declined: staff record that they returned it another way, with a
   note; "Refund owed" is gone and no sweep sends it.

Real PostgreSQL and Redis; Stripe is the local fake (extended below with what manual
capture needs), and "down" is a port nothing listens on (connection refused).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse

from apps.accounts import services as accounts
from apps.errors import ApplicationError
from apps.money.formatting import format_money
from apps.orders import selectors, services
from apps.orders.models import Order, OrderEvent
from apps.payments import breaker
from apps.payments import services as payments
from apps.payments.models import Payment, Refund
from apps.payments.providers.base import PaymentStatus, RefundStatus
from tests.orders.conftest import cart_with, checkout, voids_asked
from tests.payments.fakes import FakeStripe, closed_port_url, stripe_served_by

pytestmark = pytest.mark.django_db

NOW = dt.timedelta(0)  # the sweep's grace, waived: these refunds are not under way elsewhere


class ManualCaptureStripe(FakeStripe):
    """The fake Stripe, with intents that are only authorized (``requires_capture``); their cancel is the base fake's."""

    def authorize(self, intent_id: str) -> None:
        """The shopper confirmed a manual-capture intent: the money is held on the card, not taken."""
        with self.lock:
            self.intents[intent_id].update(status="requires_capture", capture_method="manual")

    def capture_elsewhere(self, intent_id: str) -> None:
        """Someone captured it from Stripe's dashboard, and we have not heard."""
        with self.lock:
            intent = self.intents[intent_id]
            intent.update(status="succeeded", amount_received=intent["amount"])


@pytest.fixture
def stripe_fake(settings):
    """This module's Stripe (the conftest's ``stripe_paid`` takes it too)."""
    yield from stripe_served_by(ManualCaptureStripe(), settings)


@pytest.fixture
def down(settings, stripe_fake):
    """``with down():`` Stripe refuses connections; afterwards it answers again, its breaker closed."""

    class Outage:
        def __enter__(self) -> None:
            settings.STRIPE_API_BASE = closed_port_url()

        def __exit__(self, *exc: Any) -> None:
            settings.STRIPE_API_BASE = stripe_fake.url
            breaker.reset("stripe")

    return Outage


def _refunds_at_stripe(stripe_fake) -> list[tuple[str, int]]:
    return sorted((r["metadata"]["refund_key"], r["amount"]) for r in stripe_fake.refunds.values())


def _payment(order: Order) -> Payment:
    return Payment.objects.get(order_reference=order.reference)


def _sweep(on_commit) -> int:
    return on_commit(payments.refunds_retry_unsettled, older_than=NOW)


# --- 1: the whole remainder of a paid order goes back, once ----------------------------------


def test_a_cancel_after_a_pending_partial_refund_refunds_the_rest_once(
    stripe_paid, stripe_fake, down, operator, on_commit
):
    order = stripe_paid("cancel-rest")
    total = order.total_minor
    with down(), pytest.raises(ApplicationError) as err:
        services.order_refund(order=order, amount_minor=1000, actor=operator)
    assert err.value.code == "provider_unavailable"

    on_commit(services.order_cancel, order=order, actor=operator)

    key = f"order:{order.reference}:refund"
    assert _refunds_at_stripe(stripe_fake) == sorted([(f"{key}:1", 1000), (f"{key}:2", total - 1000)])
    assert _payment(order).status == PaymentStatus.REFUNDED
    order.refresh_from_db()
    assert (order.status, order.refunded_minor) == (Order.Status.CANCELLED, total)
    assert selectors.order_refunds_owed(order=order) == selectors.RefundsOwed()

    # Again, in any order: a second cancel is refused, the sweep finds nothing to send.
    with pytest.raises(ApplicationError) as again:
        services.order_cancel(order=order, actor=operator)
    assert again.value.code == "illegal_transition"
    assert _sweep(on_commit) == 0
    assert _sweep(on_commit) == 0
    assert len(stripe_fake.requests_to("/v1/refunds")) == 2
    assert Refund.objects.filter(payment__order_reference=order.reference).count() == 2


def test_a_cancel_while_the_provider_is_down_leaves_the_whole_rest_to_the_sweep(
    stripe_paid, stripe_fake, down, operator, on_commit
):
    order = stripe_paid("cancel-rest-down")
    total = order.total_minor
    with down():
        with pytest.raises(ApplicationError):
            services.order_refund(order=order, amount_minor=1000, actor=operator)
        # The cancel answers cleanly; what it owes is written, pending, for the sweep.
        cancelled = on_commit(services.order_cancel, order=order, actor=operator)
        assert cancelled.status == Order.Status.CANCELLED
        owed = selectors.order_refunds_owed(order=Order.objects.get(pk=order.pk))
        assert (owed.waiting_minor, owed.held_minor) == (total, 0)
        # A sweep while Stripe is still down sends nothing and loses nothing.
        assert _sweep(on_commit) == 0
    pending = Refund.objects.filter(payment__order_reference=order.reference).order_by("pk")
    assert [(r.amount_minor, r.status, r.provider_refund_id) for r in pending] == [
        (1000, RefundStatus.PENDING, ""),
        (total - 1000, RefundStatus.PENDING, ""),
    ]
    assert stripe_fake.refunds == {}

    assert _sweep(on_commit) == 2
    assert _sweep(on_commit) == 0
    key = f"order:{order.reference}:refund"
    assert _refunds_at_stripe(stripe_fake) == sorted([(f"{key}:1", 1000), (f"{key}:2", total - 1000)])
    order.refresh_from_db()
    assert order.refunded_minor == total
    assert selectors.order_refunds_owed(order=order) == selectors.RefundsOwed()


def test_the_sweep_first_then_the_cancel_still_refunds_the_rest_once(
    stripe_paid, stripe_fake, down, operator, on_commit
):
    order = stripe_paid("cancel-sweep-first")
    total = order.total_minor
    with down(), pytest.raises(ApplicationError):
        services.order_refund(order=order, amount_minor=1500, actor=operator)
    assert _sweep(on_commit) == 1  # the partial refund goes out first
    on_commit(services.order_cancel, order=order, actor=operator)
    assert _sweep(on_commit) == 0
    key = f"order:{order.reference}:refund"
    assert _refunds_at_stripe(stripe_fake) == sorted([(f"{key}:1", 1500), (f"{key}:2", total - 1500)])
    assert Order.objects.get(pk=order.pk).refunded_minor == total


def test_a_payment_arriving_again_after_the_cancel_adds_no_refund(stripe_paid, stripe_fake, down, on_commit):
    order = stripe_paid("cancel-late-again")
    with down():
        on_commit(services.order_cancel, order=order)
    payment = _payment(order)
    # The "paid" news replayed (a webhook, a refresh) for the cancelled order: it gives back what is
    # not covered yet, which is nothing, and sends the refund the cancel wrote, with its key.
    on_commit(
        services.order_mark_paid,
        order_reference=order.reference,
        amount_minor=payment.captured_minor,
        currency=payment.currency,
        provider="stripe",
        payment_id=payment.pk,
    )
    assert _refunds_at_stripe(stripe_fake) == [(f"order:{order.reference}:refund:1", order.total_minor)]
    assert _sweep(on_commit) == 0
    assert len(stripe_fake.requests_to("/v1/refunds")) == 1
    assert Refund.objects.filter(payment__order_reference=order.reference).count() == 1


# --- 2: an authorization is voided, not refunded ---------------------------------------------


def _authorized(stocked, stripe_fake, on_commit, slug: str) -> Order:
    order = checkout(cart_with(stocked(slug, 3, price_minor=4000)), payment_provider="stripe", payment_method="card")
    payment = services.order_pay(order=order)
    stripe_fake.authorize(payment.provider_payment_id)
    on_commit(payments.payment_refresh, payment_id=payment.pk)
    assert _payment(order).status == PaymentStatus.AUTHORIZED
    return Order.objects.get(pk=order.pk)


def test_cancelling_an_order_whose_payment_is_only_authorized_voids_it(stocked, stripe_fake, on_commit):
    order = _authorized(stocked, stripe_fake, on_commit, "cancel-auth")
    cancelled = on_commit(services.order_cancel, order=order, note="changed my mind")
    assert cancelled.status == Order.Status.CANCELLED
    payment = _payment(order)
    assert payment.status == PaymentStatus.CANCELLED
    assert stripe_fake.intents[payment.provider_payment_id]["status"] == "canceled"
    assert voids_asked(stripe_fake) == [f"order:{order.reference}:void"]
    assert stripe_fake.refunds == {} and not Refund.objects.exists()
    assert _sweep(on_commit) == 0
    assert len(voids_asked(stripe_fake)) == 1


def test_a_paid_order_holding_only_an_authorization_is_cancelled_without_an_error(stocked, stripe_fake, on_commit):
    """Before: ``not_refundable`` after the cancel had gone through."""
    order = _authorized(stocked, stripe_fake, on_commit, "cancel-auth-paid")
    payment = _payment(order)
    # Orders told "paid" of the authorization (as a capture-later flow would be).
    assert services.order_mark_paid(
        order_reference=order.reference,
        amount_minor=order.total_minor,
        currency=order.currency,
        provider="stripe",
        payment_id=payment.pk,
    )
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    on_commit(services.order_cancel, order=order)
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert _payment(order).status == PaymentStatus.CANCELLED
    assert voids_asked(stripe_fake) == [f"order:{order.reference}:void"]
    assert selectors.order_refunds_owed(order=order) == selectors.RefundsOwed()


def test_a_void_the_provider_could_not_take_is_retried_by_the_sweep_once(stocked, stripe_fake, down, on_commit):
    order = _authorized(stocked, stripe_fake, on_commit, "cancel-auth-down")
    with down():
        cancelled = on_commit(services.order_cancel, order=order)
        assert cancelled.status == Order.Status.CANCELLED
        assert _sweep(on_commit) == 0
    payment = _payment(order)
    assert payment.status == PaymentStatus.AUTHORIZED and payment.void_requested_at is not None
    assert voids_asked(stripe_fake) == []

    assert _sweep(on_commit) == 1
    assert _sweep(on_commit) == 0
    assert _payment(order).status == PaymentStatus.CANCELLED
    assert voids_asked(stripe_fake) == [f"order:{order.reference}:void"]


def test_an_authorization_captured_meanwhile_is_refunded_instead(stocked, stripe_fake, on_commit):
    order = _authorized(stocked, stripe_fake, on_commit, "cancel-auth-captured")
    payment = _payment(order)
    stripe_fake.capture_elsewhere(payment.provider_payment_id)
    on_commit(services.order_cancel, order=order)
    # Stripe would not void a captured intent: asked, it says succeeded, and that money goes back.
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    assert _refunds_at_stripe(stripe_fake) == [(f"order:{order.reference}:refund:1", order.total_minor)]
    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED


# --- 3: a declined refund returned another way -------------------------------------------------


def test_staff_record_a_declined_refund_returned_by_bank_transfer(declined, stripe_fake, operator, on_commit):
    order = declined("cancel-settle")
    total = order.total_minor
    (refund,) = on_commit(
        services.order_refund_settle_outside,
        order=order,
        amount_minor=total,
        note="  Bank transfer, ref. TRX-0042  ",
        actor=operator,
    )
    refund.refresh_from_db()
    assert (refund.status, refund.amount_minor, refund.provider_refund_id) == (RefundStatus.SUCCEEDED, total, "")
    assert (refund.settled_outside_by, refund.settled_outside_note) == (operator.email, "Bank transfer, ref. TRX-0042")
    assert refund.settled_outside_at is not None
    assert _payment(order).status == PaymentStatus.REFUNDED
    order.refresh_from_db()
    assert (order.status, order.refunded_minor) == (Order.Status.CANCELLED, total)
    assert selectors.order_refunds_owed(order=order) == selectors.RefundsOwed()
    event = OrderEvent.objects.filter(order=order, actor=operator).get()
    noted = format_money(total, "USD", "en")  # the history's money: English, the currency always named
    assert event.note == f"refund {refund.pk} of {noted} returned outside stripe: Bank transfer, ref. TRX-0042"

    # Never sent anywhere, by anyone: the sweep leaves it, a second record is refused.
    assert _sweep(on_commit) == 0
    assert len(stripe_fake.requests_to("/v1/refunds")) == 1  # the declined one
    with pytest.raises(ApplicationError) as err:
        services.order_refund_settle_outside(order=order, amount_minor=total, note="again", actor=operator)
    assert (err.value.code, err.value.status) == ("not_owed", 409)
    assert Refund.objects.filter(settled_outside_at__isnull=False).count() == 1


@pytest.mark.parametrize("note", ["", "   ", None, "x" * 501])
def test_settling_outside_needs_a_note_of_how(declined, operator, note):
    order = declined(f"cancel-note-{len(note or '')}")
    with pytest.raises(ApplicationError) as err:
        services.order_refund_settle_outside(order=order, amount_minor=order.total_minor, note=note, actor=operator)
    assert (err.value.code, list(err.value.fields)) == ("invalid_note", ["note"])
    assert not Refund.objects.filter(settled_outside_at__isnull=False).exists()
    assert selectors.order_refunds_owed(order=order).held_minor == order.total_minor


def test_settling_outside_is_refused_when_nothing_is_owed(stripe_paid, down, operator, on_commit):
    paid = stripe_paid("cancel-not-owed-paid")
    with pytest.raises(ApplicationError) as err:
        services.order_refund_settle_outside(order=paid, amount_minor=paid.total_minor, note="bank", actor=operator)
    assert err.value.code == "not_owed"

    # A refund only waiting for its provider is not owed by staff: the sweep sends it.
    waiting = stripe_paid("cancel-not-owed-waiting")
    with down():
        on_commit(services.order_cancel, order=waiting)
    waiting.refresh_from_db()
    with pytest.raises(ApplicationError) as err:
        services.order_refund_settle_outside(
            order=waiting, amount_minor=waiting.total_minor, note="bank", actor=operator
        )
    assert err.value.code == "not_owed"
    assert not Refund.objects.filter(settled_outside_at__isnull=False).exists()


def test_settling_outside_an_amount_other_than_owed_is_refused(declined, operator):
    order = declined("cancel-changed")
    with pytest.raises(ApplicationError) as err:
        services.order_refund_settle_outside(
            order=order, amount_minor=order.total_minor - 1, note="bank transfer", actor=operator
        )
    assert (err.value.code, err.value.status) == ("owed_changed", 409)
    assert not Refund.objects.filter(settled_outside_at__isnull=False).exists()


def test_the_order_page_records_it_and_stops_saying_refund_owed(client, declined, operator):
    order = declined("cancel-admin")
    client.force_login(operator)
    page = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert page.context["refund_held_minor"] == order.total_minor
    assert b'data-testid="refund-outside"' in page.content
    url = reverse("admin:orders_order_refund_settled", args=[order.pk])

    empty = client.post(url, {"owed_minor": str(order.total_minor), "note": " "}, follow=True)
    [(level, said)] = [(m.level_tag, str(m)) for m in empty.context["messages"]][:1]
    assert level == "error" and said.startswith("Say how the money was returned to the customer")
    assert not Refund.objects.filter(settled_outside_at__isnull=False).exists()

    done = client.post(url, {"owed_minor": str(order.total_minor), "note": "SEPA transfer 2026-11-24"}, follow=True)
    got = [(m.level_tag, str(m)) for m in done.context["messages"]]
    assert got == [("success", "Recorded: the refund owed was returned to the customer another way.")]
    assert "refund_held_minor" not in done.context
    assert b'data-testid="refund-outside"' not in done.content
    assert Refund.objects.get(settled_outside_at__isnull=False).settled_outside_note == "SEPA transfer 2026-11-24"

    again = client.post(url, {"owed_minor": str(order.total_minor), "note": "again"}, follow=True)
    assert [m.level_tag for m in again.context["messages"]] == ["error"]
    assert Refund.objects.filter(settled_outside_at__isnull=False).count() == 1


def test_merchant_staff_cannot_record_money_returned(client, declined, merchant, make_user):
    order = declined("cancel-merchant")
    staff = make_user(email="packer@shop-a.test")
    accounts.merchant_staff_add(merchant=merchant, user=staff)
    client.force_login(staff)
    page = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert page.status_code == 200 and b'data-testid="refund-outside"' not in page.content
    url = reverse("admin:orders_order_refund_settled", args=[order.pk])
    r = client.post(url, {"owed_minor": str(order.total_minor), "note": "bank transfer"})
    assert r.status_code == 403
    assert not Refund.objects.filter(settled_outside_at__isnull=False).exists()
