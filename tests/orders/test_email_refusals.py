"""An order e-mail the mail server refuses for good (5xx) is recorded on the order and not sent
again; one it puts off (4xx) or cannot be reached for is retried, by the task and the sweep.

A real SMTP conversation: Django's SMTP backend talks to a small SMTP server on 127.0.0.1 run
by the test, which answers each command as the test scripts it. Real PostgreSQL; tasks run in
the test's process.
"""

from __future__ import annotations

import datetime as dt
import socket
import socketserver
import threading
from collections import deque

import pytest
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from apps.orders import services, tasks
from apps.orders.models import Order, OrderEvent
from tests.orders.conftest import cart_with, checkout

pytestmark = pytest.mark.django_db

GRACE = services.EMAIL_RESEND_GRACE


class MailServer(socketserver.ThreadingTCPServer):
    """An SMTP server on a free local port. ``rcpt`` and ``data`` are the answers to the next
    RCPT TO and end of DATA (one each, in turn; "250 OK" once they run out), ``greeting`` the
    answer on connect; it keeps the recipients asked for and the messages taken."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SMTPSession)
        self.greeting = "220 mail.test ESMTP"
        self.rcpt: deque[str] = deque()
        self.data: deque[str] = deque()
        self.recipients: list[str] = []
        self.messages: list[bytes] = []
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def answer(self, script: deque[str]) -> str:
        with self.lock:
            return script.popleft() if script else "250 OK"


class SMTPSession(socketserver.StreamRequestHandler):
    server: MailServer

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply(self.server.greeting)
        if not self.server.greeting.startswith("220"):
            return
        while line := self.rfile.readline():
            command = line.decode("ascii", "replace").strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 mail.test")
            elif verb == "MAIL":
                self.reply("250 OK")
            elif verb == "RCPT":
                with self.server.lock:
                    self.server.recipients.append(command.partition(":")[2].strip(" <>"))
                self.reply(self.server.answer(self.server.rcpt))
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                body = b"".join(iter(lambda: self.rfile.readline(), b".\r\n"))
                answer = self.server.answer(self.server.data)
                if answer.startswith("250"):
                    with self.server.lock:
                        self.server.messages.append(body)
                self.reply(answer)
            elif verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


@pytest.fixture
def mail_server(settings):
    """A local SMTP server, and the site sending its mail there as it would to a real one."""
    server = MailServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _paid_order(stocked, on_commit, slug: str = "mug") -> Order:
    order = checkout(cart_with(stocked(slug, 5)))
    on_commit(services.order_pay, order=order)
    order = Order.objects.get(pk=order.pk)
    assert order.status == Order.Status.PAID
    return order


def _owed_for(order: Order, age: dt.timedelta) -> None:
    """The order's steps (its payment, its shipping) happened ``age`` earlier than they did."""
    OrderEvent.objects.filter(order=order).update(at=F("at") - age)


def _subjects(server: MailServer) -> list[str]:
    return [
        line.decode().removeprefix("Subject: ")
        for message in server.messages
        for line in message.split(b"\r\n")
        if line.startswith(b"Subject: ")
    ]


# --- refused for good ---------------------------------------------------------------------


def test_a_refused_address_is_recorded_and_not_sent_again(mail_server, stocked, on_commit):
    mail_server.rcpt.append("550 5.1.1 <buyer@example.test>: Recipient address rejected: User unknown")

    order = _paid_order(stocked, on_commit)

    # Asked once: neither the task's retries nor anything else tried the address again.
    assert mail_server.recipients == ["buyer@example.test"]
    assert mail_server.messages == []
    assert order.confirmation_sent_at is None and order.confirmation_claimed_at is None
    assert order.confirmation_refused_at is not None
    assert order.confirmation_refusal == "550 5.1.1 <buyer@example.test>: Recipient address rejected: User unknown"

    # Every later run of the sweep, within its three days, and a redelivered task leave it alone.
    for age in (GRACE * 2, dt.timedelta(hours=1), dt.timedelta(days=1)):
        _owed_for(order, age)
        assert services.order_emails_send_missed() == 0
    assert tasks.send_order_confirmation.apply(args=[order.pk]).get() is False
    assert mail_server.recipients == ["buyer@example.test"]
    now = timezone.now()
    owed = services.orders_owed_email(kind="confirmation", owed_since=now - dt.timedelta(days=3), owed_before=now)
    assert not owed.filter(pk=order.pk).exists()


def test_a_refused_shipping_mail_is_recorded_apart_from_the_confirmation(mail_server, stocked, on_commit, operator):
    order = _paid_order(stocked, on_commit, "lamp")
    mail_server.rcpt.append("551 User not local; please try <buyer@elsewhere.test>")

    (shipment,) = services.order_fulfil(order=order, actor=operator)
    on_commit(services.shipment_ship, shipment=shipment, tracking_number="1Z999", actor=operator)

    order = Order.objects.get(pk=order.pk)
    assert order.status == Order.Status.SHIPPED
    assert order.confirmation_sent_at is not None and order.confirmation_refused_at is None
    assert order.shipped_email_sent_at is None and order.shipped_email_refused_at is not None
    assert order.shipped_email_refusal == "551 User not local; please try <buyer@elsewhere.test>"
    _owed_for(order, GRACE * 2)
    assert services.order_emails_send_missed() == 0
    assert len(mail_server.recipients) == 2  # the confirmation, the shipping mail once
    assert len(mail_server.messages) == 1


