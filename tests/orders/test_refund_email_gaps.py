"""Refund mails that are never lost and can be sent again, and plain-text mails left unescaped.

1. A refund mail the mail server refused for good is sent again by an operator, to the address
   they corrected, through the same page, URL and service as the order's own mails.
2. A refund whose "refunded" news from payments never reached orders (the process died between
   payments' commit and the signal) still gets its mail: the sweep writes it from payments'
   record, once, in a constant number of queries.
3. "Refunded so far" is the order's, across every payment of it.
4. The shipping mail is plain text: "&" stays "&".

A real SMTP conversation with the local SMTP server of ``test_email_refusals``; Stripe is the
local fake; real PostgreSQL; tasks run in the test's process.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.orders import services
from apps.orders.models import Order, OrderEvent, RefundEmail
from apps.payments import selectors as payment_selectors
from apps.payments import services as payments
from apps.payments.models import Refund
from apps.payments.providers.base import RefundStatus
from tests.orders import test_email_refusals, test_refund_emails
from tests.orders.conftest import cart_with, checkout
from tests.orders.test_email_refusals import _paid_order
from tests.orders.test_refund_emails import _refund_mails, _stripe_order

pytestmark = pytest.mark.django_db

# The local SMTP server those tests script, and the refund tests' broker outage, as fixtures here.
mail_server = test_email_refusals.mail_server
broker_down = test_refund_emails.broker_down

GRACE = services.EMAIL_RESEND_GRACE
REFUSAL = "550 5.1.1 <buyer@example.test>: Recipient address rejected: User unknown"


def _send_again(client, order: Order, kind: str, **data):
    return client.post(reverse("admin:orders_order_email_send_again", args=[order.pk, kind]), data, follow=True)


def _messages(page) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in page.context["messages"]]


def _refunded_so_far(body: str) -> str:
    (line,) = [line for line in body.splitlines() if line.startswith("Refunded so far: ")]
    return line.removeprefix("Refunded so far: ")


def _news_lost(refund: Refund, age: dt.timedelta) -> None:
    """Payments recorded ``refund`` as succeeded ``age`` ago (its signal never ran: the test's
    on-commit callbacks are dropped, as a process dying after the commit drops them)."""
    Refund.objects.filter(pk=refund.pk).update(updated_at=F("updated_at") - age)


@pytest.fixture
def refused_refund(mail_server, stocked, stripe_fake, on_commit, operator) -> RefundEmail:
    order = _stripe_order(stocked, stripe_fake, on_commit, "refund-resend")
    mail_server.rcpt.append(REFUSAL)
    refund = on_commit(services.order_refund, order=order, amount_minor=1250, actor=operator)
    refund_email = RefundEmail.objects.get(refund_id=refund.pk)
    assert refund_email.refused_at is not None and refund_email.refusal == REFUSAL
    return refund_email


# --- 1: sent again by staff ---------------------------------------------------------------


def test_an_operator_sends_a_refused_refund_mail_again_to_the_corrected_address(
    client, operator, mail_server, refused_refund, django_capture_on_commit_callbacks
):
    order = refused_refund.order
    kind = f"refund-{refused_refund.pk}"
    client.force_login(operator)
    html = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    # Beside the order's own refused mails, named with its amount (an order may have several).
    refusal = html.split(f'data-testid="refusal-{kind}"')[1].split("</p>")[0]
    assert "Refund e-mail ($12.50), refused for good by the mail server on " in refusal
    assert REFUSAL.replace("<", "&lt;").replace(">", "&gt;") in refusal
    assert f'data-testid="resend-{kind}"' in html

    with django_capture_on_commit_callbacks() as queued:
        page = _send_again(client, order, kind, email="buyer@example.org")
    assert _messages(page) == [("success", "Refund e-mail: queued to be sent again to buyer@example.org.")]
    assert _refund_mails(mail_server, order) == []  # not inside the request
    for callback in queued:
        callback()

    assert mail_server.recipients[-1] == "buyer@example.org"
    ((_subject, body),) = _refund_mails(mail_server, order)
    assert "$12.50" in body.splitlines()[0]
    refused_refund.refresh_from_db()
    assert refused_refund.sent_at is not None
    assert (refused_refund.refused_at, refused_refund.refusal) == (None, "")
    assert Order.objects.get(pk=order.pk).email == "buyer@example.org"
    event = OrderEvent.objects.filter(order=order).latest("at", "pk")
    assert event.actor == operator
    assert (
        event.note
        == (
            f"refund {refused_refund.refund_id} e-mail sent again to buyer@example.org, not buyer@example.test ({REFUSAL})"
        )[:255]
    )
    page = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert 'data-testid="emails-refused"' not in page.content.decode()


def test_a_refund_mail_not_refused_or_of_another_order_is_not_sent_again(
    client, operator, mail_server, refused_refund, stocked, stripe_fake, on_commit
):
    other = _stripe_order(stocked, stripe_fake, on_commit, "refund-other")
    sent = RefundEmail.objects.get(
        refund_id=on_commit(services.order_refund, order=other, amount_minor=500, actor=operator).pk
    )
    assert sent.sent_at is not None
    client.force_login(operator)
    recipients = list(mail_server.recipients)

    page = on_commit(_send_again, client, other, f"refund-{sent.pk}")
    assert _messages(page) == [
        ("error", "Refund e-mail: the mail server did not refuse it; there is nothing to send again.")
    ]
    page = on_commit(_send_again, client, other, f"refund-{refused_refund.pk}")
    assert _messages(page) == [("error", "There is no such order e-mail.")]

    assert mail_server.recipients == recipients
    refused_refund.refresh_from_db()
    assert refused_refund.refusal == REFUSAL and refused_refund.sent_at is None


def test_the_list_action_sends_a_refused_refund_mail_again(client, operator, mail_server, refused_refund, on_commit):
    order = refused_refund.order
    client.force_login(operator)
    listing = client.get(reverse("admin:orders_order_changelist"), {"email_refused": "yes"})
    assert [o.pk for o in listing.context["cl"].result_list] == [order.pk]

    page = on_commit(
        client.post,
        reverse("admin:orders_order_changelist"),
        {"action": "email_send_again", "_selected_action": [order.pk]},
        follow=True,
    )

    assert _messages(page) == [("success", "1 e-mail is queued to be sent again.")]
    assert len(_refund_mails(mail_server, order)) == 1
    assert RefundEmail.objects.get(pk=refused_refund.pk).sent_at is not None


def test_an_old_refund_mail_sent_again_is_not_lost_when_its_task_cannot_be_queued(
    mail_server, refused_refund, operator, on_commit, broker_down
):
    # Refused a week ago: past the sweep's look-back, which then counts from when staff asked.
    RefundEmail.objects.filter(pk=refused_refund.pk).update(owed_at=timezone.now() - dt.timedelta(days=7))

    on_commit(
        services.order_email_send_again, order=refused_refund.order, kind=f"refund-{refused_refund.pk}", actor=operator
    )
    broker_down.undo()
    assert _refund_mails(mail_server, refused_refund.order) == []
    assert services.order_emails_send_missed() == 0  # within the grace: its task may yet run
    RefundEmail.objects.filter(pk=refused_refund.pk).update(owed_at=F("owed_at") - GRACE * 2)

    assert services.order_emails_send_missed() == 1
    assert services.order_emails_send_missed() == 0
    assert len(_refund_mails(mail_server, refused_refund.order)) == 1


# --- 2: the news of the refund lost --------------------------------------------------------


def test_the_sweep_writes_and_sends_the_mail_of_a_refund_whose_news_was_lost(
    mail_server, stocked, stripe_fake, on_commit, operator
):
    order = _stripe_order(stocked, stripe_fake, on_commit, "refund-lost")
    # Its on-commit callbacks (payments' signal among them) never run.
    refund = services.order_refund(order=order, amount_minor=1500, actor=operator)
    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.SUCCEEDED
    assert not RefundEmail.objects.exists()

    assert services.order_emails_send_missed() == 0  # within the grace: the signal may yet come
    assert not RefundEmail.objects.exists()
    _news_lost(refund, GRACE * 2)

    assert services.order_emails_send_missed() == 1
    ((_subject, body),) = _refund_mails(mail_server, order)
    assert "$15.00" in body.splitlines()[0] and order.reference in body.splitlines()[0]
    assert _refunded_so_far(body) == "$15.00"
    refund_email = RefundEmail.objects.get()
    assert (refund_email.order_id, refund_email.refund_id, refund_email.amount_minor) == (order.pk, refund.pk, 1500)
    assert refund_email.sent_at is not None

    # Not twice: the next sweep, and the signal should it come after all.
    assert services.order_emails_send_missed() == 0
    on_commit(
        services.order_record_refund,
        order_reference=order.reference,
        refunded_minor=1500,
        fully_refunded=False,
        refund_id=refund.pk,
        amount_minor=1500,
        currency="USD",
    )
    assert len(_refund_mails(mail_server, order)) == 1
    assert RefundEmail.objects.count() == 1


def test_the_sweep_leaves_refunds_older_than_its_look_back_and_those_not_succeeded(
    mail_server, stocked, stripe_fake, on_commit, operator
):
    order = _stripe_order(stocked, stripe_fake, on_commit, "refund-lost-old")
    old = services.order_refund(order=order, amount_minor=1000, actor=operator)
    _news_lost(old, services.EMAIL_RESEND_WITHIN + dt.timedelta(hours=1))
    stripe_fake.refund_status = "pending"
    pending = services.order_refund(order=order, amount_minor=500, actor=operator)
    assert Refund.objects.get(pk=pending.pk).status == RefundStatus.PENDING
    _news_lost(pending, GRACE * 2)

    assert services.order_emails_send_missed() == 0
    assert not RefundEmail.objects.exists()
    assert _refund_mails(mail_server, order) == []


def test_the_sweep_writes_lost_refunds_mails_in_as_many_queries_for_one_as_for_several(
    mail_server, stocked, stripe_fake, on_commit, operator, broker_down
):
    def lost(slug: str) -> None:
        order = _stripe_order(stocked, stripe_fake, on_commit, slug)
        _news_lost(services.order_refund(order=order, amount_minor=700, actor=operator), GRACE * 2)

    lost("refund-lost-1")
    with CaptureQueriesContext(connection) as one:
        services.order_emails_send_missed()
    assert RefundEmail.objects.count() == 1
    for slug in ("refund-lost-2", "refund-lost-3", "refund-lost-4"):
        lost(slug)
    with CaptureQueriesContext(connection) as several:
        services.order_emails_send_missed()

    assert RefundEmail.objects.count() == 4
    assert len(several.captured_queries) == len(one.captured_queries)


# --- 3: refunded so far, the order's ------------------------------------------------------


def test_refunded_so_far_counts_every_payment_of_the_order(mail_server, stocked, stripe_fake, on_commit, operator):
    order = _stripe_order_paid_twice(stocked, stripe_fake, on_commit)
    first, second = payment_selectors.payments_for_reference(order_reference=order.reference)
    assert (first.captured_minor, second.captured_minor) == (order.total_minor, 5000)
    # The second payment went back by itself, with its mail.
    ((_subject, body),) = _refund_mails(mail_server, order)
    assert _refunded_so_far(body) == "$50.00"

    on_commit(services.order_refund, order=order, amount_minor=1000, actor=operator)

    (_first, (_subject, of_the_first)) = _refund_mails(mail_server, order)
    # Everything given back of the order, not the $10.00 of that payment alone.
    assert _refunded_so_far(of_the_first) == "$60.00"
    assert RefundEmail.objects.get(refund_id=first.refunds.get().pk).refunded_minor == 6000


def _stripe_order_paid_twice(stocked, stripe_fake, on_commit) -> Order:
    """An order paid by card, and paid again (5000) from a stale tab that started a second intent."""
    order = _stripe_order_unpaid(stocked)
    payment = services.order_pay(order=order)
    stale = payments.payment_create(
        order_reference=order.reference, provider="stripe", method="card", amount_minor=5000, currency="USD"
    )
    assert stale.pk != payment.pk
    for paid in (payment, stale):
        stripe_fake.succeed(paid.provider_payment_id)
        on_commit(payments.payment_refresh, payment_id=paid.pk)
    order = Order.objects.get(pk=order.pk)
    assert order.status == Order.Status.PAID
    return order


def _stripe_order_unpaid(stocked) -> Order:
    return checkout(
        cart_with(stocked("refund-twice", 3, price_minor=4000), quantity=3),
        payment_provider="stripe",
        payment_method="card",
    )


# --- 4: plain text is not HTML ------------------------------------------------------------


def test_the_shipping_mail_writes_an_ampersand_as_it_is(mail_server, stocked, on_commit, operator):
    order = _paid_order(stocked, on_commit, "tom-and-jerry")
    (shipment,) = services.order_fulfil(order=order, actor=operator)

    on_commit(services.shipment_ship, shipment=shipment, tracking_number="TOM&JERRY <1Z999>", actor=operator)

    shipped = [
        message
        for message in (email.message_from_bytes(raw, policy=email.policy.default) for raw in mail_server.messages)
        if message["Subject"].endswith("is on its way")
    ]
    (body,) = [message.get_content() for message in shipped]
    assert "Tracking number: TOM&JERRY <1Z999>" in body.splitlines()
    assert "&amp;" not in body and "&lt;" not in body
