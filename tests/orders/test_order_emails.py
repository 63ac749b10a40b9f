"""Order e-mails go out exactly once, and are not lost: a broker redelivery, a mail server that
drops the connection, a broker down when the order commits, a worker that dies mid-send.

Real PostgreSQL; tasks run in the test's process; mails land in Django's locmem outbox.
"""

from __future__ import annotations

import datetime as dt
import smtplib

import pytest
from django.core import mail
from django.core.mail.backends import locmem
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import F
from django.utils import timezone, translation
from kombu.exceptions import OperationalError as BrokerUnreachable

from apps.orders import services, tasks
from apps.orders.models import Order, OrderEvent
from tests.orders.conftest import cart_with, checkout

pytestmark = pytest.mark.django_db

GRACE = services.EMAIL_RESEND_GRACE


class MailServerDropping(locmem.EmailBackend):
    """A mail server whose connection drops on the next ``drops`` sends, then takes mail again."""

    drops = 0

    def send_messages(self, messages):
        if MailServerDropping.drops > 0:
            MailServerDropping.drops -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


@pytest.fixture
def mail_server_drops(settings):
    """``mail_server_drops(n)``: the next ``n`` sends fail as a dropped SMTP connection."""
    settings.EMAIL_BACKEND = f"{__name__}.MailServerDropping"

    def drop(times: int) -> None:
        MailServerDropping.drops = times

    yield drop
    MailServerDropping.drops = 0


