"""A Mux show's recording: its assets recorded when the show ends, copied into the region's
own store (then deleted at Mux), or, when that cannot be done, deleted at Mux after retention;
and the show's live stream deleted at Mux once it has ended.

The services run against PostgreSQL and the real mux-python SDK talks to the local fake
Mux API (tests/live/mux_fake.py), so every assertion about Mux is about a request that
reached it.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.stub import ANY, Stubber
from django.utils import timezone

from apps.errors import ApplicationError
from apps.live import services, tasks
from apps.live.models import LiveRoom
from apps.live.providers.recordings import S3RecordingStore, recording_url
from tests.live.console_factories import schedule_room
from tests.live.mux_fake import Master, unreachable_url


@pytest.fixture(autouse=True)
def _tasks_inline(celery_inline):
    """Tasks queued when a show ends run in the test's process (never onto a broker)."""


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


def test_a_show_whose_stream_was_deleted_at_mux_ends_with_the_assets_it_left(
    mux_show, commit, region, fake_mux, caplog
):
    room, asset = mux_show()
    second = fake_mux.broadcast(room.stream_id)  # the encoder came back after the reconnect window
    fake_mux.deleted_streams.add(room.stream_id)  # deleted from Mux's dashboard while the show ran
    mux_show("other-show")  # another show's asset, which is not this one's

    with caplog.at_level(logging.WARNING, logger="apps.live.providers.mux"):
        ended = _ended(commit, region, room)

    assert ended.status == LiveRoom.Status.ENDED
    ended.refresh_from_db()
    # Its own assets, found by the stream's id; never another show's.
    assert ended.recording_url == f"mux://assets/{asset},{second}"
    assert [r for r in fake_mux.requests if r.path.startswith("/video/v1/assets?") and room.stream_id in r.path]
    assert f"Mux no longer had live stream {room.stream_id}" in caplog.text


def test_a_show_whose_stream_was_deleted_at_mux_before_any_broadcast_ends_with_no_recording(
    db, merchant, region, live_settings, fake_mux, commit
):
    live_settings.LIVE_STREAM_PROVIDER = "mux"
    room = commit(services.live_room_start, room=schedule_room(merchant=merchant, region=region, slug="never-aired"))
    fake_mux.deleted_streams.add(room.stream_id)

    ended = _ended(commit, region, room)

    ended.refresh_from_db()
    assert ended.status == LiveRoom.Status.ENDED and ended.recording_url == ""


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
    # Nothing was broadcast, so nothing was recorded: the room claims no recording, and
    # retention has nothing to delete (neither at Mux nor an empty folder of the region's store).
    assert ended.recording_url == ""
    assert services.recordings_delete_expired(now=ended.recording_retain_until) == []
    assert not [r for r in fake_mux.requests if r.method == "DELETE" and r.path.startswith("/video/v1/assets/")]
    assert room.stream_id in fake_mux.deleted_streams  # the stream itself is deleted all the same


# --- The copy into the region's own store -----------------------------------------------------

# What Mux serves as a master: an MP4 (ftyp box first), a few hundred kilobytes here.
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 2048


def _folder(room: LiveRoom) -> Path:
    return Path(urlsplit(recording_url(room.slug)).path)


def _copy(room: LiveRoom, mux_url: str, **kwargs) -> str:
    return services.recording_copy_from_mux(room_id=room.pk, mux_url=mux_url, **kwargs)


def _stored(room: LiveRoom) -> dict[str, bytes]:
    """Every file in the show's folder of the region's store, hidden ones included."""
    folder = _folder(room)
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.exists() else {}


def _master_access_requests(fake_mux, asset_id: str) -> list:
    return fake_mux.requested("PUT", f"/video/v1/assets/{asset_id}/master-access")


