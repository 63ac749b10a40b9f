"""A Mux show's recording: its assets recorded when the show ends, deleted at Mux after retention.

The services run against PostgreSQL and the real mux-python SDK talks to the local fake
Mux API (tests/live/mux_fake.py), so every assertion about Mux is about a request that
reached it.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from apps.errors import ApplicationError
from apps.live import services
from apps.live.models import LiveRoom
from tests.live.console_factories import schedule_room
from tests.live.mux_fake import unreachable_url


@pytest.fixture
def mux_show(db, merchant, region, live_settings, fake_mux, commit):
    """A show live on Mux whose encoder has connected: Mux is recording an asset of it."""

    def start(slug: str = "evening-show") -> tuple[LiveRoom, str]:
        room = commit(services.live_room_start, room=schedule_room(merchant=merchant, region=region, slug=slug))
        return room, fake_mux.broadcast(room.stream_id)

    live_settings.LIVE_STREAM_PROVIDER = "mux"
    return start


def _ended(commit, region, room: LiveRoom) -> LiveRoom:
    return commit(services.live_room_end, room=room, region=region)


def _deletes(fake_mux, asset_id: str) -> int:
    return len(fake_mux.requested("DELETE", f"/video/v1/assets/{asset_id}"))


def test_ending_a_mux_show_records_its_asset_as_the_recording(mux_show, commit, region, fake_mux):
    room, asset = mux_show()
    assert room.stream_provider == "mux"
    ended = _ended(commit, region, room)
    assert ended.status == LiveRoom.Status.ENDED
    assert fake_mux.streams[room.stream_id]["status"] == "disabled"  # completed, then closed to the encoder
    ended.refresh_from_db()
    assert ended.recording_url == f"mux://assets/{asset}"
    assert ended.recording_retain_until >= ended.ended_at + dt.timedelta(days=region.recording_retention_days)
    assert ended.recording_deleted_at is None


def test_a_show_stays_live_while_mux_cannot_say_which_assets_recorded_it(mux_show, commit, region, fake_mux):
    room, asset = mux_show()
    fake_mux.fail_next = [None, None, 500]  # the stream completes and is disabled, reading it back fails
    with pytest.raises(ApplicationError) as err:
        _ended(commit, region, room)
    assert err.value.code == "stream_provider_error"
    room.refresh_from_db()
    assert room.status == LiveRoom.Status.LIVE and room.recording_url == ""

    ended = _ended(commit, region, room)  # the merchant tries again
    assert ended.recording_url == f"mux://assets/{asset}"


def test_a_mux_recording_is_deleted_at_mux_after_retention_never_before(mux_show, commit, region, fake_mux, caplog):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    retain_until = ended.recording_retain_until

    assert services.recordings_delete_expired(now=retain_until - dt.timedelta(seconds=1)) == []
    assert _deletes(fake_mux, asset) == 0 and asset in fake_mux.assets
    ended.refresh_from_db()
    assert ended.recording_url == f"mux://assets/{asset}" and ended.recording_deleted_at is None

    with caplog.at_level(logging.INFO, logger="apps.live.services"):
        assert services.recordings_delete_expired(now=retain_until) == [ended.pk]
    assert _deletes(fake_mux, asset) == 1 and asset not in fake_mux.assets
    ended.refresh_from_db()
    assert ended.recording_url == "" and ended.recording_deleted_at == retain_until
    assert any(ended.slug in r.getMessage() and asset in r.getMessage() for r in caplog.records)

    assert services.recordings_delete_expired(now=retain_until + dt.timedelta(days=1)) == []
    assert _deletes(fake_mux, asset) == 1


def test_every_asset_of_a_show_whose_encoder_reconnected_is_deleted(mux_show, commit, region, fake_mux):
    room, first = mux_show()
    second = fake_mux.broadcast(room.stream_id)
    ended = _ended(commit, region, room)
    assert ended.recording_url == f"mux://assets/{first},{second}"
    assert services.recordings_delete_expired(now=ended.recording_retain_until) == [ended.pk]
    assert _deletes(fake_mux, first) == 1 and _deletes(fake_mux, second) == 1
    assert fake_mux.assets == {}


def test_an_asset_mux_no_longer_has_counts_as_deleted(mux_show, commit, region, fake_mux):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    del fake_mux.assets[asset]  # deleted by hand in the Mux dashboard
    assert services.recordings_delete_expired(now=ended.recording_retain_until) == [ended.pk]
    assert _deletes(fake_mux, asset) == 1
    ended.refresh_from_db()
    assert ended.recording_url == "" and ended.recording_deleted_at == ended.recording_retain_until


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_mux_server_error_keeps_the_recording_for_the_next_run(mux_show, commit, region, fake_mux, caplog, status):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    fake_mux.fail_next = [status]
    with caplog.at_level(logging.WARNING, logger="apps.live.services"):
        assert services.recordings_delete_expired(now=ended.recording_retain_until) == []
    assert _deletes(fake_mux, asset) == 1 and asset in fake_mux.assets  # asked, and Mux kept it
    ended.refresh_from_db()
    assert ended.recording_url == f"mux://assets/{asset}" and ended.recording_deleted_at is None
    assert any("Could not delete" in r.getMessage() and f"HTTP {status}" in r.getMessage() for r in caplog.records)

    next_run = ended.recording_retain_until + dt.timedelta(hours=1)
    assert services.recordings_delete_expired(now=next_run) == [ended.pk]
    assert asset not in fake_mux.assets


def test_mux_unreachable_keeps_the_recording_for_the_next_run(mux_show, commit, region, fake_mux, settings):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    settings.MUX_API_BASE = unreachable_url()
    assert services.recordings_delete_expired(now=ended.recording_retain_until) == []
    ended.refresh_from_db()
    assert ended.recording_url == f"mux://assets/{asset}" and ended.recording_deleted_at is None

    settings.MUX_API_BASE = fake_mux.url
    assert services.recordings_delete_expired(now=ended.recording_retain_until) == [ended.pk]
    assert asset not in fake_mux.assets


def test_mux_failing_holds_back_only_mux_recordings(mux_show, commit, region, fake_mux, merchant):
    """One run serves both stores: the region's own store still deletes while Mux fails."""
    room, asset = mux_show()
    on_mux = _ended(commit, region, room)
    manual = commit(
        services.live_room_start, room=schedule_room(merchant=merchant, region=region, slug="manual"), provider="manual"
    )
    in_store = _ended(commit, region, manual)
    folder = Path(urlsplit(in_store.recording_url).path)
    (folder / "hls").mkdir(parents=True)
    (folder / "hls" / "0.ts").write_bytes(b"\x47" * 188)

    fake_mux.fail_next = [500]
    now = max(on_mux.recording_retain_until, in_store.recording_retain_until)
    assert services.recordings_delete_expired(now=now) == [in_store.pk]
    assert not folder.exists() and asset in fake_mux.assets
    on_mux.refresh_from_db()
    assert on_mux.recording_url == f"mux://assets/{asset}"


def test_a_mux_show_that_never_broadcast_deletes_nothing_at_mux(db, merchant, region, live_settings, fake_mux, commit):
    live_settings.LIVE_STREAM_PROVIDER = "mux"
    room = commit(services.live_room_start, room=schedule_room(merchant=merchant, region=region))
    ended = _ended(commit, region, room)
    # Nothing was recorded at Mux; the reference is the region's (empty) folder, as for a manual show.
    assert ended.recording_url.startswith(live_settings.LIVE_RECORDING_STORAGE)
    assert services.recordings_delete_expired(now=ended.recording_retain_until) == [ended.pk]
    assert not [r for r in fake_mux.requests if r.method == "DELETE"]