@pytest.mark.parametrize(
    ("script", "answer"),
    [("data", "554 5.7.1 Message rejected as spam"), ("rcpt", "553 5.1.3 Bad recipient address syntax")],
)
def test_a_message_refused_for_good_is_recorded(mail_server, stocked, on_commit, script, answer):
    getattr(mail_server, script).append(answer)

    order = _paid_order(stocked, on_commit)

    assert order.confirmation_refusal == answer and order.confirmation_refused_at is not None
    assert len(mail_server.recipients) == 1
    _owed_for(order, GRACE * 2)
    assert services.order_emails_send_missed() == 0
    assert len(mail_server.recipients) == 1


# --- put off: tried again -----------------------------------------------------------------


def test_a_mailbox_put_off_is_sent_by_the_sweep_later(mail_server, stocked, on_commit):
    # Greylisted at the commit's send and at the sweep's first run.
    greylisted = "450 4.2.0 <buyer@example.test>: Recipient address rejected: Greylisted"
    mail_server.rcpt.extend([greylisted] * 2)

    order = _paid_order(stocked, on_commit)

    assert len(mail_server.recipients) == 1
    assert mail_server.messages == []
    assert order.confirmation_refused_at is None and order.confirmation_refusal == ""
    assert order.confirmation_sent_at is None and order.confirmation_claimed_at is None

    _owed_for(order, GRACE * 2)
    assert services.order_emails_send_missed() == 0  # its task ran and was put off again
    assert len(mail_server.recipients) == 2
    order = Order.objects.get(pk=order.pk)
    assert order.confirmation_refused_at is None and order.confirmation_claimed_at is None

    _owed_for(order, dt.timedelta(hours=1))
    assert services.order_emails_send_missed() == 1
    assert len(mail_server.recipients) == 3
    assert _subjects(mail_server) == [f"Your LiveMall order {order.reference}"]
    order = Order.objects.get(pk=order.pk)
    assert order.confirmation_sent_at is not None and order.confirmation_refused_at is None
    assert services.order_emails_send_missed() == 0
    assert len(mail_server.messages) == 1


def test_the_tasks_retry_sends_a_mail_put_off(mail_server, stocked, on_commit):
    mail_server.rcpt.extend(["452 4.2.2 Mailbox full", "421 4.7.0 Try again later"])
    order = _paid_order(stocked, on_commit)  # the send at the commit is put off
    assert order.confirmation_sent_at is None

    # As a worker runs the task: put off once more, then its retry is taken.
    tasks.send_order_confirmation.apply(args=[order.pk], throw=False)

    assert len(mail_server.recipients) == 3
    assert _subjects(mail_server) == [f"Your LiveMall order {order.reference}"]
    order = Order.objects.get(pk=order.pk)
    assert order.confirmation_sent_at is not None and order.confirmation_refused_at is None
    _owed_for(order, GRACE * 2)
    assert services.order_emails_send_missed() == 0
    assert len(mail_server.messages) == 1


def test_the_tasks_retries_stop_at_a_refusal(mail_server, stocked, on_commit):
    mail_server.rcpt.extend(["450 4.2.0 Greylisted", "550 5.1.1 No such user here"])
    order = _paid_order(stocked, on_commit)

    # As a worker runs the task: the refusal ends it, none of its retries asks again.
    assert tasks.send_order_confirmation.apply(args=[order.pk]).get() is False

    assert len(mail_server.recipients) == 2
    order = Order.objects.get(pk=order.pk)
    assert order.confirmation_refusal == "550 5.1.1 No such user here"
    assert order.confirmation_claimed_at is None and order.confirmation_sent_at is None


def test_a_mail_server_out_of_reach_is_tried_again(mail_server, settings, stocked, on_commit):
    with socket.socket() as probe:  # a port nothing listens on: the connection is refused
        probe.bind(("127.0.0.1", 0))
        settings.EMAIL_PORT = probe.getsockname()[1]
        order = _paid_order(stocked, on_commit)
    assert order.confirmation_refused_at is None and order.confirmation_claimed_at is None

    settings.EMAIL_PORT = mail_server.port
    _owed_for(order, GRACE * 2)
    assert services.order_emails_send_missed() == 1
    assert _subjects(mail_server) == [f"Your LiveMall order {order.reference}"]


def test_a_server_refusing_us_before_any_mail_is_named_drops_no_mail(mail_server, stocked, on_commit):
    # Said to the greeting, a 5xx is about our server settings (a blocked IP), not the mail:
    # were it recorded, every order's mail would be dropped for good.
    mail_server.greeting = "554 5.7.1 Service unavailable; client host blocked"

    order = _paid_order(stocked, on_commit)

    assert order.confirmation_refused_at is None and order.confirmation_sent_at is None
    mail_server.greeting = "220 mail.test ESMTP"
    _owed_for(order, GRACE * 2)
    assert services.order_emails_send_missed() == 1
    assert len(mail_server.messages) == 1


# --- staff see it -------------------------------------------------------------------------


def test_staff_see_the_refusal_on_the_order(client, operator, mail_server, stocked, on_commit):
    mail_server.rcpt.append("550 5.1.1 No such user here")
    order = _paid_order(stocked, on_commit)
    client.force_login(operator)

    page = client.get(reverse("admin:orders_order_change", args=[order.pk]))

    assert page.status_code == 200
    assert "550 5.1.1 No such user here" in page.content.decode()
    listing = client.get(reverse("admin:orders_order_changelist"), {"email_refused": "yes"})
    assert list(listing.context["cl"].result_list) == [order]