def _assert_still_at_mux(room: LiveRoom, fake_mux, *assets: str, stored: dict[str, bytes] | None = None) -> None:
    """The recording is still at Mux: the region's store holds only ``stored`` (nothing by
    default), the room still points at the show's assets at Mux, and Mux still has them all."""
    assert _stored(room) == (stored or {})
    room.refresh_from_db()
    assert room.recording_url == f"mux://assets/{','.join(assets)}"
    assert set(assets) <= set(fake_mux.assets)


def test_a_mux_recording_is_copied_into_the_regions_store_then_deleted_at_mux(
    mux_show, commit, region, fake_mux, caplog
):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    # The copy ran (inline) as the show ended: it asked Mux for a temporary master, which
    # Mux is still preparing, so the room keeps pointing at Mux for now.
    assert [r.json for r in _master_access_requests(fake_mux, asset)] == [{"master_access": "temporary"}]
    ended.refresh_from_db()
    assert ended.recording_url == f"mux://assets/{asset}"
    retain_until = ended.recording_retain_until

    fake_mux.masters[asset] = Master(MP4)  # Mux has prepared it
    with caplog.at_level(logging.INFO, logger="apps.live.services"):
        assert _copy(ended, f"mux://assets/{asset}") == "copied"
    assert len(_master_access_requests(fake_mux, asset)) == 1  # asked once, not on every try
    assert _stored(ended) == {f"{asset}.mp4": MP4}
    ended.refresh_from_db()
    assert ended.recording_url == recording_url(ended.slug)  # the region's own store
    assert ended.recording_retain_until == retain_until and ended.recording_deleted_at is None
    assert _deletes(fake_mux, asset) == 1 and asset not in fake_mux.assets
    assert any("Copied the recording" in r.getMessage() and ended.slug in r.getMessage() for r in caplog.records)

    # Retention then deletes the copy in the region's store, never before.
    assert services.recordings_delete_expired(now=retain_until - dt.timedelta(seconds=1)) == []
    assert _stored(ended)
    assert services.recordings_delete_expired(now=retain_until) == [ended.pk]
    assert not _folder(ended).exists()


def test_the_master_download_never_sends_the_mux_credentials(mux_show, commit, region, fake_mux):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    fake_mux.masters[asset] = Master(MP4)
    assert _copy(ended, f"mux://assets/{asset}") == "copied"
    (download,) = fake_mux.requested("GET", f"/masters/{asset}.mp4")
    assert "authorization" not in download.headers


def test_nothing_is_downloaded_until_every_asset_of_the_show_has_its_master(mux_show, commit, region, fake_mux):
    room, first = mux_show()
    second = fake_mux.broadcast(room.stream_id)  # the encoder came back after the reconnect window
    ended = _ended(commit, region, room)
    url = f"mux://assets/{first},{second}"
    fake_mux.masters[first] = Master(MP4)
    with pytest.raises(services.RecordingCopyPending, match=second):
        _copy(ended, url)
    assert fake_mux.downloads == [] and _stored(ended) == {}
    ended.refresh_from_db()
    assert ended.recording_url == url

    fake_mux.masters[second] = Master(MP4[::-1])
    assert _copy(ended, url) == "copied"
    assert _stored(ended) == {f"{first}.mp4": MP4, f"{second}.mp4": MP4[::-1]}
    ended.refresh_from_db()
    assert ended.recording_url == recording_url(ended.slug)
    assert fake_mux.assets == {}


