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


# Retries of the recording copy: 1, 2, 4 ... minutes apart, then hourly. Waiting for Mux's
# master ends by time, in the service (LIVE_MUX_MASTER_WAIT_HOURS after the show); this cap
# only ends a copy whose store, or whose deleting at Mux, keeps failing for days.
RECORDING_COPY_MAX_RETRIES = 100


def _backoff(retries: int) -> int:
    return min(60 * 2**retries, 3600)


@shared_task(name="live.recording_copy_from_mux", bind=True, ignore_result=True, max_retries=RECORDING_COPY_MAX_RETRIES)
def recording_copy_from_mux(self, room_id: int, mux_url: str) -> str:
    """After a Mux show: copy its recording into the region's store (queued by services.live_room_end)."""
    try:
        return services.recording_copy_from_mux(room_id=room_id, mux_url=mux_url)
    except services.RecordingCopyPending as exc:
        if self.request.is_eager:
            # Inline (the embedded default): a retry would run at once, holding the request
            # that ended the show. The recording stays at Mux, deleted there at retention.
            logger.warning("Recording of live room %s not copied (tasks run inline, not retried): %s", room_id, exc)
            return "pending"
        if self.request.retries >= self.max_retries:
            logger.error("Gave up copying the recording of live room %s (%s): %s", room_id, mux_url, exc)
            return "pending"
        logger.info("Recording of live room %s not copied yet: %s", room_id, exc)
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task(name="live.recordings_copy_from_mux_again", ignore_result=True)
def recordings_copy_from_mux_again() -> int:
    """Hourly (beat): queue again the copies home of recordings Mux still keeps (a copy task lost on the way)."""
    pending = services.recordings_at_mux_to_copy()
    for room_id, mux_url in pending:
        recording_copy_from_mux.delay(room_id, mux_url)
    if pending:
        logger.info("Queued again the copy of %d recording(s) still at Mux.", len(pending))
    return len(pending)


@shared_task(name="live.provider_stream_delete", ignore_result=True)
def provider_stream_delete(room_id: int) -> bool:
    """After a show: delete its stream at the provider; a failure is left to the hourly sweep below."""
    return services.provider_stream_delete(room_id=room_id)


@shared_task(name="live.provider_streams_delete", ignore_result=True)
def provider_streams_delete() -> int:
    """Hourly (beat): delete the streams of ended shows that are still at their provider."""
    deleted = services.provider_streams_delete()
    if deleted:
        logger.info("Deleted %d stream(s) of ended shows at their provider.", deleted)
    return deleted


@shared_task(name="live.mux_recordings_delete_leftover", ignore_result=True)
def mux_recordings_delete_leftover() -> int:
    """Hourly (beat): delete at Mux the copied-home recordings the copy task could not delete there."""
    deleted = services.mux_recordings_delete_leftover()
    if deleted:
        logger.info("Deleted %d copied recording(s) left at Mux.", deleted)
    return deleted


@shared_task(name="live.viewer_counts_sample", ignore_result=True)
def viewer_counts_sample() -> int:
    """Every minute (beat): concurrent viewers of each live room, for the show's stats."""
    return services.viewer_counts_sample()


@shared_task(name="live.flash_sale_gates_follow_pins", ignore_result=True)
def flash_sale_gates_follow_pins() -> int:
    """Each minute (beat): flash-sale gates open exactly for the products live shows pin."""
    return len(services.flash_sale_gates_follow_all_pins())
