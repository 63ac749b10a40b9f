"""The shopper hears about each refund of their order, once the provider confirmed it: one mail
per refund (staff's, the cancellation's, or one made at the provider and learnt by webhook), in
the order's language, with the amount, the total refunded so far, the reference and a link to
the order page. Never for a refund still pending or failed; never twice, whatever is redelivered.

A real SMTP conversation with the local SMTP server of ``test_email_refusals``; Stripe is the
local fake, its webhooks signed as Stripe signs them; real PostgreSQL; tasks run in the test's
process.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import time
from email.header import decode_header, make_header

import pytest
from django.conf import settings
from django.db.models import F
from django.test import Client
from django.utils import timezone, translation
from kombu.exceptions import OperationalError as BrokerUnreachable

from apps.money.formatting import format_money
from apps.orders import services, tasks
from apps.orders.models import Order, RefundEmail
from apps.payments.models import Refund
from apps.payments.providers.base import RefundStatus
from tests.orders import test_email_refusals
from tests.orders.conftest import card_paid, cart_with, checkout
from tests.payments.fakes import stripe_delivered, stripe_event

pytestmark = pytest.mark.django_db

# The local SMTP server those tests script, shared as a fixture of this module.
mail_server = test_email_refusals.mail_server

GRACE = services.EMAIL_RESEND_GRACE
REFUSAL = "550 5.1.1 <buyer@example.test>: Recipient address rejected: User unknown"


def _mails(server) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(raw, policy=email.policy.default) for raw in server.messages]


def _said(language: str, msgid: str) -> str:
    """``msgid`` as the mail says it in ``language`` (English until the catalogue translates it)."""
    with translation.override(language):
        return translation.gettext(msgid)


def _refund_mails(server, order: Order) -> list[tuple[str, str]]:
    """(subject, body) of each refund mail the server took for ``order``."""
    subject = _said(order.language, services.REFUND_EMAIL_SUBJECT) % {"reference": order.reference}
    # A subject outside ASCII ("für") travels as encoded words: compare it decoded.
    decoded = [(" ".join(str(make_header(decode_header(str(m["Subject"])))).split()), m) for m in _mails(server)]
    return [(said, m.get_content()) for said, m in decoded if said == subject]


def _stripe_order(stocked, stripe_fake, on_commit, slug: str, *, country: str | None = None) -> Order:
    """An order of three 40.00 units, paid by card at the fake Stripe."""
    order = checkout(
        cart_with(stocked(slug, 3, price_minor=4000), quantity=3, country=country),
        country=country,
        payment_provider="stripe",
        payment_method="card",
    )
    return card_paid(order, stripe_fake, on_commit)


@pytest.fixture
def broker_down(monkeypatch):
    """Queueing the refund mail's task fails as Celery does when the broker cannot be reached."""

    def down(*args, **kwargs):
        raise BrokerUnreachable("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.send_refund_email, "delay", down)
    return monkeypatch


def _owed_for(refund_email: RefundEmail, age: dt.timedelta) -> None:
    RefundEmail.objects.filter(pk=refund_email.pk).update(owed_at=F("owed_at") - age)


# --- what it says -------------------------------------------------------------------------


def test_a_partial_refund_sends_one_mail_in_german_with_its_amount(
    use_region, mail_server, stocked, stripe_fake, on_commit, operator, settings
):
    use_region("eu-west")
    settings.SITE_URL = "https://eu-west.livemall.example"
    order = _stripe_order(stocked, stripe_fake, on_commit, "refund-de", country="DE")
    assert (order.language, order.currency) == ("de", "EUR")

    refund = on_commit(services.order_refund, order=order, amount_minor=1250, actor=operator)

    assert refund.status == RefundStatus.SUCCEEDED
    ((_subject, body),) = _refund_mails(mail_server, order)
    # Babel's German for the amounts (a decimal comma, the euro sign after a no-break space).
    assert format_money(1250, "EUR", "de_DE") == "12,50\xa0€"
    assert "12,50\xa0€" in body.splitlines()[0] and order.reference in body.splitlines()[0]
    # The order's total and the refunded total, labelled in German.
    assert f"Gesamt: {format_money(order.total_minor, 'EUR', 'de_DE')}" in body.splitlines()
    assert f"{_said('de', 'Refunded so far:')} 12,50\xa0€" in body.splitlines()
    # Its page, from any mail program; a guest is told where it opens.
    link = f"https://eu-west.livemall.example/orders/{order.reference}/"
    assert f"{_said('de', 'Your order, in the browser you placed it with:')} {link}" in body.splitlines()
    assert RefundEmail.objects.get(refund_id=refund.pk).sent_at is not None

    # A second refund: its own mail, its own amount, the total so far.
    second = on_commit(services.order_refund, order=order, amount_minor=2000, actor=operator)
    mails = _refund_mails(mail_server, order)
    assert len(mails) == 2
    assert "20,00\xa0€" in mails[1][1].splitlines()[0]
    assert f"{_said('de', 'Refunded so far:')} 32,50\xa0€" in mails[1][1].splitlines()
    assert RefundEmail.objects.filter(order=order).count() == 2
    assert {r.refund_id for r in RefundEmail.objects.filter(order=order)} == {refund.pk, second.pk}


def test_a_signed_in_shopper_is_told_to_sign_in(mail_server, stocked, stripe_fake, on_commit, operator, make_user):
    user = make_user(email="shopper@example.test")
    order = _stripe_order(stocked, stripe_fake, on_commit, "refund-account")
    Order.objects.filter(pk=order.pk).update(user=user)

    on_commit(services.order_refund, order=Order.objects.get(pk=order.pk), amount_minor=500, actor=operator)

    ((_subject, body),) = _refund_mails(mail_server, order)
    assert f"{settings.SITE_URL}/orders/{order.reference}/" in body
    assert "sign in to your account" in body and "browser you placed it with" not in body


def test_the_cancel_path_refund_sends_the_mail(mail_server, stocked, stripe_fake, on_commit):
    order = _stripe_order(stocked, stripe_fake, on_commit, "refund-cancel")

    on_commit(services.order_cancel, order=order, actor=None)

    ((_subject, body),) = _refund_mails(mail_server, order)
    assert format_money(order.total_minor, "USD", "en_US") in body.splitlines()[0]


# --- only once it succeeded ---------------------------------------------------------------


def test_a_pending_refund_sends_nothing(mail_server, stocked, stripe_fake, on_commit, operator):
    order = _stripe_order(stocked, stripe_fake, on_commit, "refund-pending")
    stripe_fake.refund_status = "pending"

    refund = on_commit(services.order_refund, order=order, amount_minor=1000, actor=operator)

    assert refund.status == RefundStatus.PENDING
    assert _refund_mails(mail_server, order) == []
    assert not RefundEmail.objects.exists()
    assert services.order_emails_send_missed(older_than=dt.timedelta(0)) == 0
    assert _refund_mails(mail_server, order) == []


def test_a_replayed_refund_webhook_still_sends_one_mail(mail_server, stocked, stripe_fake, on_commit, operator):
    order = _stripe_order(stocked, stripe_fake, on_commit, "refund-webhook")
    stripe_fake.refund_status = "pending"
    refund = on_commit(services.order_refund, order=order, amount_minor=1000, actor=operator)
    stripe_refund = dict(stripe_fake.refunds[refund.provider_refund_id])
    succeeded = stripe_event("evt_refund_done", "refund.updated", stripe_refund, int(time.time()), status="succeeded")
    client = Client(enforce_csrf_checks=True)

    on_commit(stripe_delivered, client, succeeded)
    assert len(_refund_mails(mail_server, order)) == 1

    # Stripe delivers the event again, and then the same news under another event id.
    assert on_commit(stripe_delivered, client, succeeded).json()["duplicate"] is True
    again = stripe_event("evt_refund_done_again", "refund.updated", stripe_refund, int(time.time()), status="succeeded")
    on_commit(stripe_delivered, client, again)
    # The task redelivered, and the sweep long after: nothing more.
    refund_email = RefundEmail.objects.get(refund_id=refund.pk)
    assert tasks.send_refund_email.apply(args=[refund_email.pk]).get() is False
    _owed_for(refund_email, GRACE * 2)
    assert services.order_emails_send_missed() == 0

    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.SUCCEEDED
    assert len(_refund_mails(mail_server, order)) == 1
    assert RefundEmail.objects.count() == 1


def test_a_refund_signalled_after_a_later_one_still_gets_its_mail(mail_server, stocked, stripe_fake, on_commit):
    order = _stripe_order(stocked, stripe_fake, on_commit, "refund-order")
    record = {"order_reference": order.reference, "fully_refunded": False, "currency": "USD"}

    # The second refund's news arrives first (its running total already counts the first).
    on_commit(services.order_record_refund, refunded_minor=3000, refund_id=9002, amount_minor=2000, **record)
    on_commit(services.order_record_refund, refunded_minor=1000, refund_id=9001, amount_minor=1000, **record)
    # And each again, as a second signal would.
    on_commit(services.order_record_refund, refunded_minor=3000, refund_id=9002, amount_minor=2000, **record)

    # (The order's total is what its payments record, not what a notice says: these notices name no
    # real refunds; test_refund_totals_reconciled covers the total with real ones.)
    bodies = [body.splitlines()[0] for _subject, body in _refund_mails(mail_server, order)]
    assert len(bodies) == 2
    assert "$20.00" in bodies[0] and "$10.00" in bodies[1]


# --- not lost -----------------------------------------------------------------------------


def test_a_refund_mail_not_queued_is_sent_by_the_sweep_within_its_look_back(
    mail_server, stocked, stripe_fake, on_commit, operator, broker_down
):
    order = _stripe_order(stocked, stripe_fake, on_commit, "refund-sweep")
    on_commit(services.order_refund, order=order, amount_minor=1000, actor=operator)
    on_commit(services.order_refund, order=order, amount_minor=500, actor=operator)
    broker_down.undo()
    first, second = RefundEmail.objects.order_by("pk")
    assert _refund_mails(mail_server, order) == []

    assert services.order_emails_send_missed() == 0  # within the grace: its task may yet run
    _owed_for(first, GRACE * 2)
    _owed_for(second, services.EMAIL_RESEND_WITHIN + dt.timedelta(hours=1))  # too old to send now

    assert services.order_emails_send_missed() == 1
    assert services.order_emails_send_missed() == 0
    ((_subject, body),) = _refund_mails(mail_server, order)
    assert "$10.00" in body.splitlines()[0]
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.sent_at is not None and second.sent_at is None


def test_a_worker_that_died_mid_send_leaves_the_refund_mail_to_the_sweep(
    mail_server, stocked, stripe_fake, on_commit, operator, broker_down
):
    order = _stripe_order(stocked, stripe_fake, on_commit, "refund-died")
    on_commit(services.order_refund, order=order, amount_minor=1000, actor=operator)
    broker_down.undo()
    refund_email = RefundEmail.objects.get()
    _owed_for(refund_email, services.EMAIL_CLAIM_LEASE * 2)

    # Claimed a minute ago: its worker may still be sending, nobody else does.
    RefundEmail.objects.filter(pk=refund_email.pk).update(claimed_at=timezone.now() - dt.timedelta(minutes=1))
    assert services.order_emails_send_missed() == 0
    assert tasks.send_refund_email.apply(args=[refund_email.pk]).get() is False
    # Claimed past the lease: the worker died; the mail is sent, once.
    RefundEmail.objects.filter(pk=refund_email.pk).update(
        claimed_at=timezone.now() - services.EMAIL_CLAIM_LEASE - dt.timedelta(minutes=1)
    )
    assert services.order_emails_send_missed() == 1
    assert services.order_emails_send_missed() == 0
    assert len(_refund_mails(mail_server, order)) == 1


def test_a_refund_mail_refused_for_good_is_recorded_and_not_sent_again(
    mail_server, stocked, stripe_fake, on_commit, operator
):
    order = _stripe_order(stocked, stripe_fake, on_commit, "refund-refused")
    asked = len(mail_server.recipients)  # the confirmation's
    mail_server.rcpt.append(REFUSAL)

    refund = on_commit(services.order_refund, order=order, amount_minor=1000, actor=operator)

    refund_email = RefundEmail.objects.get(refund_id=refund.pk)
    assert (refund_email.refusal, refund_email.sent_at, refund_email.claimed_at) == (REFUSAL, None, None)
    assert refund_email.refused_at is not None
    _owed_for(refund_email, GRACE * 2)
    assert services.order_emails_send_missed() == 0
    assert tasks.send_refund_email.apply(args=[refund_email.pk]).get() is False
    assert len(mail_server.recipients) == asked + 1
    assert _refund_mails(mail_server, order) == []


def test_a_refund_mail_put_off_is_sent_by_the_sweep_later(mail_server, stocked, stripe_fake, on_commit, operator):
    order = _stripe_order(stocked, stripe_fake, on_commit, "refund-greylisted")
    # Greylisted when its task runs (inline here: no retry of its own).
    mail_server.rcpt.append("450 4.2.0 <buyer@example.test>: Recipient address rejected: Greylisted")

    refund = on_commit(services.order_refund, order=order, amount_minor=1000, actor=operator)

    refund_email = RefundEmail.objects.get(refund_id=refund.pk)
    assert (refund_email.sent_at, refund_email.refused_at, refund_email.claimed_at) == (None, None, None)
    _owed_for(refund_email, GRACE * 2)
    assert services.order_emails_send_missed() == 1
    assert len(_refund_mails(mail_server, order)) == 1