def test_a_download_cut_mid_way_leaves_nothing_referenced_and_the_next_try_resumes(mux_show, commit, region, fake_mux):
    room, first = mux_show()
    second = fake_mux.broadcast(room.stream_id)
    ended = _ended(commit, region, room)
    url = f"mux://assets/{first},{second}"
    fake_mux.masters[first] = Master(MP4)
    fake_mux.masters[second] = Master(MP4, cut_after=len(MP4) // 3)  # the connection drops
    with pytest.raises(services.RecordingCopyPending, match="broke off"):
        _copy(ended, url)
    # The first asset is stored whole, the second not at all (no part file either); the room
    # still points at Mux, and Mux still has both.
    _assert_still_at_mux(ended, fake_mux, first, second, stored={f"{first}.mp4": MP4})
    assert _deletes(fake_mux, first) == 0

    fake_mux.masters[second] = Master(MP4)
    assert _copy(ended, url) == "copied"
    assert fake_mux.downloads.count(first) == 1  # stored whole before: not fetched again
    assert _stored(ended) == {f"{first}.mp4": MP4, f"{second}.mp4": MP4}
    ended.refresh_from_db()
    assert ended.recording_url == recording_url(ended.slug)


def test_a_stalled_download_times_out(mux_show, commit, region, fake_mux, settings):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    settings.LIVE_MUX_DOWNLOAD_TIMEOUT = 1
    fake_mux.masters[asset] = Master(MP4, stall_after=1000)
    with pytest.raises(services.RecordingCopyPending, match="broke off after"):
        _copy(ended, f"mux://assets/{asset}")
    _assert_still_at_mux(ended, fake_mux, asset)


@pytest.mark.parametrize(
    "master",
    [
        Master(MP4, status=403),  # the signed URL expired
        Master(MP4, status=500),
        Master(MP4, headers={"Content-Length": None}),  # a cut body could not be told from a whole one
        Master(MP4, headers={"Content-Encoding": "gzip"}),
        Master(MP4, headers={"Content-Length": "12abc"}),
    ],
    ids=["403", "500", "no-length", "encoded", "bad-length"],
)
def test_a_master_download_we_cannot_trust_is_tried_again_later(mux_show, commit, region, fake_mux, master):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    fake_mux.masters[asset] = master
    with pytest.raises(services.RecordingCopyPending):
        _copy(ended, f"mux://assets/{asset}")
    _assert_still_at_mux(ended, fake_mux, asset)


def test_the_store_failing_keeps_the_recording_at_mux_and_is_tried_again(mux_show, commit, region, fake_mux):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    fake_mux.masters[asset] = Master(MP4)
    blocker = _folder(ended)
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_bytes(b"")  # a file where the show's folder goes: the store cannot write
    with pytest.raises(services.RecordingCopyPending, match="could not store"):
        _copy(ended, f"mux://assets/{asset}")
    ended.refresh_from_db()
    assert ended.recording_url == f"mux://assets/{asset}" and asset in fake_mux.assets

    blocker.unlink()
    assert _copy(ended, f"mux://assets/{asset}") == "copied"
    assert _stored(ended) == {f"{asset}.mp4": MP4}


@pytest.mark.parametrize("status", [500, 502, 503, 429, 401])
def test_a_mux_failure_while_asking_for_the_master_is_tried_again(mux_show, commit, region, fake_mux, status):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    fake_mux.masters[asset] = Master(MP4)
    fake_mux.fail_next = [status]
    with pytest.raises(services.RecordingCopyPending, match=f"HTTP {status}"):
        _copy(ended, f"mux://assets/{asset}")
    ended.refresh_from_db()
    assert ended.recording_url == f"mux://assets/{asset}"
    assert _copy(ended, f"mux://assets/{asset}") == "copied"


def test_mux_unreachable_while_copying_is_tried_again(mux_show, commit, region, fake_mux, settings):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    fake_mux.masters[asset] = Master(MP4)
    settings.MUX_API_BASE = unreachable_url()
    with pytest.raises(services.RecordingCopyPending, match="Mux did not give the master"):
        _copy(ended, f"mux://assets/{asset}")
    settings.MUX_API_BASE = fake_mux.url
    assert _copy(ended, f"mux://assets/{asset}") == "copied"


def test_an_answer_the_sdk_cannot_read_is_tried_again(mux_show, commit, region, fake_mux):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    fake_mux.assets[asset]["status"] = "transcoding-v2"  # a status this SDK does not know
    with pytest.raises(services.RecordingCopyPending, match="ValueError"):
        _copy(ended, f"mux://assets/{asset}")


def test_a_master_never_ready_keeps_the_recording_at_mux_for_retention(mux_show, commit, region, fake_mux, caplog):
    room, first = mux_show()
    second = fake_mux.broadcast(room.stream_id)
    ended = _ended(commit, region, room)
    url = f"mux://assets/{first},{second}"
    fake_mux.masters[first] = Master(MP4)
    fake_mux.masters[second] = Master(MP4, cut_after=10)
    with pytest.raises(services.RecordingCopyPending):
        _copy(ended, url)
    assert _stored(ended) == {f"{first}.mp4": MP4}  # a part of the show, whole, unreferenced

    deadline = ended.ended_at + dt.timedelta(hours=24)
    with pytest.raises(services.RecordingCopyPending):
        _copy(ended, url, now=deadline - dt.timedelta(seconds=1))  # still waiting
    with caplog.at_level(logging.WARNING, logger="apps.live.services"):
        assert _copy(ended, url, now=deadline) == "kept_at_mux"
    assert any("Kept the recording" in r.getMessage() and ended.slug in r.getMessage() for r in caplog.records)
    ended.refresh_from_db()
    assert ended.recording_url == url and ended.recording_deleted_at is None
    assert {first, second} <= set(fake_mux.assets)  # nothing deleted early

    # Retention deletes it at Mux, and what the copy left in the region's store with it.
    assert services.recordings_delete_expired(now=ended.recording_retain_until) == [ended.pk]
    assert fake_mux.assets == {} and not _folder(ended).exists()


def test_the_wait_for_mux_is_a_setting(mux_show, commit, region, fake_mux, settings):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    settings.LIVE_MUX_MASTER_WAIT_HOURS = 2
    assert _copy(ended, f"mux://assets/{asset}", now=ended.ended_at + dt.timedelta(hours=2)) == "kept_at_mux"


@pytest.mark.parametrize(
    "master_url",
    [
        "ftp://files.mux.example/master.mp4",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "//no-scheme.example/master.mp4",
        "https://user:secret@master.mux.example/x.mp4",
        "https:///no-host.mp4",
    ],
)
def test_a_master_url_that_is_not_http_is_never_followed(mux_show, commit, region, fake_mux, caplog, master_url):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    fake_mux.masters[asset] = Master(MP4, url=master_url)
    with caplog.at_level(logging.WARNING, logger="apps.live.services"):
        assert _copy(ended, f"mux://assets/{asset}") == "kept_at_mux"
    assert fake_mux.downloads == []
    _assert_still_at_mux(ended, fake_mux, asset)
    assert any("not http(s)" in r.getMessage() for r in caplog.records)
    assert not any("secret" in r.getMessage() for r in caplog.records)  # a URL's password is never logged


def test_a_master_larger_than_allowed_stays_at_mux(mux_show, commit, region, fake_mux, settings):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    settings.LIVE_MUX_MASTER_MAX_BYTES = len(MP4) - 1
    fake_mux.masters[asset] = Master(MP4)
    assert _copy(ended, f"mux://assets/{asset}") == "kept_at_mux"
    _assert_still_at_mux(ended, fake_mux, asset)


def test_an_asset_mux_no_longer_has_cannot_be_copied(mux_show, commit, region, fake_mux):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    del fake_mux.assets[asset]  # deleted by hand in the Mux dashboard
    assert _copy(ended, f"mux://assets/{asset}") == "kept_at_mux"
    ended.refresh_from_db()
    assert ended.recording_url == f"mux://assets/{asset}"  # retention treats the 404 as deleted


def test_a_master_mux_could_not_make_is_kept_at_mux(mux_show, commit, region, fake_mux):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    fake_mux.assets[asset]["status"] = "errored"
    assert _copy(ended, f"mux://assets/{asset}") == "kept_at_mux"


def test_a_duplicate_or_retried_copy_changes_nothing(mux_show, commit, region, fake_mux):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    url = f"mux://assets/{asset}"
    fake_mux.masters[asset] = Master(MP4)
    assert _copy(ended, url) == "copied"
    assert _copy(ended, url) == "copied"  # delivered twice
    assert fake_mux.downloads == [asset]
    assert _stored(ended) == {f"{asset}.mp4": MP4}
    ended.refresh_from_db()
    assert ended.recording_url == recording_url(ended.slug)

    # Once retention deleted it, a late delivery does nothing at all.
    services.recordings_delete_expired(now=ended.recording_retain_until)
    before = len(fake_mux.requests)
    assert _copy(ended, url) == "nothing"
    assert len(fake_mux.requests) == before and not _folder(ended).exists()


def test_a_copy_whose_deleting_at_mux_failed_finishes_on_the_next_try(mux_show, commit, region, fake_mux):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    url = f"mux://assets/{asset}"
    fake_mux.masters[asset] = Master(MP4)
    fake_mux.fail_next = [None, 503]  # reading the asset works (then the download); deleting it at Mux does not
    with pytest.raises(services.RecordingCopyPending, match="HTTP 503"):
        _copy(ended, url)
    ended.refresh_from_db()
    assert ended.recording_url == recording_url(ended.slug)  # the copy is whole: the room points at it
    assert asset in fake_mux.assets

    assert _copy(ended, url) == "copied"
    assert asset not in fake_mux.assets and fake_mux.downloads == [asset]


@pytest.mark.parametrize("url", ["mux://assets/", "mux://assets/a/../b", "s3://elsewhere/x/", "mux://assets/a,,b"])
def test_a_malformed_reference_copies_nothing(mux_show, commit, region, fake_mux, url):
    room, _asset = mux_show()
    ended = _ended(commit, region, room)
    before = len(fake_mux.requests)
    assert _copy(ended, url) == "nothing"
    assert len(fake_mux.requests) == before


def test_a_reference_the_room_no_longer_holds_is_left_alone(mux_show, commit, region, fake_mux):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    fake_mux.masters[asset] = Master(MP4)
    assert _copy(ended, "mux://assets/someoneelse") == "nothing"
    assert services.recording_copy_from_mux(room_id=0, mux_url=f"mux://assets/{asset}") == "nothing"
    assert fake_mux.downloads == [] and asset in fake_mux.assets


# --- The task: retried with backoff, never inline ------------------------------------------


@pytest.fixture
def retries(monkeypatch):
    """What the task asks Celery for instead of a retry on a broker: the countdowns."""
    from celery.exceptions import Retry

    asked: list[int] = []

    def retry(*, exc, countdown):
        asked.append(countdown)
        return Retry(exc=exc, when=countdown)

    monkeypatch.setattr(tasks.recording_copy_from_mux, "retry", retry)
    return asked


def _run_as_worker(room_id: int, url: str, *, retries: int) -> str:
    task = tasks.recording_copy_from_mux
    task.push_request(retries=retries, is_eager=False)
    try:
        return task.run(room_id, url)
    finally:
        task.pop_request()


def test_the_task_retries_with_backoff_while_mux_prepares_the_master(mux_show, commit, region, fake_mux, retries):
    from celery.exceptions import Retry

    room, asset = mux_show()
    ended = _ended(commit, region, room)
    url = f"mux://assets/{asset}"
    for attempt in (0, 1, 2, 8):
        with pytest.raises(Retry):
            _run_as_worker(ended.pk, url, retries=attempt)
    assert retries == [60, 120, 240, 3600]  # doubling, then hourly
    fake_mux.masters[asset] = Master(MP4)
    assert _run_as_worker(ended.pk, url, retries=9) == "copied"


def test_the_task_stops_after_its_last_retry(mux_show, commit, region, fake_mux, retries, caplog):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    with caplog.at_level(logging.ERROR, logger="apps.live.tasks"):
        assert _run_as_worker(ended.pk, f"mux://assets/{asset}", retries=tasks.RECORDING_COPY_MAX_RETRIES) == "pending"
    assert retries == [] and any("Gave up copying" in r.getMessage() for r in caplog.records)


def test_inline_the_task_tries_once_and_never_holds_the_request(mux_show, commit, region, fake_mux, caplog):
    room, asset = mux_show()
    with caplog.at_level(logging.WARNING, logger="apps.live.tasks"):
        _ended(commit, region, room)
    assert len(fake_mux.requested("GET", f"/video/v1/assets/{asset}")) == 1
    assert any("not copied" in r.getMessage() for r in caplog.records)


def test_ending_a_show_queues_the_copy_once_committed(mux_show, commit, region, fake_mux, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.recording_copy_from_mux, "delay", lambda *args: queued.append(args))
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    assert queued == [(ended.pk, f"mux://assets/{asset}")]


def test_a_copy_task_lost_on_the_way_is_queued_again_by_the_hourly_sweep(mux_show, commit, region, fake_mux, settings):
    room, asset = mux_show()
    ended = _ended(commit, region, room)  # the copy ran as it ended: Mux was still preparing the master
    ended.refresh_from_db()
    reference = f"mux://assets/{asset}"
    assert ended.recording_url == reference
    copied_home, _asset = mux_show("copied-home")
    copied_home = _ended(commit, region, copied_home)
    LiveRoom.objects.filter(pk=copied_home.pk).update(recording_url=recording_url(copied_home.slug))

    # The first hour belongs to the task queued at the end; then the sweep picks the show up,
    # and only while the copy may still come (the wait for Mux's master, plus an hour).
    wait = dt.timedelta(hours=settings.LIVE_MUX_MASTER_WAIT_HOURS)
    assert services.recordings_at_mux_to_copy(now=ended.ended_at + dt.timedelta(minutes=59)) == []
    assert services.recordings_at_mux_to_copy(now=ended.ended_at + dt.timedelta(hours=2)) == [(ended.pk, reference)]
    assert services.recordings_at_mux_to_copy(now=ended.ended_at + wait + dt.timedelta(minutes=59)) == [
        (ended.pk, reference)
    ]
    assert services.recordings_at_mux_to_copy(now=ended.ended_at + wait + dt.timedelta(hours=1)) == []

    # The task was lost; two hours on, Mux has the master ready and the sweep runs.
    LiveRoom.objects.filter(pk__in=[ended.pk, copied_home.pk]).update(ended_at=timezone.now() - dt.timedelta(hours=2))
    fake_mux.masters[asset] = Master(MP4)
    assert tasks.recordings_copy_from_mux_again() == 1  # the copy ran inline
    ended.refresh_from_db()
    assert ended.recording_url == recording_url(ended.slug)
    assert _stored(ended) == {f"{asset}.mp4": MP4} and asset not in fake_mux.assets
    assert tasks.recordings_copy_from_mux_again() == 0


def test_a_broker_down_at_the_end_of_a_show_does_not_stop_it_ending(mux_show, commit, region, fake_mux, monkeypatch):
    def down(*args):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.recording_copy_from_mux, "delay", down)
    monkeypatch.setattr(tasks.provider_stream_delete, "delay", down)
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    ended.refresh_from_db()
    assert ended.status == LiveRoom.Status.ENDED and ended.recording_url == f"mux://assets/{asset}"
    assert services.provider_streams_delete() == 1  # the hourly sweep deletes the stream instead


