"""Payments' periodic work (Celery; thin wrappers over services).

Nobody waits on a task: its provider calls get the full timeout and retries
(:func:`apps.payments.registry.background`), not a shopper's short budget.
"""

from __future__ import annotations

import logging

from celery import shared_task

from apps.errors import ApplicationError
from apps.payments import registry, services

logger = logging.getLogger(__name__)


@shared_task(name="payments.webhook_events_retry", ignore_result=True)
def webhook_events_retry() -> int:
    """Hourly (beat): apply provider events that were waiting for their payment."""
    with registry.background():
        applied = services.webhook_events_retry()
    if applied:
        logger.info("Applied %d provider event(s) that had waited for their payment.", applied)
    return applied


@shared_task(name="payments.refunds_retry_unsettled", ignore_result=True)
def refunds_retry_unsettled() -> int:
    """Every 15 minutes (beat): refunds a provider could not take are sent again until it does."""
    with registry.background():
        settled = services.refunds_retry_unsettled()
    if settled:
        logger.info("Settled %d refund(s) a provider had not taken.", settled)
    return settled


@shared_task(
    name="payments.payment_refresh",
    ignore_result=True,
    bind=True,
    max_retries=8,
    acks_late=True,
)
def payment_refresh(self, payment_id: int) -> None:
    """An approved payment (PayPal's event) is captured; retried with backoff while the provider is down."""
    try:
        with registry.background():
            services.payment_refresh(payment_id=payment_id)
    except ApplicationError as exc:
        if exc.code != "provider_unavailable":
            # A refusal is recorded on the payment (failed, with its reason); retrying changes nothing.
            logger.warning("Refresh of payment %s refused: %s", payment_id, exc.message)
            return
        raise self.retry(exc=exc, countdown=min(30 * 2**self.request.retries, 3600)) from exc
