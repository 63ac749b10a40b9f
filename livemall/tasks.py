from __future__ import annotations

import logging

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger(__name__)


@shared_task
def heartbeat() -> str:
    """Proves beat and a worker are alive: the time of the last run is readable in the cache."""
    now = timezone.now().isoformat()
    cache.set("livemall:celery-heartbeat", now, timeout=600)
    return now