# --- The region's store on S3 ------------------------------------------------------------------

BUCKET = "livemall-us-east-recordings"


@pytest.fixture
def s3_store(live_settings, monkeypatch):
    """The region's store on S3, its client stubbed (botocore's Stubber); small parts, one thread."""
    from boto3.s3.transfer import TransferConfig

    live_settings.LIVE_RECORDING_STORAGE = f"s3://{BUCKET}/shows/"
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    config = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024, use_threads=False)
    store = S3RecordingStore(client=client, root=live_settings.LIVE_RECORDING_STORAGE, transfer_config=config)
    monkeypatch.setattr(S3RecordingStore, "from_settings", classmethod(lambda cls: store))
    stub = Stubber(client)
    with stub:
        yield stub
    stub.assert_no_pending_responses()


def _not_there(stub, key: str) -> None:
    stub.add_client_error(
        "head_object", service_error_code="404", http_status_code=404, expected_params={"Bucket": BUCKET, "Key": key}
    )


def test_a_mux_recording_is_copied_into_the_regions_s3_bucket(mux_show, commit, region, fake_mux, s3_store):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    fake_mux.masters[asset] = Master(MP4)
    key = f"shows/{ended.slug}/{asset}.mp4"
    _not_there(s3_store, key)
    s3_store.add_response(
        "put_object", {"ETag": '"e"'}, {"Bucket": BUCKET, "Key": key, "Body": ANY, "ChecksumAlgorithm": ANY}
    )
    assert _copy(ended, f"mux://assets/{asset}") == "copied"
    ended.refresh_from_db()
    assert ended.recording_url == f"s3://{BUCKET}/shows/{ended.slug}/"
    assert asset not in fake_mux.assets


