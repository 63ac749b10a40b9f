"""An IVS show's recording: where IVS writes it (the channel's folder at its bucket's root),
recorded as the room's recording when the show ends, deleted whole at retention; the
start-up check that keeps that folder inside the region's store; and the migration that
repairs shows ended before.

boto3 talks to botocore's Stubber (IVS and S3), so every AWS call a test expects is one the
code made, with those parameters, in that order, and no other.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from apps.live import services
from apps.live.models import LiveRoom
from apps.live.providers import StreamProviderError, ivs
from apps.live.providers.ivs import IvsProvider, recording_folder
from apps.live.providers.recordings import S3RecordingStore
from tests.live.console_factories import schedule_room

BUCKET = "livemall-us-east-recordings"
ACCOUNT = "123456789012"
CHANNEL_ID = "AbCdef1G2hij"
CHANNEL = f"arn:aws:ivs:us-east-1:{ACCOUNT}:channel/{CHANNEL_ID}"
FOLDER = f"s3://{BUCKET}/ivs/v1/{ACCOUNT}/{CHANNEL_ID}/"
PLAYBACK = (
    f"https://fcc3ddae59ed.us-east-1.playback.live-video.net/api/video/v1/us-east-1.{ACCOUNT}.channel.{CHANNEL_ID}.m3u8"
)
RECORDING_CONFIGURATION = f"arn:aws:ivs:us-east-1:{ACCOUNT}:recording-configuration/Rc0nFig1"
KEY = f"arn:aws:ivs:us-east-1:{ACCOUNT}:stream-key/k1"


@pytest.fixture(autouse=True)
def _tasks_inline(celery_inline):
    """Tasks queued when a show ends (the channel's deletion) run in the test's process."""


@pytest.fixture
def aws(live_settings, monkeypatch):
    """IVS recording into the region's bucket (its root); both clients stubbed."""
    live_settings.LIVE_STREAM_PROVIDER = "ivs"
    live_settings.IVS_RECORDING_CONFIGURATION_ARN = RECORDING_CONFIGURATION
    live_settings.LIVE_RECORDING_STORAGE = f"s3://{BUCKET}/"
    ivs_client = boto3.client("ivs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    s3_client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    monkeypatch.setattr(ivs, "ivs_client", lambda region: ivs_client)
    monkeypatch.setattr(
        S3RecordingStore,
        "from_settings",
        classmethod(lambda cls: S3RecordingStore(client=s3_client, root=live_settings.LIVE_RECORDING_STORAGE)),
    )
    stubs = (Stubber(ivs_client), Stubber(s3_client))
    with stubs[0], stubs[1]:
        yield stubs
    for stub in stubs:
        stub.assert_no_pending_responses()


def _channel_created(stub: Stubber, *, recording: bool = True) -> None:
    expected = {"name": "friday-scarves", "type": "STANDARD", "latencyMode": "LOW"}
    if recording:
        expected["recordingConfigurationArn"] = RECORDING_CONFIGURATION
    stub.add_response(
        "create_channel",
        {
            "channel": {
                "arn": CHANNEL,
                "ingestEndpoint": "abc.global-contribute.live-video.net",
                "playbackUrl": PLAYBACK,
            },
            "streamKey": {"arn": KEY, "value": "sk_us-east-1_secret", "channelArn": CHANNEL},
        },
        expected,
    )


def _channel_ended_and_deleted(stub: Stubber) -> None:
    stub.add_response(
        "list_stream_keys", {"streamKeys": [{"arn": KEY, "channelArn": CHANNEL}]}, {"channelArn": CHANNEL}
    )
    stub.add_response("delete_stream_key", {}, {"arn": KEY})
    stub.add_response("stop_stream", {}, {"channelArn": CHANNEL})
    stub.add_response("delete_channel", {}, {"arn": CHANNEL})


@pytest.fixture
def ivs_show(db, merchant, region, commit):
    def run() -> LiveRoom:
        room = schedule_room(merchant=merchant, region=region, slug="friday-scarves")
        room = commit(services.live_room_start, room=room)
        return commit(services.live_room_end, room=room, region=region)

    return run


# --- Ending the show --------------------------------------------------------------------------


def test_ending_an_ivs_show_records_the_channel_s_folder_where_ivs_wrote_it(aws, ivs_show):
    ivs_stub, _ = aws
    _channel_created(ivs_stub)
    _channel_ended_and_deleted(ivs_stub)
    ended = ivs_show()
    ended.refresh_from_db()
    assert ended.recording_url == FOLDER
    # The channel was deleted after the show (its ARN cleared): the recording's address stays.
    assert ended.stream_id == ""
    assert ended.recording_retain_until is not None


def test_an_ivs_show_without_a_recording_configuration_has_no_recording(aws, ivs_show, live_settings):
    ivs_stub, _ = aws
    live_settings.IVS_RECORDING_CONFIGURATION_ARN = None
    _channel_created(ivs_stub, recording=False)
    _channel_ended_and_deleted(ivs_stub)
    ended = ivs_show()
    ended.refresh_from_db()
    assert ended.recording_url == ""  # not an empty folder that pretends to hold one
    # ... so retention has nothing to delete (the S3 Stubber would fail on any call).
    assert services.recordings_delete_expired(now=timezone.now() + dt.timedelta(days=10_000)) == []


def test_the_provider_answers_the_folder_only_with_a_recording_configuration():
    client = boto3.client("ivs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    stub = Stubber(client)
    for _ in range(2):
        stub.add_response("list_stream_keys", {"streamKeys": []}, {"channelArn": CHANNEL})
        stub.add_response("stop_stream", {}, {"channelArn": CHANNEL})
    with stub:
        recorded = IvsProvider(
            client=client, recording_configuration_arn=RECORDING_CONFIGURATION, recording_bucket=BUCKET
        )
        assert recorded.stream_end(stream_id=CHANNEL) == FOLDER
        assert IvsProvider(client=client, recording_bucket=BUCKET).stream_end(stream_id=CHANNEL) == ""
    stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    "stream_id", ["", "abcd", "arn:aws:ivs:us-east-1:1:channel/a", f"{CHANNEL}/../x", CHANNEL + " "]
)
def test_a_stream_that_is_no_ivs_channel_does_not_end_as_a_recording(stream_id):
    client = boto3.client("ivs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    stub = Stubber(client)
    provider = IvsProvider(client=client, recording_configuration_arn=RECORDING_CONFIGURATION, recording_bucket=BUCKET)
    with stub, pytest.raises(StreamProviderError, match="not an IVS channel ARN"):
        provider.stream_end(stream_id=stream_id)
    stub.assert_no_pending_responses()  # refused before anything was stopped
    assert recording_folder(channel_arn=stream_id, bucket=BUCKET) is None


def test_ivs_recording_without_an_s3_store_is_a_clear_provider_error(live_settings):
    live_settings.IVS_RECORDING_CONFIGURATION_ARN = RECORDING_CONFIGURATION
    # live_settings keeps recordings in a file:// directory, which IVS cannot write to.
    with pytest.raises(StreamProviderError, match="IVS_RECORDING_CONFIGURATION_ARN needs LIVE_RECORDING_STORAGE"):
        IvsProvider.from_settings()


# --- Retention ----------------------------------------------------------------------------------


def test_retention_deletes_everything_ivs_wrote_for_the_show_and_nothing_else(aws, ivs_show):
    ivs_stub, s3_stub = aws
    _channel_created(ivs_stub)
    _channel_ended_and_deleted(ivs_stub)
    ended = ivs_show()
    prefix = f"ivs/v1/{ACCOUNT}/{CHANNEL_ID}/"
    first = [{"Key": f"{prefix}2026/11/20/12/0/j8Z9O91ndcVs/media/hls/720p30/{n}.ts"} for n in range(1000)]
    last = [
        {"Key": f"{prefix}2026/11/20/12/0/j8Z9O91ndcVs/media/hls/master.m3u8"},
        {"Key": f"{prefix}2026/11/20/12/40/Zz0nEw2ndAbc/events/recording-ended.json"},
    ]
    s3_stub.add_response(
        "list_objects_v2",
        {"Contents": first, "IsTruncated": True, "NextContinuationToken": "more"},
        {"Bucket": BUCKET, "Prefix": prefix},
    )
    s3_stub.add_response(
        "delete_objects", {"Deleted": first}, {"Bucket": BUCKET, "Delete": {"Objects": first, "Quiet": True}}
    )
    s3_stub.add_response(
        "list_objects_v2",
        {"Contents": last, "IsTruncated": False},
        {"Bucket": BUCKET, "Prefix": prefix, "ContinuationToken": "more"},
    )
    s3_stub.add_response(
        "delete_objects", {"Deleted": last}, {"Bucket": BUCKET, "Delete": {"Objects": last, "Quiet": True}}
    )
    later = timezone.now() + dt.timedelta(days=10_000)
    assert services.recordings_delete_expired(now=later) == [ended.pk]
    ended.refresh_from_db()
    assert ended.recording_deleted_at == later and ended.recording_url == ""
    assert services.recordings_delete_expired(now=later) == []  # done: S3 is not asked again


def test_a_store_with_a_prefix_refuses_the_ivs_folder_and_keeps_the_reference(aws, ivs_show, live_settings):
    ivs_stub, _ = aws
    _channel_created(ivs_stub)
    _channel_ended_and_deleted(ivs_stub)
    ended = ivs_show()
    # What the start-up check prevents: deletes stay inside the store, so this one waits.
    live_settings.LIVE_RECORDING_STORAGE = f"s3://{BUCKET}/shows/"
    assert services.recordings_delete_expired(now=timezone.now() + dt.timedelta(days=10_000)) == []
    ended.refresh_from_db()
    assert ended.recording_url == FOLDER and ended.recording_deleted_at is None


# --- The start-up check -----------------------------------------------------------------------------


def _check(**environment: str) -> subprocess.CompletedProcess:
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=root,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("storage", [f"s3://{BUCKET}/shows/", f"s3://{BUCKET}/shows", "file:///var/recordings/"])
def test_ivs_recording_into_a_store_that_is_not_a_bucket_root_is_refused_at_start_up(storage):
    result = _check(IVS_RECORDING_CONFIGURATION_ARN=RECORDING_CONFIGURATION, LIVE_RECORDING_STORAGE=storage)
    assert result.returncode != 0
    assert f"LIVE_RECORDING_STORAGE={storage!r}; IVS_RECORDING_CONFIGURATION_ARN is set" in result.stderr
    assert "expected s3://<that-bucket>/ (no prefix)" in result.stderr


def test_ivs_recording_into_a_bucket_root_or_a_prefix_without_ivs_recording_starts():
    with_ivs = _check(IVS_RECORDING_CONFIGURATION_ARN=RECORDING_CONFIGURATION, LIVE_RECORDING_STORAGE=f"s3://{BUCKET}/")
    assert with_ivs.returncode == 0, with_ivs.stderr
    without = _check(IVS_RECORDING_CONFIGURATION_ARN="", LIVE_RECORDING_STORAGE=f"s3://{BUCKET}/shows/")
    assert without.returncode == 0, without.stderr


# --- The migration of shows ended before --------------------------------------------------------

BEFORE, REPAIR = ("live", "0010_watch_time"), ("live", "0011_ivs_recording_folder")


def _ended_room(merchant, region, slug: str, **fields) -> LiveRoom:
    room = schedule_room(merchant=merchant, region=region, slug=slug)
    LiveRoom.objects.filter(pk=room.pk).update(status=LiveRoom.Status.ENDED, ended_at=timezone.now(), **fields)
    return room


def _migrate(target: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


def test_the_migration_points_ended_ivs_shows_at_their_channel_s_folder(db, merchant, region, live_settings, capsys):
    live_settings.LIVE_RECORDING_STORAGE = f"s3://{BUCKET}/"
    old_store = f"s3://{BUCKET}/shows/"
    by_arn = _ended_room(
        merchant, region, "by-arn", stream_provider="ivs", stream_id=CHANNEL, recording_url=f"{old_store}by-arn/"
    )
    # The channel already deleted after the show: its playback URL still names it.
    by_playback = _ended_room(
        merchant,
        region,
        "by-playback",
        stream_provider="ivs",
        stream_id="",
        playback_url=PLAYBACK.replace(CHANNEL_ID, "Other0Chan1"),
        recording_url=f"s3://{BUCKET}/by-playback/",
    )
    unknown = _ended_room(
        merchant,
        region,
        "unknown",
        stream_provider="ivs",
        stream_id="",
        playback_url="https://cdn.example/live.m3u8",
        recording_url=f"s3://{BUCKET}/unknown/",
    )
    mux = _ended_room(
        merchant, region, "mux-show", stream_provider="mux", stream_id="m1", recording_url=f"s3://{BUCKET}/mux-show/"
    )
    manual = _ended_room(
        merchant, region, "manual-show", stream_provider="manual", recording_url=f"s3://{BUCKET}/manual-show/"
    )
    deleted = _ended_room(
        merchant,
        region,
        "deleted",
        stream_provider="ivs",
        stream_id=CHANNEL,
        recording_url=f"s3://{BUCKET}/deleted/",
        recording_deleted_at=timezone.now(),
    )
    by_hand = _ended_room(
        merchant, region, "by-hand", stream_provider="ivs", stream_id=CHANNEL, recording_url="https://cdn.example/x.mp4"
    )
    before = {
        room.pk: LiveRoom.objects.get(pk=room.pk).recording_url for room in (unknown, mux, manual, deleted, by_hand)
    }

    _migrate(BEFORE)
    _migrate(REPAIR)

    assert LiveRoom.objects.get(pk=by_arn.pk).recording_url == FOLDER
    assert LiveRoom.objects.get(pk=by_playback.pk).recording_url == f"s3://{BUCKET}/ivs/v1/{ACCOUNT}/Other0Chan1/"
    assert {pk: LiveRoom.objects.get(pk=pk).recording_url for pk in before} == before
    printed = capsys.readouterr().out
    assert f"live room by-arn: IVS recording {old_store}by-arn/ -> {FOLDER}" in printed
    assert "live room unknown: IVS recording left at" in printed and "repair it by hand" in printed
    assert "mux-show" not in printed and "manual-show" not in printed

    # Back and forth: the reverse changes nothing, and running it again repairs nothing twice.
    _migrate(BEFORE)
    assert LiveRoom.objects.get(pk=by_arn.pk).recording_url == FOLDER
    _migrate(REPAIR)
    assert LiveRoom.objects.get(pk=by_arn.pk).recording_url == FOLDER


def test_the_migration_without_an_s3_store_leaves_ivs_shows_as_they_are(db, merchant, region, live_settings, capsys):
    reference = f"{live_settings.LIVE_RECORDING_STORAGE}friday/"
    room = _ended_room(merchant, region, "friday", stream_provider="ivs", stream_id=CHANNEL, recording_url=reference)
    migration = importlib.import_module("apps.live.migrations.0011_ivs_recording_folder")
    migration.repair(MigrationLoader(connection).project_state(REPAIR).apps, None)
    assert LiveRoom.objects.get(pk=room.pk).recording_url == reference
    assert "is not the S3 bucket IVS records into" in capsys.readouterr().out