@pytest.fixture
def broker_down(monkeypatch):
    """Queueing the e-mail tasks fails as Celery does when the broker cannot be reached."""

    def down(*args, **kwargs):
        raise BrokerUnreachable("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.send_order_confirmation, "delay", down)
    monkeypatch.setattr(tasks.send_order_shipped, "delay", down)
    monkeypatch.setattr(tasks.send_refund_email, "delay", down)
    return monkeypatch


def _paid_order(stocked, on_commit, slug: str = "mug") -> Order:
    order = checkout(cart_with(stocked(slug, 5)))
    on_commit(services.order_pay, order=order)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    return order


def _shipped_order(stocked, on_commit, operator, slug: str = "lamp") -> Order:
    order = _paid_order(stocked, on_commit, slug)
    (shipment,) = services.order_fulfil(order=order, actor=operator)
    on_commit(services.shipment_ship, shipment=shipment, tracking_number="1Z999", actor=operator)
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    return order


def _owed_for(order: Order, age: dt.timedelta) -> None:
    """The order's steps (its payment, its shipping) happened ``age`` earlier than they did."""
    OrderEvent.objects.filter(order=order).update(at=F("at") - age)


def _confirmations(order: Order) -> list:
    return [m for m in mail.outbox if order.reference in m.subject and "way" not in m.subject]


# --- once ---------------------------------------------------------------------------------


def test_a_redelivered_confirmation_task_sends_one_mail(stocked, on_commit):
    order = _paid_order(stocked, on_commit)
    assert len(mail.outbox) == 1

    # The broker hands the same task out again (acks_late, a worker lost): nothing more is sent.
    assert tasks.send_order_confirmation.apply(args=[order.pk]).get() is False
    assert tasks.send_order_confirmation.apply(args=[order.pk]).get() is False

    assert len(mail.outbox) == 1
    order.refresh_from_db()
    assert order.confirmation_sent_at is not None


def test_a_redelivered_shipped_task_sends_one_mail(stocked, on_commit, operator):
    order = _shipped_order(stocked, on_commit, operator)
    shipped = [m for m in mail.outbox if "way" in m.subject]
    assert len(shipped) == 1

    tasks.send_order_shipped.apply(args=[order.pk])

    assert [m for m in mail.outbox if "way" in m.subject] == shipped


def test_a_claim_in_flight_is_left_to_its_worker(stocked, on_commit, broker_down):
    order = _paid_order(stocked, on_commit)
    # Another worker began sending a minute ago and has not finished.
    Order.objects.filter(pk=order.pk).update(confirmation_claimed_at=timezone.now() - dt.timedelta(minutes=1))
    _owed_for(order, GRACE * 2)
    broker_down.undo()

    assert tasks.send_order_confirmation.apply(args=[order.pk]).get() is False
    assert services.order_emails_send_missed() == 0
    assert mail.outbox == []


def test_a_worker_that_died_mid_send_leaves_its_mail_to_the_sweep(stocked, on_commit, broker_down):
    order = _paid_order(stocked, on_commit)
    # Its worker claimed it and was killed before the mail went out; the redelivered task skipped it.
    died_at = timezone.now() - services.EMAIL_CLAIM_LEASE - dt.timedelta(minutes=1)
    Order.objects.filter(pk=order.pk).update(confirmation_claimed_at=died_at)
    _owed_for(order, services.EMAIL_CLAIM_LEASE * 2)
    broker_down.undo()

    assert services.order_emails_send_missed() == 1

    assert len(_confirmations(order)) == 1


# --- never lost ---------------------------------------------------------------------------


def test_a_send_the_mail_server_drops_is_retried_and_goes_out_once(stocked, on_commit, broker_down, mail_server_drops):
    order = _paid_order(stocked, on_commit)
    broker_down.undo()
    mail_server_drops(1)

    # As a worker runs it: the first attempt fails, its retry sends.
    tasks.send_order_confirmation.apply(args=[order.pk], throw=False)

    assert len(_confirmations(order)) == 1
    order.refresh_from_db()
    assert order.confirmation_sent_at is not None
    assert services.order_emails_send_missed(older_than=dt.timedelta(0)) == 0


def test_a_mail_whose_task_failed_is_sent_by_the_sweep(stocked, on_commit, mail_server_drops):
    mail_server_drops(1)

    order = _paid_order(stocked, on_commit)  # run inline at the commit (the embedded default), it fails

    assert mail.outbox == []
    order.refresh_from_db()
    assert order.confirmation_sent_at is None and order.confirmation_claimed_at is None  # the claim released
    _owed_for(order, GRACE * 2)
    assert services.order_emails_send_missed() == 1
    assert len(_confirmations(order)) == 1
    assert services.order_emails_send_missed() == 0


def test_a_broker_down_at_the_commit_leaves_the_mail_to_the_sweep(stocked, on_commit, operator, broker_down):
    order = _shipped_order(stocked, on_commit, operator)
    assert mail.outbox == []
    broker_down.undo()

    assert services.order_emails_send_missed() == 0  # within the grace: the queued task may yet run
    _owed_for(order, GRACE * 2)
    assert services.order_emails_send_missed() == 2

    assert len(_confirmations(order)) == 1
    assert len([m for m in mail.outbox if "way" in m.subject]) == 1
    assert services.order_emails_send_missed() == 0


def test_the_sweep_is_bounded_per_run(stocked, on_commit, broker_down):
    orders = [_paid_order(stocked, on_commit, f"mug-{n}") for n in range(3)]
    for order in orders:
        _owed_for(order, GRACE * 2)
    broker_down.undo()

    assert services.order_emails_send_missed(limit=2) == 2
    assert services.order_emails_send_missed(limit=2) == 1
    assert [len(_confirmations(order)) for order in orders] == [1, 1, 1]


# --- only the mails owed ------------------------------------------------------------------


def test_a_cancelled_order_gets_no_confirmation(stocked, on_commit, broker_down):
    order = _paid_order(stocked, on_commit)
    on_commit(services.order_cancel, order=order, actor=None)
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    broker_down.undo()

    assert tasks.send_order_confirmation.apply(args=[order.pk]).get() is False
    _owed_for(order, GRACE * 2)
    assert services.order_emails_send_missed() == 0
    assert mail.outbox == []


def test_an_unpaid_order_gets_no_confirmation(stocked, on_commit):
    order = checkout(cart_with(stocked("pen", 5)))

    assert tasks.send_order_confirmation.apply(args=[order.pk]).get() is False
    _owed_for(order, GRACE * 2)
    assert services.order_emails_send_missed() == 0
    assert mail.outbox == []


def test_the_sweep_leaves_old_orders_alone(stocked, on_commit, operator, broker_down):
    order = _shipped_order(stocked, on_commit, operator)
    broker_down.undo()
    _owed_for(order, services.EMAIL_RESEND_WITHIN + dt.timedelta(hours=1))

    assert services.order_emails_send_missed() == 0
    assert mail.outbox == []


# --- in the shopper's language ------------------------------------------------------------


def test_a_mail_sent_late_is_in_the_shoppers_language(use_region, stocked, on_commit, broker_down):
    use_region("me-south")
    order = checkout(
        cart_with(stocked("cod-lamp", 3, price_minor=10000), country="AE"),
        country="AE",
        payment_provider="cash_on_delivery",
        payment_method="cash_on_delivery",
    )
    on_commit(services.order_pay, order=order)
    order.refresh_from_db()
    assert order.status == Order.Status.CONFIRMED and order.language == "ar"
    broker_down.undo()
    _owed_for(order, GRACE * 2)
    # Packed before the late mail went: the courier still collects the cash.
    Order.objects.filter(pk=order.pk).update(status=Order.Status.FULFILLED)

    with translation.override("en"):  # the beat worker's language is not the shopper's
        assert services.order_emails_send_missed() == 1

    (sent,) = mail.outbox
    assert sent.subject == f"طلبك من LiveMall رقم {order.reference}"
    assert f"شكرًا لك على طلبك {order.reference}." in sent.body
    assert "نقدًا لمندوب التوصيل" in sent.body  # cash ready for the courier
    assert sent.to == [order.email]


# --- the sweep's index --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "index_name"), [("confirmation", "order_confirmation_unsent"), ("shipped", "order_shipped_email_unsent")]
)
def test_the_sweep_reads_its_partial_index(kind, index_name):
    email = services.ORDER_EMAILS[kind]
    (index,) = (i for i in Order._meta.indexes if i.name == index_name)
    assert dict(index.condition.children) == {
        f"{email.sent_field}__isnull": True,
        **({"status__in": list(email.statuses)} if len(email.statuses) > 1 else {"status": email.statuses[0]}),
    }
    now = timezone.now()
    owed = services.orders_owed_email(kind=kind, owed_since=now - dt.timedelta(days=3), owed_before=now)
    sql, params = owed.values_list("pk", flat=True)[:200].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert index.name in plan