def test_an_s3_upload_that_fails_keeps_the_recording_at_mux(mux_show, commit, region, fake_mux, s3_store):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    fake_mux.masters[asset] = Master(MP4)
    _not_there(s3_store, f"shows/{ended.slug}/{asset}.mp4")
    s3_store.add_client_error("put_object", service_error_code="SlowDown", http_status_code=503)
    with pytest.raises(services.RecordingCopyPending, match="S3 did not store"):
        _copy(ended, f"mux://assets/{asset}")
    ended.refresh_from_db()
    assert ended.recording_url == f"mux://assets/{asset}" and asset in fake_mux.assets


def test_an_s3_multipart_upload_cut_by_the_download_is_aborted(mux_show, commit, region, fake_mux, s3_store):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    big = bytes(range(256)) * (48 * 1024)  # 12 MiB: three parts
    fake_mux.masters[asset] = Master(big, cut_after=7 * 1024 * 1024)
    key = f"shows/{ended.slug}/{asset}.mp4"
    _not_there(s3_store, key)
    s3_store.add_response(
        "create_multipart_upload", {"UploadId": "up-1"}, {"Bucket": BUCKET, "Key": key, "ChecksumAlgorithm": ANY}
    )
    s3_store.add_response(
        "upload_part",
        {"ETag": '"p1"'},
        {"Bucket": BUCKET, "Key": key, "UploadId": "up-1", "PartNumber": 1, "Body": ANY, "ChecksumAlgorithm": ANY},
    )
    s3_store.add_response("abort_multipart_upload", {}, {"Bucket": BUCKET, "Key": key, "UploadId": "up-1"})
    with pytest.raises(services.RecordingCopyPending, match="broke off"):
        _copy(ended, f"mux://assets/{asset}")
    ended.refresh_from_db()
    assert ended.recording_url == f"mux://assets/{asset}"


