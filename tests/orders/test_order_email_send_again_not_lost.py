"""A refused order e-mail that staff send again is not lost when its task cannot be queued (the
broker down at the commit): the sweep sends it, counting from when staff asked, however old the
order. Once sent (or refused again) it is left alone.

A real SMTP conversation with the local SMTP server of ``test_email_refusals``; real PostgreSQL;
tasks run in the test's process.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import F
from kombu.exceptions import OperationalError as BrokerUnreachable

from apps.orders import services, tasks
from apps.orders.models import Order
from tests.orders import test_email_refusals
from tests.orders.test_email_refusals import _owed_for, _paid_order, _subjects

pytestmark = pytest.mark.django_db

mail_server = test_email_refusals.mail_server

GRACE = services.EMAIL_RESEND_GRACE
REFUSAL = "550 5.1.1 <buyer@example.test>: Recipient address rejected: User unknown"


@pytest.fixture
def broker_down(monkeypatch):
    """``broker_down()``: from now on, queueing the confirmation's task fails as Celery does when
    the broker cannot be reached; ``.undo()`` on the result brings it back."""

    def down(*args, **kwargs):
        raise BrokerUnreachable("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    def go_down():
        monkeypatch.setattr(tasks.send_order_confirmation, "delay", down)
        return monkeypatch

    return go_down


def _asked_again_for(order: Order, age: dt.timedelta) -> None:
    Order.objects.filter(pk=order.pk).update(confirmation_send_again_at=F("confirmation_send_again_at") - age)


def test_a_resend_not_queued_is_sent_by_the_sweep_however_old_the_order(
    mail_server, stocked, on_commit, operator, broker_down
):
    mail_server.rcpt.append(REFUSAL)
    order = _paid_order(stocked, on_commit)
    assert order.confirmation_refused_at is not None
    # Paid (and refused) long before the sweep's look-back: the step no longer makes it owed.
    _owed_for(order, services.EMAIL_RESEND_WITHIN + dt.timedelta(days=1))

    broker = broker_down()
    on_commit(services.order_email_send_again, order=order, kind="confirmation", actor=operator)
    broker.undo()

    order.refresh_from_db()
    assert order.confirmation_refused_at is None and order.confirmation_send_again_at is not None
    assert mail_server.messages == []
    assert services.order_emails_send_missed() == 0  # within the grace: its task may yet run
    _asked_again_for(order, GRACE * 2)

    assert services.order_emails_send_missed() == 1
    assert _subjects(mail_server) == [f"Your LiveMall order {order.reference}"]
    assert services.order_emails_send_missed() == 0
    assert len(mail_server.messages) == 1


def test_a_resend_refused_again_is_not_sent_by_the_sweep(mail_server, stocked, on_commit, operator):
    mail_server.rcpt.extend([REFUSAL, REFUSAL])
    order = _paid_order(stocked, on_commit)

    on_commit(services.order_email_send_again, order=order, kind="confirmation", actor=operator)

    order.refresh_from_db()
    assert order.confirmation_refused_at is not None and order.confirmation_refusal == REFUSAL
    _asked_again_for(order, GRACE * 2)
    assert services.order_emails_send_missed() == 0
    assert len(mail_server.recipients) == 2
    assert mail_server.messages == []


def test_a_resend_asked_before_the_look_back_is_not_sent(mail_server, stocked, on_commit, operator, broker_down):
    mail_server.rcpt.append(REFUSAL)
    order = _paid_order(stocked, on_commit)
    _owed_for(order, services.EMAIL_RESEND_WITHIN * 2)
    broker = broker_down()
    on_commit(services.order_email_send_again, order=order, kind="confirmation", actor=operator)
    broker.undo()

    _asked_again_for(order, services.EMAIL_RESEND_WITHIN + dt.timedelta(hours=1))

    assert services.order_emails_send_missed() == 0
    assert mail_server.messages == []
