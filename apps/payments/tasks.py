"""Payments' periodic work (Celery; thin wrappers over services)."""

from __future__ import annotations

import logging

from celery import shared_task

from apps.payments import services

logger = logging.getLogger(__name__)


@shared_task(name="payments.webhook_events_retry", ignore_result=True)
def webhook_events_retry() -> int:
    """Hourly (beat): apply provider events that were waiting for their payment."""
    applied = services.webhook_events_retry()
    if applied:
        logger.info("Applied %d provider event(s) that had waited for their payment.", applied)
    return applied