# --- The live stream at Mux ----------------------------------------------------------------------


def test_an_ended_shows_stream_is_deleted_at_mux(mux_show, commit, region, fake_mux):
    room, _asset = mux_show()
    stream_id = room.stream_id
    ended = _ended(commit, region, room)
    assert fake_mux.requested("DELETE", f"/video/v1/live-streams/{stream_id}")
    assert stream_id in fake_mux.deleted_streams
    ended.refresh_from_db()
    assert ended.stream_id == ""  # nothing left at Mux to point at
    assert services.provider_streams_delete() == 0


def test_a_stream_mux_failed_to_delete_is_deleted_by_the_hourly_sweep(mux_show, commit, region, fake_mux, caplog):
    room, asset = mux_show()
    stream_id = room.stream_id
    fake_mux.fail_next = [None, None, None, None, None, 500]  # end (3), copy (2), then the stream's deletion
    with caplog.at_level(logging.WARNING, logger="apps.live.services"):
        ended = _ended(commit, region, room)
    assert any("Could not delete the mux stream" in r.getMessage() for r in caplog.records)
    ended.refresh_from_db()
    assert ended.status == LiveRoom.Status.ENDED and ended.stream_id == stream_id
    assert ended.recording_url == f"mux://assets/{asset}"  # the recording is not held back by it

    assert services.provider_streams_delete() == 1
    assert stream_id in fake_mux.deleted_streams
    ended.refresh_from_db()
    assert ended.stream_id == ""


