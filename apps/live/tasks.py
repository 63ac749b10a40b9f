"""Celery tasks of the live app: thin wrappers over services."""

from __future__ import annotations

import logging

from celery import shared_task

from apps.live import services

logger = logging.getLogger(__name__)


@shared_task(name="live.recordings_delete_expired", ignore_result=True)
def recordings_delete_expired() -> list[int]:
    """Hourly (beat, see livemall/celery.py): delete recordings whose retention has passed."""
    deleted = services.recordings_delete_expired()
    logger.info("Recording retention: %d recording(s) deleted.", len(deleted))
    return deleted


@shared_task(name="live.viewer_counts_sample", ignore_result=True)
def viewer_counts_sample() -> int:
    """Every minute (beat): concurrent viewers of each live room, for the show's stats."""
    return services.viewer_counts_sample()
