"""Celery tasks: thin wrappers taking ids and calling services."""

from __future__ import annotations

import logging

from celery import shared_task

from apps.orders import services

logger = logging.getLogger(__name__)


@shared_task(name="orders.reservations_expire")
def reservations_expire() -> int:
    return services.reservations_expire()


@shared_task(name="orders.flash_sales_reconcile")
def flash_sales_reconcile() -> dict:
    return {str(k): v for k, v in services.flash_sales_reconcile().items()}


@shared_task(name="orders.cash_on_delivery_collect_missed")
def cash_on_delivery_collect_missed() -> int:
    return services.cash_on_delivery_collect_missed()


# Retried on a mail server's passing error (smtplib's errors are OSErrors: a 4xx answer, a
# refused or dropped connection); the service releases its claim on the mail first. Once out
# of retries, the sweep below queues it again. A refusal for good (5xx: no such mailbox) is
# recorded on the order by the service and not raised: neither a retry nor the sweep resends it,
# only staff do (``services.order_email_send_again``, a refund's mail too).
@shared_task(name="orders.send_order_confirmation", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_order_confirmation(order_id: int) -> bool:
    return services.order_email_send(order_id=order_id, kind="confirmation")


@shared_task(name="orders.send_order_shipped", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_order_shipped(order_id: int) -> bool:
    return services.order_email_send(order_id=order_id, kind="shipped")


# The mail about one refund (its ``RefundEmail`` id), retried and swept as the two above.
@shared_task(name="orders.send_refund_email", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_refund_email(refund_email_id: int) -> bool:
    return services.order_refund_email_send(refund_email_id=refund_email_id)


# Also writes and sends the mail of a refund whose "refunded" news from payments was lost.
@shared_task(name="orders.emails_send_missed")
def emails_send_missed() -> int:
    return services.order_emails_send_missed()


# Refunded totals left behind by a refund's lost "refunded" news: set from payments' record.
@shared_task(name="orders.refund_totals_reconcile")
def refund_totals_reconcile() -> int:
    return services.order_refund_totals_reconcile()