def test_a_stream_already_deleted_at_mux_counts_as_deleted(mux_show, commit, region, fake_mux, monkeypatch):
    monkeypatch.setattr(tasks.provider_stream_delete, "delay", lambda *args: None)  # lost
    room, _asset = mux_show()
    ended = _ended(commit, region, room)
    fake_mux.deleted_streams.add(room.stream_id)  # deleted by hand in the Mux dashboard
    assert services.provider_streams_delete() == 1
    ended.refresh_from_db()
    assert ended.stream_id == ""


def test_the_sweep_leaves_live_shows_and_other_providers_alone(
    mux_show, commit, region, fake_mux, merchant, monkeypatch, settings
):
    live, _asset = mux_show("still-live")
    manual = commit(
        services.live_room_start, room=schedule_room(merchant=merchant, region=region, slug="manual"), provider="manual"
    )
    _ended(commit, region, manual)
    assert services.provider_streams_delete() == 0
    assert not fake_mux.deleted_streams

    monkeypatch.setattr(tasks.provider_stream_delete, "delay", lambda *args: None)
    ended = _ended(commit, region, live)
    settings.MUX_API_BASE = unreachable_url()
    assert services.provider_streams_delete() == 0  # Mux down: tried again next hour
    settings.MUX_TOKEN_ID = None
    assert services.provider_streams_delete() == 0  # Mux not configured: logged, nothing else held
    settings.MUX_TOKEN_ID, settings.MUX_API_BASE = "token-id", fake_mux.url
    assert services.provider_streams_delete() == 1
    ended.refresh_from_db()
    assert ended.stream_id == ""


