"""Celery tasks of the money app: thin wrappers over services."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from celery import shared_task

from apps.money import services

logger = logging.getLogger(__name__)


@shared_task(name="money.fx_rates_update", ignore_result=True)
def fx_rates_update() -> dict[str, Any]:
    """Daily (beat, see livemall/celery.py): store the configured providers' new rates."""
    result = services.fx_rates_update()
    logger.info(
        "FX update from %s: %d new rates in %d new snapshots, newest %s%s",
        result.source,
        result.rates_created,
        result.snapshots_created,
        result.latest_rate_date,
        " (stale)" if result.stale else "",
    )
    summary = dataclasses.asdict(result)
    summary["latest_rate_date"] = result.latest_rate_date.isoformat() if result.latest_rate_date else None
    return summary
