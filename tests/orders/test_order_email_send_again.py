"""Operators send again an order e-mail the mail server refused for good, to the address they
corrected (or the same one, the shopper having mended their mailbox): the refusal is cleared,
who and when go in the order's history, and the mail goes out through its Celery task after
the commit, never inside the request. Merchant staff cannot.

A real SMTP conversation with the local SMTP server of ``test_email_refusals``; real PostgreSQL;
tasks run in the test's process (Celery's own ``task_prerun`` signal tells which ran).
"""

from __future__ import annotations

import pytest
from celery.signals import task_prerun
from django.urls import reverse

from apps.accounts import services as accounts
from apps.orders import services
from apps.orders.models import Order, OrderEvent
from tests.orders import test_email_refusals
from tests.orders.test_email_refusals import _paid_order, _subjects

pytestmark = pytest.mark.django_db

# The local SMTP server those tests script, shared as a fixture of this module.
mail_server = test_email_refusals.mail_server

REFUSAL = "550 5.1.1 <buyer@example.test>: Recipient address rejected: User unknown"


@pytest.fixture
def tasks_run():
    """The names and arguments of the Celery tasks run while the test runs."""
    ran: list[tuple[str, tuple]] = []

    def record(sender=None, args=None, **kwargs) -> None:
        ran.append((sender.name, tuple(args or ())))

    task_prerun.connect(record, weak=False)
    yield ran
    task_prerun.disconnect(record)


@pytest.fixture
def refused_order(mail_server, stocked, on_commit):
    mail_server.rcpt.append(REFUSAL)
    order = _paid_order(stocked, on_commit)
    assert order.confirmation_refused_at is not None and order.confirmation_sent_at is None
    return order


def _send_again(client, order: Order, kind: str = "confirmation", **data):
    return client.post(reverse("admin:orders_order_email_send_again", args=[order.pk, kind]), data, follow=True)


def _messages(page) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in page.context["messages"]]


def _actions(listing) -> set[str]:
    """The actions the order list offers (none at all: no action form)."""
    form = listing.context["action_form"]
    return set(dict(form.fields["action"].choices)) if form is not None else set()


def _changelist_action(client, orders: list[Order]):
    return client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "email_send_again", "_selected_action": [o.pk for o in orders]},
        follow=True,
    )


def test_an_operator_sends_a_refused_confirmation_again_to_the_corrected_address(
    client, operator, mail_server, refused_order, tasks_run, django_capture_on_commit_callbacks
):
    client.force_login(operator)
    page = client.get(reverse("admin:orders_order_change", args=[refused_order.pk]))
    html = page.content.decode()
    assert 'data-testid="resend-confirmation"' in html
    # The server's answer beside the button, so staff know what to mend.
    assert (
        "Confirmation e-mail, refused for good by the mail server on "
        in html.split('data-testid="refusal-confirmation"')[1].split("</p>")[0]
    )
    assert REFUSAL.replace("<", "&lt;").replace(">", "&gt;") in html.split('data-testid="refusal-confirmation"')[1]

    with django_capture_on_commit_callbacks() as queued:
        page = _send_again(client, refused_order, email="buyer@example.org")
    # Nothing is sent inside the request: the task is queued once the change is committed.
    assert mail_server.recipients == ["buyer@example.test"] and tasks_run == []
    assert _messages(page) == [("success", "Confirmation e-mail: queued to be sent again to buyer@example.org.")]
    for callback in queued:
        callback()

    assert tasks_run == [("orders.send_order_confirmation", (refused_order.pk,))]
    assert mail_server.recipients == ["buyer@example.test", "buyer@example.org"]
    assert _subjects(mail_server) == [f"Your LiveMall order {refused_order.reference}"]
    order = Order.objects.get(pk=refused_order.pk)
    assert order.email == "buyer@example.org"
    assert order.confirmation_sent_at is not None
    assert order.confirmation_refused_at is None and order.confirmation_refusal == ""
    event = OrderEvent.objects.filter(order=order).latest("at", "pk")
    assert (event.from_status, event.to_status) == (Order.Status.PAID, Order.Status.PAID)
    assert event.actor == operator and event.actor_label == operator.email
    assert (
        event.note == f"confirmation e-mail sent again to buyer@example.org, not buyer@example.test ({REFUSAL})"[:255]
    )
    # Nothing refused any more: the page offers nothing to send again.
    page = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert 'data-testid="emails-refused"' not in page.content.decode()


def test_the_same_address_may_be_tried_again_and_a_new_refusal_is_recorded(
    mail_server, refused_order, operator, on_commit
):
    mail_server.rcpt.append("550 5.2.1 Mailbox disabled")

    on_commit(services.order_email_send_again, order=refused_order, kind="confirmation", actor=operator, email="")

    assert mail_server.recipients == ["buyer@example.test", "buyer@example.test"]
    assert mail_server.messages == []
    order = Order.objects.get(pk=refused_order.pk)
    assert order.email == "buyer@example.test"
    assert order.confirmation_refusal == "550 5.2.1 Mailbox disabled" and order.confirmation_refused_at is not None
    assert OrderEvent.objects.filter(
        order=order, actor=operator, note=f"confirmation e-mail sent again after the mail server refused it ({REFUSAL})"
    ).exists()

    # Mended at last: the same address, sent again, is taken.
    on_commit(services.order_email_send_again, order=order, kind="confirmation", actor=operator)
    assert len(mail_server.messages) == 1
    assert Order.objects.get(pk=order.pk).confirmation_sent_at is not None