# --- orders from before ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_marks_mails_of_earlier_orders_sent():
    """The sweep must not mail customers whose mail went out before the fields existed."""
    before, after = [("orders", "0006_order_flash_sale_admission")], [("orders", "0007_order_emails_sent_once")]
    MigrationExecutor(connection).migrate(before)
    try:
        old = MigrationExecutor(connection).loader.project_state(before[0]).apps
        OldOrder, OldShipment = old.get_model("orders", "Order"), old.get_model("orders", "Shipment")
        paid_at, left_at = timezone.now() - dt.timedelta(days=2), timezone.now() - dt.timedelta(days=1)

        def order(reference: str, status: str, **fields) -> int:
            return OldOrder.objects.create(
                reference=reference,
                idempotency_key=f"key-{reference}",
                email="buyer@example.test",
                status=status,
                region="us-east",
                country="US",
                language="en",
                time_zone="America/New_York",
                currency="USD",
                settlement_currency="USD",
                address={},
                shipping_option="standard",
                tax_model="sales_tax",
                tax_rate="0",
                prices_include_tax=False,
                subtotal_minor=100,
                total_minor=100,
                eta=dt.date(2026, 1, 1),
                reserved_until=timezone.now(),
                **fields,
            ).pk

        unpaid = order("R-UNPAID", "created")
        cancelled = order("R-CANCELLED", "cancelled")
        on_delivery = order("R-COD", "confirmed")
        paid = order("R-PAID", "paid", paid_at=paid_at)
        shipped = order("R-SHIPPED", "shipped", paid_at=paid_at)
        OldShipment.objects.create(order_id=shipped, warehouse_id=1, warehouse_name="Main", shipped_at=left_at)

        MigrationExecutor(connection).migrate(after)

        sent = {
            pk: (confirmation, shipped_email)
            for pk, confirmation, shipped_email in Order.objects.values_list(
                "pk", "confirmation_sent_at", "shipped_email_sent_at"
            )
        }
        assert sent[unpaid] == sent[cancelled] == (None, None)
        assert sent[on_delivery][0] is not None and sent[on_delivery][1] is None
        assert sent[paid] == (paid_at, None)
        assert sent[shipped] == (paid_at, left_at)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