def test_the_sweep_is_on_the_beat_schedule():
    from livemall.celery import app

    assert any(e["task"] == "live.provider_streams_delete" for e in app.conf.beat_schedule.values())


def test_assets_the_copy_could_not_delete_at_mux_are_deleted_by_the_hourly_sweep(
    mux_show, commit, region, fake_mux, caplog
):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    url = f"mux://assets/{asset}"
    fake_mux.masters[asset] = Master(MP4)
    fake_mux.fail_next = [None, 503]  # the copy works; deleting at Mux does not (its retries run out)
    with pytest.raises(services.RecordingCopyPending):
        _copy(ended, url)
    ended.refresh_from_db()
    assert ended.recording_url == recording_url(ended.slug) and ended.mux_recording_to_delete == url

    fake_mux.fail_next = [503]  # Mux still failing: kept for the next hour, logged
    with caplog.at_level(logging.WARNING, logger="apps.live.services"):
        assert tasks.mux_recordings_delete_leftover() == 0
    assert asset in fake_mux.assets and any("Could not delete the recording" in r.getMessage() for r in caplog.records)
    ended.refresh_from_db()
    assert ended.mux_recording_to_delete == url

    assert tasks.mux_recordings_delete_leftover() == 1
    assert asset not in fake_mux.assets
    ended.refresh_from_db()
    assert ended.mux_recording_to_delete == "" and ended.recording_url == recording_url(ended.slug)
    assert tasks.mux_recordings_delete_leftover() == 0  # nothing left to do


def test_a_copy_that_deletes_at_mux_leaves_nothing_for_the_sweep(mux_show, commit, region, fake_mux):
    room, asset = mux_show()
    ended = _ended(commit, region, room)
    fake_mux.masters[asset] = Master(MP4)
    assert _copy(ended, f"mux://assets/{asset}") == "copied"
    ended.refresh_from_db()
    assert ended.mux_recording_to_delete == "" and asset not in fake_mux.assets