def test_a_refused_shipping_mail_is_sent_again_apart_from_the_confirmation(
    client, operator, mail_server, stocked, on_commit
):
    order = _paid_order(stocked, on_commit, "lamp")
    mail_server.rcpt.append("550 No such user")
    (shipment,) = services.order_fulfil(order=order, actor=operator)
    on_commit(services.shipment_ship, shipment=shipment, tracking_number="1Z999", actor=operator)
    client.force_login(operator)

    page = on_commit(_send_again, client, order, "confirmation")
    assert _messages(page) == [
        ("error", "Confirmation e-mail: the mail server did not refuse it; there is nothing to send again.")
    ]

    page = on_commit(_send_again, client, order, "shipped", email="buyer@example.test")

    assert _messages(page) == [("success", "Shipping e-mail: queued to be sent again to buyer@example.test.")]
    assert _subjects(mail_server) == [
        f"Your LiveMall order {order.reference}",
        f"Your LiveMall order {order.reference} is on its way",
    ]
    order.refresh_from_db()
    assert order.shipped_email_sent_at is not None and order.shipped_email_refused_at is None


@pytest.mark.parametrize(
    ("kind", "email", "message"),
    [
        ("confirmation", "not-an-address", "Enter a valid e-mail address. not-an-address"),
        ("confirmation", "two@example.test, three@example.test", "Enter a valid e-mail address."),
        ("teleport", "", "There is no such order e-mail."),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    client, operator, mail_server, refused_order, on_commit, kind, email, message
):
    client.force_login(operator)
    events = refused_order.events.count()

    page = on_commit(_send_again, client, refused_order, kind, email=email)

    assert page.status_code == 200
    [(level, text)] = _messages(page)
    assert level == "error" and text.startswith(message)
    order = Order.objects.get(pk=refused_order.pk)
    assert order.email == "buyer@example.test" and order.confirmation_refusal == REFUSAL
    assert order.events.count() == events
    assert mail_server.recipients == ["buyer@example.test"]


def test_a_mail_the_order_no_longer_owes_is_not_sent_again(client, operator, mail_server, refused_order, on_commit):
    services.order_take_step(order=refused_order, step="cancel", actor=operator, note="out of stock")
    client.force_login(operator)

    page = on_commit(_send_again, client, refused_order, "confirmation")

    [(level, text)] = _messages(page)
    assert level == "error"
    assert text == "Confirmation e-mail: no longer sent, as the order is cancelled."
    order = Order.objects.get(pk=refused_order.pk)
    assert order.confirmation_refused_at is not None and order.confirmation_sent_at is None
    assert mail_server.recipients == ["buyer@example.test"]


def test_the_list_action_sends_every_refused_mail_of_the_selected_orders(
    client, operator, mail_server, refused_order, stocked, on_commit
):
    delivered = _paid_order(stocked, on_commit, "cup")  # its confirmation went out
    client.force_login(operator)
    listing = client.get(reverse("admin:orders_order_changelist"))
    assert "email_send_again" in _actions(listing)

    page = on_commit(_changelist_action, client, [refused_order, delivered])

    assert _messages(page) == [("success", "1 e-mail is queued to be sent again.")]
    assert mail_server.recipients == ["buyer@example.test", "buyer@example.test", "buyer@example.test"]
    assert _subjects(mail_server) == [
        f"Your LiveMall order {delivered.reference}",
        f"Your LiveMall order {refused_order.reference}",
    ]
    assert Order.objects.get(pk=refused_order.pk).confirmation_refused_at is None
    assert OrderEvent.objects.filter(order=refused_order, actor=operator, note__contains="sent again").count() == 1
    assert not OrderEvent.objects.filter(order=delivered, note__contains="sent again").exists()


def test_the_list_action_says_when_nothing_was_refused(client, operator, mail_server, stocked, on_commit):
    order = _paid_order(stocked, on_commit, "cup")
    client.force_login(operator)
    events = order.events.count()

    page = on_commit(_changelist_action, client, [order])

    assert _messages(page) == [
        ("warning", "The mail server refused no e-mail of the selected orders: nothing was sent.")
    ]
    assert order.events.count() == events
    assert len(mail_server.recipients) == 1


def test_merchant_staff_cannot_send_mail_again(client, merchant, make_user, mail_server, refused_order, on_commit):
    staff = make_user(email="staff@shop-a.test")
    accounts.merchant_staff_add(merchant=merchant, user=staff)
    clerk = make_user(email="clerk@livemall.test")  # staff without the order permission
    clerk.is_staff = True
    clerk.save(update_fields=["is_staff"])

    for user in (staff, clerk):
        client.force_login(user)
        assert on_commit(_send_again, client, refused_order).status_code == 403
    client.force_login(staff)
    page = client.get(reverse("admin:orders_order_change", args=[refused_order.pk]))
    assert page.status_code == 200 and 'data-testid="emails-refused"' not in page.content.decode()
    listing = client.get(reverse("admin:orders_order_changelist"))
    assert "email_send_again" not in _actions(listing)
    # Posted anyway, the action is not theirs to run.
    on_commit(_changelist_action, client, [refused_order])

    order = Order.objects.get(pk=refused_order.pk)
    assert order.confirmation_refusal == REFUSAL and order.confirmation_refused_at is not None
    assert not order.events.filter(note__contains="sent again").exists()
    assert mail_server.recipients == ["buyer@example.test"]


def test_sending_again_takes_a_post(client, operator, refused_order):
    client.force_login(operator)
    url = reverse("admin:orders_order_email_send_again", args=[refused_order.pk, "confirmation"])
    assert client.get(url).status_code == 405
