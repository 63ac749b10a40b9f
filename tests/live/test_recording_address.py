"""Where a browser plays an ended show's recording from, and the site serving a file:// store's files.

The room holds where the recording is kept (the region's store, Mux); the replay page needs
an address a browser can play: ``LIVE_RECORDING_PUBLIC_URL`` plus the path under the store,
else this site's own file view for a file:// store, else nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import boto3
import pytest
from botocore.stub import Stubber
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from apps.live import selectors, services
from apps.live.models import LiveRoom
from apps.live.providers.recordings import S3RecordingStore
from apps.live.views import UnsatisfiableRange, requested_range
from tests.live.console_factories import schedule_room
from tests.live.tiny_mp4 import tiny_mp4

STARTED = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
ASSET = "a1B2c3D4"
CDN = "https://recordings.livemall.test/shows/"
BUCKET = "livemall-us-east-recordings"
MP4 = tiny_mp4()


@pytest.fixture
def store(live_settings):
    live_settings.LIVE_RECORDING_PUBLIC_URL = None
    return Path(unquote(urlsplit(live_settings.LIVE_RECORDING_STORAGE).path))


@pytest.fixture
def end_show(db, merchant, region, store, commit):
    def end(slug: str = "friday-scarves") -> LiveRoom:
        room = schedule_room(merchant=merchant, region=region, slug=slug)
        room = commit(services.live_room_start, room=room, provider="manual", now=STARTED)
        return commit(services.live_room_end, room=room, region=region)

    return end


@pytest.fixture
def ended(end_show):
    return end_show()


def put(store: Path, relative: str, body: bytes = MP4) -> Path:
    path = store / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


def address(room: LiveRoom) -> str:
    room.refresh_from_db()
    return selectors.room_recording_playback_url(room=room)


def body(response) -> bytes:
    """What the file view sends, read as the ASGI server reads it (an async iterator)."""

    async def read() -> bytes:
        return b"".join([part async for part in response.streaming_content])

    # The test client closes the response (and the file) once its content is read.
    return asyncio.run(read())


def file_url(room: LiveRoom, name: str) -> str:
    return f"/live/{room.slug}/replay/recording/{name}"


# --- The mapping ----------------------------------------------------------------------------


def test_a_mux_master_copied_into_a_file_store_plays_from_the_site(ended, store):
    assert ended.recording_url == f"{(store).as_uri()}/{ended.slug}/"
    assert address(ended) == ""  # nothing stored yet (a manual show, or a copy still to come)
    put(store, f"{ended.slug}/.{ASSET}.mp4.0a1b2c.part")  # a copy being written is not played
    assert address(ended) == ""
    put(store, f"{ended.slug}/{ASSET}.mp4")
    assert address(ended) == file_url(ended, f"{ASSET}.mp4")
    assert address(ended) == reverse("live:recording-file", args=[ended.slug, f"{ASSET}.mp4"])


def test_with_a_public_address_the_store_s_files_play_from_it(ended, store, live_settings):
    put(store, f"{ended.slug}/{ASSET}.mp4")
    live_settings.LIVE_RECORDING_PUBLIC_URL = CDN
    assert address(ended) == f"{CDN}{ended.slug}/{ASSET}.mp4"


def test_an_ivs_playlist_in_the_folder_is_played_before_an_mp4(ended, store):
    put(store, f"{ended.slug}/{ASSET}.mp4")
    put(store, f"{ended.slug}/2026/11/20/12/0/sess1/media/hls/master.m3u8", b"#EXTM3U\n")
    assert address(ended) == file_url(ended, "2026/11/20/12/0/sess1/media/hls/master.m3u8")
    # A later recording (the encoder connected again) is the one played.
    newer = put(store, f"{ended.slug}/2026/11/20/12/41/sess2/media/hls/master.m3u8", b"#EXTM3U\n")
    os.utime(newer, (newer.stat().st_mtime + 60, newer.stat().st_mtime + 60))
    assert address(ended) == file_url(ended, "2026/11/20/12/41/sess2/media/hls/master.m3u8")


@pytest.mark.parametrize(
    "reference",
    [
        "file:///etc/",
        "file:///etc/passwd",
        "{storage}../elsewhere/",
        "{storage}%2e%2e/elsewhere/",
        "{storage}friday-scarves/../../elsewhere/",
        "{storage}",
        "s3://livemall-us-east-recordings/friday-scarves/",
        "javascript:alert(1)",
        "",
    ],
)
def test_a_reference_outside_the_store_is_never_followed(ended, store, live_settings, tmp_path, reference):
    put(tmp_path, f"elsewhere/{ASSET}.mp4")
    put(store, f"{ended.slug}/{ASSET}.mp4")
    LiveRoom.objects.filter(pk=ended.pk).update(
        recording_url=reference.format(storage=live_settings.LIVE_RECORDING_STORAGE)
    )
    assert address(ended) == ""
    live_settings.LIVE_RECORDING_PUBLIC_URL = CDN
    assert address(ended) == ""


def test_a_recording_kept_at_mux_is_not_available(ended, live_settings):
    LiveRoom.objects.filter(pk=ended.pk).update(recording_url=f"mux://assets/{ASSET}")
    assert address(ended) == ""
    live_settings.LIVE_RECORDING_PUBLIC_URL = CDN
    assert address(ended) == ""


def test_a_recording_deleted_or_past_retention_is_not_available(ended, store, live_settings):
    put(store, f"{ended.slug}/{ASSET}.mp4")
    live_settings.LIVE_RECORDING_PUBLIC_URL = CDN
    assert address(ended) != ""
    LiveRoom.objects.filter(pk=ended.pk).update(recording_retain_until=timezone.now() - dt.timedelta(seconds=1))
    assert address(ended) == ""
    LiveRoom.objects.filter(pk=ended.pk).update(
        recording_retain_until=timezone.now() + dt.timedelta(days=1), recording_deleted_at=timezone.now()
    )
    assert address(ended) == ""


def test_a_show_not_ended_has_no_recording_to_play(merchant, region, store, live_settings):
    room = schedule_room(merchant=merchant, region=region, slug="next-friday")
    LiveRoom.objects.filter(pk=room.pk).update(recording_url=f"{live_settings.LIVE_RECORDING_STORAGE}next-friday/")
    put(store, f"next-friday/{ASSET}.mp4")
    assert address(room) == ""


# --- An s3:// store ------------------------------------------------------------------------


@pytest.fixture
def s3(live_settings, monkeypatch):
    """The region's store on S3 under shows/, its client stubbed (botocore's Stubber)."""
    live_settings.LIVE_RECORDING_STORAGE = f"s3://{BUCKET}/shows/"
    live_settings.LIVE_RECORDING_PUBLIC_URL = CDN
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    store = S3RecordingStore(client=client, root=live_settings.LIVE_RECORDING_STORAGE)
    monkeypatch.setattr(S3RecordingStore, "from_settings", classmethod(lambda cls: store))
    stub = Stubber(client)
    with stub:
        yield stub
    stub.assert_no_pending_responses()


def listing(stub: Stubber, prefix: str, *keys: str, bucket: str = BUCKET) -> None:
    contents = [
        {"Key": key, "LastModified": STARTED + dt.timedelta(minutes=n), "Size": 1} for n, key in enumerate(keys)
    ]
    stub.add_response(
        "list_objects_v2",
        {"Contents": contents, "IsTruncated": False, "KeyCount": len(keys)},
        {"Bucket": bucket, "Prefix": prefix},
    )


def test_an_s3_recording_plays_from_the_public_address(ended, s3, live_settings):
    LiveRoom.objects.filter(pk=ended.pk).update(recording_url=f"s3://{BUCKET}/shows/{ended.slug}/")
    listing(s3, f"shows/{ended.slug}/", f"shows/{ended.slug}/{ASSET}.mp4", f"shows/{ended.slug}/zz/other.mp4")
    assert address(ended) == f"{CDN}{ended.slug}/{ASSET}.mp4"
    # The listing is kept a while: the public replay page does not list the bucket per view.
    assert address(ended) == f"{CDN}{ended.slug}/{ASSET}.mp4"

    # Without a public address an S3 recording has none a browser can play (and S3 is not asked).
    live_settings.LIVE_RECORDING_PUBLIC_URL = None
    cache.clear()
    assert address(ended) == ""


def test_an_empty_s3_folder_or_a_failed_listing_is_not_available(ended, s3):
    LiveRoom.objects.filter(pk=ended.pk).update(recording_url=f"s3://{BUCKET}/shows/{ended.slug}/")
    listing(s3, f"shows/{ended.slug}/")
    assert address(ended) == ""

    LiveRoom.objects.filter(pk=ended.pk).update(recording_url=f"s3://{BUCKET}/shows/{ended.slug}/again/")
    s3.add_client_error("list_objects_v2", service_error_code="AccessDenied", http_status_code=403)
    assert address(ended) == ""


@pytest.mark.parametrize(
    "reference",
    [f"s3://{BUCKET}/other/friday-scarves/", "s3://someone-else/shows/friday-scarves/", f"s3://{BUCKET}/shows/../x/"],
)
def test_an_s3_reference_outside_the_prefix_is_never_followed(ended, s3, reference):
    LiveRoom.objects.filter(pk=ended.pk).update(recording_url=reference)
    assert address(ended) == ""  # no listing asked for: the Stubber would fail on one


IVS_FOLDER = "ivs/v1/123456789012/AbCdef1G2hij/"


def test_an_ivs_show_plays_its_master_playlist_from_where_ivs_wrote_it(ended, s3, live_settings):
    # IVS writes under ivs/v1/<account>/<channel-id>/... at the bucket's root (then the store's
    # root), not in the show's folder; ending the show recorded that folder as the recording.
    live_settings.LIVE_RECORDING_STORAGE = f"s3://{BUCKET}/"
    LiveRoom.objects.filter(pk=ended.pk).update(
        stream_provider="ivs", stream_id="", recording_url=f"s3://{BUCKET}/{IVS_FOLDER}"
    )
    session = f"{IVS_FOLDER}2026/11/20/12/0/j8Z9O91ndcVs/"
    listing(
        s3,
        IVS_FOLDER,
        f"{session}events/recording-ended.json",
        f"{session}media/hls/720p30/0.ts",
        f"{session}media/hls/720p30/playlist.m3u8",
        f"{session}media/hls/master.m3u8",
    )
    assert address(ended) == f"{CDN}{session}media/hls/master.m3u8"


def test_an_ivs_show_recorded_several_times_plays_the_newest_recording(ended, s3, live_settings):
    # The encoder connected again after the reconnect window: IVS started another recording.
    live_settings.LIVE_RECORDING_STORAGE = f"s3://{BUCKET}/"
    LiveRoom.objects.filter(pk=ended.pk).update(stream_provider="ivs", recording_url=f"s3://{BUCKET}/{IVS_FOLDER}")
    first, second = f"{IVS_FOLDER}2026/11/20/12/0/j8Z9O91ndcVs/", f"{IVS_FOLDER}2026/11/20/12/41/Zz0nEw2ndAbc/"
    listing(
        s3,
        IVS_FOLDER,
        f"{first}media/hls/master.m3u8",
        f"{first}media/hls/720p30/0.ts",
        f"{second}media/hls/720p30/0.ts",
        f"{second}media/hls/master.m3u8",
        f"{IVS_FOLDER}stray.mp4",  # an MP4 plays only when no IVS playlist is there
    )
    assert address(ended) == f"{CDN}{second}media/hls/master.m3u8"


def test_an_ivs_folder_outside_a_prefixed_store_is_never_followed(ended, s3):
    # What the start-up check refuses (IVS recording with a prefix): no listing is asked for.
    LiveRoom.objects.filter(pk=ended.pk).update(stream_provider="ivs", recording_url=f"s3://{BUCKET}/{IVS_FOLDER}")
    assert address(ended) == ""


# --- The file view (the embedded default's CDN) ------------------------------------------------


def test_the_file_is_served_whole(client, ended, store):
    put(store, f"{ended.slug}/{ASSET}.mp4")
    response = client.get(file_url(ended, f"{ASSET}.mp4"))
    assert response.status_code == 200
    assert body(response) == MP4
    assert response["Content-Type"] == "video/mp4"
    assert response["Content-Length"] == str(len(MP4))
    assert response["Accept-Ranges"] == "bytes" and response["Last-Modified"]


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-", 0, len(MP4) - 1),
        ("bytes=4-11", 4, 11),
        ("bytes=-16", len(MP4) - 16, len(MP4) - 1),
        ("bytes=100-99999", 100, len(MP4) - 1),
    ],
)
def test_a_range_is_served_206(client, ended, store, header, first, last):
    put(store, f"{ended.slug}/{ASSET}.mp4")
    response = client.get(file_url(ended, f"{ASSET}.mp4"), headers={"Range": header})
    assert response.status_code == 206
    assert body(response) == MP4[first : last + 1]
    assert response["Content-Range"] == f"bytes {first}-{last}/{len(MP4)}"
    assert response["Content-Length"] == str(last - first + 1)
    assert response["Content-Type"] == "video/mp4"


@pytest.mark.parametrize(
    "header",
    [
        f"bytes={len(MP4)}-",
        "bytes=9-3",
        "bytes=-0",
        "bytes=abc",
        "bytes=-",
        "bytes=1-2-3",
        "bytes=99999999999999999999999-",
    ],
)
def test_a_bad_range_is_answered_416(client, ended, store, header):
    put(store, f"{ended.slug}/{ASSET}.mp4")
    response = client.get(file_url(ended, f"{ASSET}.mp4"), headers={"Range": header})
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(MP4)}"


def test_a_range_for_another_version_or_several_ranges_get_the_whole_file(client, ended, store):
    put(store, f"{ended.slug}/{ASSET}.mp4")
    url = file_url(ended, f"{ASSET}.mp4")
    stale = client.get(url, headers={"Range": "bytes=0-3", "If-Range": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert stale.status_code == 200 and body(stale) == MP4
    whole = client.get(url)
    current = whole.headers["Last-Modified"]
    assert body(whole) == MP4
    fresh = client.get(url, headers={"Range": "bytes=0-3", "If-Range": current})
    assert fresh.status_code == 206 and body(fresh) == MP4[:4]
    several = client.get(url, headers={"Range": "bytes=0-3,8-9"})
    assert several.status_code == 200 and body(several) == MP4
    other_unit = client.get(url, headers={"Range": "items=0-3"})
    assert other_unit.status_code == 200 and body(other_unit) == MP4


def test_the_range_header_is_read_as_rfc_9110_writes_it():
    assert requested_range("bytes=0-0", 10) == (0, 0)
    assert requested_range("bytes = 2-", 10) == (2, 9)
    assert requested_range("Bytes=2-", 10) == (2, 9)
    assert requested_range("bytes=-20", 10) == (0, 9)
    with pytest.raises(UnsatisfiableRange):
        requested_range("bytes=0-", 0)


def test_nothing_outside_the_room_s_folder_is_served(client, ended, end_show, store, tmp_path):
    put(store, f"{ended.slug}/{ASSET}.mp4")
    other = end_show("other-show")
    put(store, f"{other.slug}/secret.mp4")
    outside = put(tmp_path, "outside.mp4")
    (store / ended.slug / "link.mp4").symlink_to(outside)
    (store / ended.slug / "neighbour.mp4").symlink_to(store / other.slug / "secret.mp4")
    (store / ended.slug / "folder").symlink_to(tmp_path)
    put(store, f"{ended.slug}/notes.txt", b"not a recording")
    put(store, f"{ended.slug}/.hidden.mp4")
    for name in [
        f"../{other.slug}/secret.mp4",
        f"%2e%2e/{other.slug}/secret.mp4",
        "../../outside.mp4",
        "link.mp4",
        "neighbour.mp4",
        "folder/outside.mp4",
        "notes.txt",
        ".hidden.mp4",
        "missing.mp4",
        f"{ASSET}.mp4/",
    ]:
        assert client.get(file_url(ended, name)).status_code == 404, name
        assert selectors.recording_file_for_viewer(room=ended, name=unquote(name)) is None, name
    assert body(client.get(file_url(ended, f"{ASSET}.mp4"))) == MP4


def test_no_file_is_served_for_an_unknown_room_a_show_not_ended_or_a_recording_gone(
    client, ended, merchant, region, store, live_settings
):
    put(store, f"{ended.slug}/{ASSET}.mp4")
    assert body(client.get(file_url(ended, f"{ASSET}.mp4"))) == MP4
    assert client.get(f"/live/no-such-show/replay/recording/{ASSET}.mp4").status_code == 404

    upcoming = schedule_room(merchant=merchant, region=region, slug="next-friday")
    LiveRoom.objects.filter(pk=upcoming.pk).update(recording_url=f"{live_settings.LIVE_RECORDING_STORAGE}next-friday/")
    put(store, f"next-friday/{ASSET}.mp4")
    assert client.get(file_url(upcoming, f"{ASSET}.mp4")).status_code == 404

    # A public address serves the files: the site does not.
    live_settings.LIVE_RECORDING_PUBLIC_URL = CDN
    assert client.get(file_url(ended, f"{ASSET}.mp4")).status_code == 404
    live_settings.LIVE_RECORDING_PUBLIC_URL = None

    LiveRoom.objects.filter(pk=ended.pk).update(recording_retain_until=timezone.now() - dt.timedelta(seconds=1))
    assert client.get(file_url(ended, f"{ASSET}.mp4")).status_code == 404
    LiveRoom.objects.filter(pk=ended.pk).update(
        recording_retain_until=timezone.now() + dt.timedelta(days=1), recording_deleted_at=timezone.now()
    )
    assert client.get(file_url(ended, f"{ASSET}.mp4")).status_code == 404
    assert client.post(file_url(ended, f"{ASSET}.mp4")).status_code in {403, 405}


# --- The replay page ---------------------------------------------------------------------------


def test_the_replay_page_plays_the_mapped_address(client, ended, store, live_settings):
    page = reverse("live:replay", args=[ended.slug])
    assert "The recording is not available." in client.get(page).content.decode()
    put(store, f"{ended.slug}/{ASSET}.mp4")
    body = client.get(page).content.decode()
    assert (
        f'<video class="player" data-testid="replay-player" data-playback-url="{file_url(ended, ASSET + ".mp4")}"'
        in body
    )
    assert "js/live-player.js" in body

    live_settings.LIVE_RECORDING_PUBLIC_URL = CDN
    body = client.get(page).content.decode()
    assert f'data-playback-url="{CDN}{ended.slug}/{ASSET}.mp4"' in body


# --- The setting ---------------------------------------------------------------------------------


def _settings_value(public_url: str) -> subprocess.CompletedProcess:
    root = Path(__file__).resolve().parents[2]
    script = "import django; django.setup(); from django.conf import settings as s; print(s.LIVE_RECORDING_PUBLIC_URL)"
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=root,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "livemall.settings", "LIVE_RECORDING_PUBLIC_URL": public_url},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_public_address_is_read_from_the_environment():
    assert _settings_value("https://cdn.example.test/shows").stdout.strip() == "https://cdn.example.test/shows/"
    assert _settings_value("").stdout.strip() == "None"


@pytest.mark.parametrize(
    "public_url",
    [
        "s3://bucket/shows/",
        "cdn.example.test/shows/",
        "https:///x/",
        "https://cdn.example.test/?v=1",
        "https://[cdn/",
        "https://cdn.example.test/#x",
    ],
)
def test_a_public_address_a_browser_cannot_use_is_refused(public_url):
    result = _settings_value(public_url)
    assert result.returncode != 0
    assert f"LIVE_RECORDING_PUBLIC_URL={public_url!r}; expected https://host/prefix/" in result.stderr
