"""Stream providers through their real SDKs: mux-python against a local fake, boto3 with botocore's Stubber."""

from __future__ import annotations

import base64
import io
import logging

import boto3
import pytest
from botocore.stub import ANY, Stubber

from apps.errors import ApplicationError
from apps.live.providers import StreamProviderError, stream_provider
from apps.live.providers.ivs import IvsProvider
from apps.live.providers.mux import MuxProvider, MuxRecordingStore, master_download
from apps.live.providers.recordings import (
    FileRecordingStore,
    RecordingSourceError,
    RecordingStoreError,
    S3RecordingStore,
    recording_store,
)
from tests.live.mux_fake import Master, unreachable_url


def test_manual_provider_needs_a_playback_url():
    provider = stream_provider("manual")
    with pytest.raises(ApplicationError) as err:
        provider.stream_create(room_slug="show", playback_url="")
    assert err.value.code == "playback_url_required"
    stream = provider.stream_create(room_slug="show", playback_url="https://cdn.example/live.m3u8")
    assert stream.playback_url == "https://cdn.example/live.m3u8" and stream.stream_key == ""


def test_unknown_provider_is_refused():
    with pytest.raises(ApplicationError) as err:
        stream_provider("youtube")
    assert err.value.code == "unknown_stream_provider"


def test_mux_creates_and_completes_a_live_stream(fake_mux):
    provider = stream_provider("mux")
    assert isinstance(provider, MuxProvider)
    stream = provider.stream_create(room_slug="evening-show")
    created = fake_mux.requests[0]
    assert created.headers["authorization"] == "Basic " + base64.b64encode(b"token-id:token-secret").decode()
    assert created.json["passthrough"] == "evening-show"
    assert created.json["playback_policy"] == ["public"]
    assert stream.stream_key.startswith("sk-") and stream.ingest_url.startswith("rtmps://")
    assert (
        stream.playback_url
        == f"https://stream.mux.com/{fake_mux.streams[stream.stream_id]['playback_ids'][0]['id']}.m3u8"
    )
    provider.stream_end(stream_id=stream.stream_id)
    assert fake_mux.requested("PUT", f"/video/v1/live-streams/{stream.stream_id}/complete")
    # Disabled: an encoder still running after the show cannot start a recording nobody would delete.
    assert fake_mux.streams[stream.stream_id]["status"] == "disabled"
    with pytest.raises(ConnectionRefusedError):
        fake_mux.broadcast(stream.stream_id)


def test_mux_end_answers_every_asset_of_the_stream_as_the_recording(fake_mux):
    provider = stream_provider("mux")
    stream = provider.stream_create(room_slug="evening-show")
    first = fake_mux.broadcast(stream.stream_id)
    second = fake_mux.broadcast(stream.stream_id)  # the encoder came back after the reconnect window
    assert provider.stream_end(stream_id=stream.stream_id) == f"mux://assets/{first},{second}"
    assert fake_mux.requested("GET", f"/video/v1/live-streams/{stream.stream_id}")


def test_mux_end_of_a_stream_that_never_broadcast_has_no_recording_at_mux(fake_mux):
    provider = stream_provider("mux")
    stream = provider.stream_create(room_slug="evening-show")
    assert provider.stream_end(stream_id=stream.stream_id) == ""  # nothing broadcast: nothing recorded


def test_mux_end_fails_while_mux_cannot_say_which_assets_recorded_it(fake_mux):
    provider = stream_provider("mux")
    stream = provider.stream_create(room_slug="evening-show")
    fake_mux.broadcast(stream.stream_id)
    fake_mux.fail_next = [None, None, 503]  # completing and disabling work, reading the stream does not
    with pytest.raises(StreamProviderError, match="HTTP 503"):
        provider.stream_end(stream_id=stream.stream_id)


def _without_playback_ids(fake_mux) -> None:
    """The fake answers new live streams as a Mux that gave them no playback id would."""
    dispatch = fake_mux._dispatch

    def answer(req):
        status, body = dispatch(req)
        if req.method == "POST" and req.path == "/video/v1/live-streams" and status == 201:
            body = {"data": {**body["data"], "playback_ids": []}}
        return status, body

    fake_mux._dispatch = answer


def test_mux_stream_without_a_playback_id_is_deleted_at_mux(fake_mux):
    _without_playback_ids(fake_mux)
    with pytest.raises(StreamProviderError, match="without a playback id"):
        stream_provider("mux").stream_create(room_slug="show")
    (stream_id,) = fake_mux.streams
    assert fake_mux.requested("DELETE", f"/video/v1/live-streams/{stream_id}")
    assert fake_mux.deleted_streams == {stream_id}


def test_mux_stream_without_a_playback_id_that_mux_will_not_delete_is_logged(fake_mux, caplog):
    _without_playback_ids(fake_mux)
    fake_mux.fail_next = [None, 500]  # created, then the delete refused
    with (
        caplog.at_level(logging.ERROR, logger="apps.live.providers.mux"),
        pytest.raises(StreamProviderError, match="without a playback id"),
    ):
        stream_provider("mux").stream_create(room_slug="show")
    (stream_id,) = fake_mux.streams
    assert fake_mux.deleted_streams == set()
    assert any(stream_id in r.getMessage() and "HTTP 500" in r.getMessage() for r in caplog.records)


def test_mux_unreachable_becomes_a_clear_error(settings):
    settings.MUX_TOKEN_ID, settings.MUX_TOKEN_SECRET = "token-id", "token-secret"
    settings.MUX_API_BASE = unreachable_url()
    with pytest.raises(StreamProviderError, match="did not end"):
        stream_provider("mux").stream_end(stream_id="abc")


def test_mux_failures_become_a_clear_error(fake_mux):
    provider = stream_provider("mux")
    fake_mux.fail_next = [500]
    with pytest.raises(StreamProviderError) as err:
        provider.stream_create(room_slug="show")
    assert err.value.status == 502 and "HTTP 500" in err.value.detail


def test_mux_without_credentials_is_refused(settings):
    settings.MUX_TOKEN_ID = None
    with pytest.raises(StreamProviderError):
        stream_provider("mux")


def _ivs():
    client = boto3.client("ivs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    return client, Stubber(client)


def test_ivs_creates_a_channel_and_stops_it():
    client, stub = _ivs()
    arn = "arn:aws:ivs:us-east-1:123456789012:channel/abcd"
    stub.add_response(
        "create_channel",
        {
            "channel": {
                "arn": arn,
                "ingestEndpoint": "abc.global-contribute.live-video.net",
                "playbackUrl": "https://x.live-video.net/p.m3u8",
            },
            "streamKey": {
                "arn": arn.replace("channel", "stream-key"),
                "value": "sk_us-east-1_secret",
                "channelArn": arn,
            },
        },
        {"name": "evening-show", "type": "STANDARD", "latencyMode": "LOW"},
    )
    stub.add_response("list_stream_keys", {"streamKeys": []}, {"channelArn": arn})
    stub.add_response("stop_stream", {}, {"channelArn": arn})
    with stub:
        provider = IvsProvider(client=client)
        stream = provider.stream_create(room_slug="evening-show")
        provider.stream_end(stream_id=stream.stream_id)
    stub.assert_no_pending_responses()
    assert stream.ingest_url == "rtmps://abc.global-contribute.live-video.net:443/app/"
    assert stream.stream_key == "sk_us-east-1_secret"
    assert stream.playback_url == "https://x.live-video.net/p.m3u8"


def test_ivs_stop_when_not_broadcasting_is_fine_other_errors_are_not():
    client, stub = _ivs()
    stub.add_response("list_stream_keys", {"streamKeys": []})
    stub.add_client_error("stop_stream", service_error_code="ChannelNotBroadcasting", http_status_code=404)
    stub.add_response("list_stream_keys", {"streamKeys": []})
    stub.add_client_error("stop_stream", service_error_code="AccessDeniedException", http_status_code=403)
    stub.add_client_error("create_channel", service_error_code="ServiceQuotaExceededException", http_status_code=402)
    with stub:
        provider = IvsProvider(client=client)
        provider.stream_end(stream_id="arn:aws:ivs:us-east-1:1:channel/a")
        with pytest.raises(StreamProviderError):
            provider.stream_end(stream_id="arn:aws:ivs:us-east-1:1:channel/a")
        with pytest.raises(StreamProviderError) as err:
            provider.stream_create(room_slug="show")
    assert "ServiceQuotaExceeded" in err.value.detail


def test_ivs_deletes_an_ended_show_s_channel_and_one_already_gone_counts_as_deleted():
    client, stub = _ivs()
    arn = "arn:aws:ivs:us-east-1:1:channel/a"
    stub.add_response("delete_channel", {}, {"arn": arn})
    stub.add_client_error("delete_channel", service_error_code="ResourceNotFoundException", http_status_code=404)
    with stub:
        provider = IvsProvider(client=client)
        provider.stream_delete(stream_id=arn)
        provider.stream_delete(stream_id=arn)
    stub.assert_no_pending_responses()


def test_ivs_a_channel_still_live_is_stopped_and_deleted_on_the_next_try():
    client, stub = _ivs()
    arn = "arn:aws:ivs:us-east-1:1:channel/a"
    key = "arn:aws:ivs:us-east-1:1:stream-key/k"
    stub.add_client_error("delete_channel", service_error_code="ConflictException", http_status_code=409)
    # The encoder left running loses its key before the stream is stopped: it cannot come back.
    stub.add_response("list_stream_keys", {"streamKeys": [{"arn": key, "channelArn": arn}]}, {"channelArn": arn})
    stub.add_response("delete_stream_key", {}, {"arn": key})
    stub.add_response("stop_stream", {}, {"channelArn": arn})
    stub.add_response("delete_channel", {}, {"arn": arn})
    with stub:
        provider = IvsProvider(client=client)
        with pytest.raises(StreamProviderError) as err:
            provider.stream_delete(stream_id=arn)
        provider.stream_delete(stream_id=arn)
    stub.assert_no_pending_responses()
    assert "still live" in err.value.message


@pytest.mark.parametrize(
    ("code", "status"), [("ThrottlingException", 429), ("AccessDeniedException", 403), ("InternalServerException", 500)]
)
def test_ivs_a_failed_delete_is_an_error_to_try_again(code, status):
    client, stub = _ivs()
    stub.add_client_error("delete_channel", service_error_code=code, http_status_code=status)
    with stub, pytest.raises(StreamProviderError) as err:
        IvsProvider(client=client).stream_delete(stream_id="arn:aws:ivs:us-east-1:1:channel/a")
    assert code in err.value.message


def test_ivs_end_revokes_every_stream_key_before_stopping_the_stream():
    client, stub = _ivs()
    arn = "arn:aws:ivs:us-east-1:1:channel/a"
    first, second, third = (f"arn:aws:ivs:us-east-1:1:stream-key/{name}" for name in ("k1", "k2", "k3"))
    stub.add_response(
        "list_stream_keys",
        {"streamKeys": [{"arn": first, "channelArn": arn}, {"arn": second, "channelArn": arn}], "nextToken": "more"},
        {"channelArn": arn},
    )
    stub.add_response(
        "list_stream_keys",
        {"streamKeys": [{"arn": third, "channelArn": arn}]},
        {"channelArn": arn, "nextToken": "more"},
    )
    stub.add_response("delete_stream_key", {}, {"arn": first})
    # Deleted meanwhile (by hand, or by an end that failed later on): gone is what we want.
    stub.add_client_error(
        "delete_stream_key",
        service_error_code="ResourceNotFoundException",
        http_status_code=404,
        expected_params={"arn": second},
    )
    stub.add_response("delete_stream_key", {}, {"arn": third})
    stub.add_response("stop_stream", {}, {"channelArn": arn})
    with stub:
        assert IvsProvider(client=client).stream_end(stream_id=arn) == ""  # no recording configuration
    stub.assert_no_pending_responses()  # the Stubber answers in order: every key went before the stop


def test_ivs_end_of_a_channel_already_gone_is_done():
    client, stub = _ivs()
    arn = "arn:aws:ivs:us-east-1:1:channel/a"
    stub.add_client_error("list_stream_keys", service_error_code="ResourceNotFoundException", http_status_code=404)
    stub.add_client_error("stop_stream", service_error_code="ResourceNotFoundException", http_status_code=404)
    with stub:
        IvsProvider(client=client).stream_end(stream_id=arn)
    stub.assert_no_pending_responses()


@pytest.mark.parametrize("failing", ["list_stream_keys", "delete_stream_key"])
def test_ivs_end_that_cannot_revoke_the_key_fails_and_does_not_stop_the_stream(failing):
    client, stub = _ivs()
    arn = "arn:aws:ivs:us-east-1:1:channel/a"
    key = "arn:aws:ivs:us-east-1:1:stream-key/k"
    if failing == "delete_stream_key":
        stub.add_response("list_stream_keys", {"streamKeys": [{"arn": key, "channelArn": arn}]}, {"channelArn": arn})
    stub.add_client_error(failing, service_error_code="AccessDeniedException", http_status_code=403)
    # No stop_stream is stubbed: the Stubber would refuse one. The show stays live and the
    # merchant tries again, rather than stopping a stream its encoder can restart.
    with stub, pytest.raises(StreamProviderError, match="AccessDeniedException") as err:
        IvsProvider(client=client).stream_end(stream_id=arn)
    stub.assert_no_pending_responses()
    assert err.value.status == 502 and "stream key" in err.value.detail


def test_ivs_client_has_timeouts_and_standard_retries(settings):
    settings.IVS_AWS_REGION = "eu-west-1"
    provider = stream_provider("ivs")
    assert isinstance(provider, IvsProvider)
    config = provider.client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (5, 30)
    # botocore's Config counts retries in max_attempts: three retries, four requests at most.
    assert config.retries == {"mode": "standard", "total_max_attempts": 4}
    assert provider.client.meta.region_name == "eu-west-1"


@pytest.mark.parametrize("region", ["not a region!", "us-east-1 ", "xx-nowhere-1", "", None])
def test_ivs_an_unknown_region_is_a_clear_provider_error(settings, region):
    settings.IVS_AWS_REGION = region
    with pytest.raises(StreamProviderError) as err:
        stream_provider("ivs")
    assert err.value.status == 502
    assert "IVS_AWS_REGION" in err.value.detail and "us-east-1" in err.value.detail  # names the valid ones


# --- Recording storage ----------------------------------------------------------------------

RECORDINGS = "s3://livemall-eu-west-recordings/shows/"


def _s3():
    client = boto3.client("s3", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    return S3RecordingStore(client=client, root=RECORDINGS), Stubber(client)


def test_s3_deletes_every_object_of_the_show_page_by_page():
    store, stub = _s3()
    first = [{"Key": f"shows/friday/media/{n}.ts"} for n in range(1000)]
    stub.add_response(
        "list_objects_v2",
        {"Contents": first, "IsTruncated": True, "NextContinuationToken": "more"},
        {"Bucket": "livemall-eu-west-recordings", "Prefix": "shows/friday/"},
    )
    stub.add_response(
        "delete_objects",
        {"Deleted": first},
        {"Bucket": "livemall-eu-west-recordings", "Delete": {"Objects": first, "Quiet": True}},
    )
    last = [{"Key": "shows/friday/media/master.m3u8"}]
    stub.add_response(
        "list_objects_v2",
        {"Contents": last, "IsTruncated": False},
        {"Bucket": "livemall-eu-west-recordings", "Prefix": "shows/friday/", "ContinuationToken": "more"},
    )
    stub.add_response(
        "delete_objects",
        {"Deleted": last},
        {"Bucket": "livemall-eu-west-recordings", "Delete": {"Objects": last, "Quiet": True}},
    )
    with stub:
        assert store.delete(RECORDINGS + "friday/") == 1001
    stub.assert_no_pending_responses()


def test_s3_an_empty_prefix_is_already_deleted():
    store, stub = _s3()
    stub.add_response("list_objects_v2", {"IsTruncated": False}, {"Bucket": ANY, "Prefix": "shows/gone/"})
    with stub:
        assert store.delete(RECORDINGS + "gone/") == 0


def test_s3_refusals_keep_the_reference():
    store, stub = _s3()
    stub.add_response("list_objects_v2", {"Contents": [{"Key": "shows/x/a.ts"}]}, {"Bucket": ANY, "Prefix": ANY})
    stub.add_response(
        "delete_objects", {"Errors": [{"Key": "shows/x/a.ts", "Code": "AccessDenied"}]}, {"Bucket": ANY, "Delete": ANY}
    )
    with stub, pytest.raises(RecordingStoreError, match="AccessDenied"):
        store.delete(RECORDINGS + "x/")
    store, stub = _s3()
    stub.add_client_error("list_objects_v2", service_error_code="NoSuchBucket", http_status_code=404)
    with stub, pytest.raises(RecordingStoreError, match="NoSuchBucket"):
        store.delete(RECORDINGS + "x/")


@pytest.mark.parametrize(
    "url",
    [
        RECORDINGS,  # the whole store
        "s3://livemall-eu-west-recordings/other/x/",
        "s3://someone-elses-bucket/shows/x/",
        RECORDINGS + "../x/",
    ],
)
def test_nothing_outside_the_regions_store_is_ever_deleted(url):
    store, stub = _s3()
    with stub, pytest.raises(RecordingStoreError):
        store.delete(url)
    stub.assert_no_pending_responses()  # not one call reached S3


def test_the_file_store_deletes_one_shows_folder(tmp_path):
    root = (tmp_path / "rec").as_uri() + "/"
    (tmp_path / "rec" / "a" / "hls").mkdir(parents=True)
    (tmp_path / "rec" / "a" / "hls" / "0.ts").write_bytes(b"x")
    (tmp_path / "rec" / "b").mkdir()
    store = FileRecordingStore(root=root)
    assert store.delete(root + "a/") == 1
    assert not (tmp_path / "rec" / "a").exists() and (tmp_path / "rec" / "b").exists()
    assert store.delete(root + "a/") == 0
    with pytest.raises(RecordingStoreError):
        store.delete(root)
    with pytest.raises(RecordingStoreError):
        store.delete(root + "b/%2e%2e/%2e%2e/")  # ".." once decoded: outside the store
    assert (tmp_path / "rec" / "b").exists()


def test_an_unknown_storage_scheme_is_refused(settings):
    settings.LIVE_RECORDING_STORAGE = "ftp://old-server/recordings/"
    with pytest.raises(RecordingStoreError, match="valid schemes"):
        recording_store()


# --- Recordings kept at Mux -----------------------------------------------------------------


def _assets(fake_mux, count):
    stream = stream_provider("mux").stream_create(room_slug="show")
    return [fake_mux.broadcast(stream.stream_id) for _ in range(count)]


def test_the_store_is_picked_by_the_recordings_scheme(fake_mux, settings, tmp_path):
    settings.LIVE_RECORDING_STORAGE = (tmp_path / "rec").as_uri() + "/"
    assert isinstance(recording_store("mux://assets/abc"), MuxRecordingStore)
    assert isinstance(recording_store(settings.LIVE_RECORDING_STORAGE + "show/"), FileRecordingStore)
    assert isinstance(recording_store(), FileRecordingStore)
    with pytest.raises(RecordingStoreError, match="valid schemes"):
        recording_store("ftp://old-server/recordings/show/")


def test_mux_store_deletes_every_asset_of_the_recording(fake_mux):
    first, second = _assets(fake_mux, 2)
    store = recording_store(f"mux://assets/{first},{second}")
    assert store.delete(f"mux://assets/{first},{second}") == 2
    assert fake_mux.requested("DELETE", f"/video/v1/assets/{first}")
    assert fake_mux.requested("DELETE", f"/video/v1/assets/{second}")
    assert first not in fake_mux.assets and second not in fake_mux.assets
    assert fake_mux.requests[-1].headers["authorization"].startswith("Basic ")


def test_mux_store_an_asset_already_gone_counts_as_deleted(fake_mux):
    first, second = _assets(fake_mux, 2)
    del fake_mux.assets[first]  # deleted by hand in the Mux dashboard, or by a run that died
    assert MuxRecordingStore.from_settings().delete(f"mux://assets/{first},{second}") == 1
    assert second not in fake_mux.assets


@pytest.mark.parametrize("status", [500, 503, 401, 429])
def test_mux_store_refusals_keep_the_reference(fake_mux, status):
    (asset,) = _assets(fake_mux, 1)
    fake_mux.fail_next = [status]
    with pytest.raises(RecordingStoreError, match=f"HTTP {status}"):
        MuxRecordingStore.from_settings().delete(f"mux://assets/{asset}")
    assert asset in fake_mux.assets


def test_mux_store_unreachable_keeps_the_reference(fake_mux, settings):
    settings.MUX_API_BASE = unreachable_url()
    with pytest.raises(RecordingStoreError, match="Mux did not delete"):
        MuxRecordingStore.from_settings().delete("mux://assets/abc")


def test_mux_store_without_credentials_is_a_store_error(settings):
    settings.MUX_TOKEN_ID = None
    with pytest.raises(RecordingStoreError, match="not configured"):
        recording_store("mux://assets/abc")


@pytest.mark.parametrize(
    "url",
    [
        "mux://assets/",
        "mux://assets/a,,b",
        "mux://assets/a/../../live-streams/x",
        "mux://assets/a%2Fb",
        "mux://live-streams/abc",
    ],
)
def test_a_malformed_mux_reference_deletes_nothing(fake_mux, url):
    with pytest.raises(RecordingStoreError):
        MuxRecordingStore.from_settings().delete(url)
    assert fake_mux.requests == []  # not one call reached Mux


def test_mux_deletes_an_ended_live_stream_404_is_already_deleted(fake_mux):
    provider = stream_provider("mux")
    stream = provider.stream_create(room_slug="show")
    provider.stream_end(stream_id=stream.stream_id)
    provider.stream_delete(stream_id=stream.stream_id)
    assert fake_mux.requested("DELETE", f"/video/v1/live-streams/{stream.stream_id}")
    assert stream.stream_id in fake_mux.deleted_streams
    provider.stream_delete(stream_id=stream.stream_id)  # again: Mux answers 404, which is fine


@pytest.mark.parametrize("status", [500, 503, 401])
def test_mux_refusing_to_delete_a_live_stream_is_a_clear_error(fake_mux, status):
    provider = stream_provider("mux")
    stream = provider.stream_create(room_slug="show")
    fake_mux.fail_next = [status]
    with pytest.raises(StreamProviderError, match=f"HTTP {status}"):
        provider.stream_delete(stream_id=stream.stream_id)
    assert stream.stream_id not in fake_mux.deleted_streams


def test_mux_assets_survive_their_live_streams_deletion(fake_mux):
    provider = stream_provider("mux")
    stream = provider.stream_create(room_slug="show")
    asset = fake_mux.broadcast(stream.stream_id)
    recording = provider.stream_end(stream_id=stream.stream_id)
    provider.stream_delete(stream_id=stream.stream_id)
    fake_mux.masters[asset] = Master(b"mp4")
    assert MuxRecordingStore.from_settings().master_url(asset) is not None
    assert MuxRecordingStore.from_settings().delete(recording) == 1


# --- Masters: Mux's MP4 of a recording, and downloading it ----------------------------------


def _recorded(fake_mux) -> str:
    """The asset of a show that has ended: Mux has finished it."""
    provider = stream_provider("mux")
    stream = provider.stream_create(room_slug="show")
    asset = fake_mux.broadcast(stream.stream_id)
    provider.stream_end(stream_id=stream.stream_id)
    return asset


def test_mux_master_is_asked_for_once_and_answered_when_ready(fake_mux):
    asset = _recorded(fake_mux)
    store = MuxRecordingStore.from_settings()
    assert store.master_url(asset) is None  # asked for: Mux starts preparing it
    assert store.master_url(asset) is None
    assert [r.json for r in fake_mux.requested("PUT", f"/video/v1/assets/{asset}/master-access")] == [
        {"master_access": "temporary"}
    ]
    fake_mux.masters[asset] = Master(b"mp4")
    assert store.master_url(asset) == fake_mux.master_url(asset)
    fake_mux.assets[asset]["master_access"] = "none"  # Mux dropped the master after 24 hours
    assert store.master_url(asset) == fake_mux.master_url(asset)  # asked for again
    assert len(fake_mux.requested("PUT", f"/video/v1/assets/{asset}/master-access")) == 2


@pytest.mark.parametrize(
    ("change", "permanent"),
    [
        ({"status": "errored"}, True),
        ({"status": "a-status-this-sdk-does-not-know"}, False),
    ],
)
def test_mux_master_of_an_asset_in_a_bad_state(fake_mux, change, permanent):
    (asset,) = _assets(fake_mux, 1)
    fake_mux.assets[asset].update(change)
    with pytest.raises(RecordingSourceError) as err:
        MuxRecordingStore.from_settings().master_url(asset)
    assert err.value.permanent is permanent


@pytest.mark.parametrize(("status", "permanent"), [(404, True), (500, False), (503, False), (401, False)])
def test_mux_master_refusals(fake_mux, status, permanent):
    (asset,) = _assets(fake_mux, 1)
    fake_mux.fail_next = [status]
    with pytest.raises(RecordingSourceError, match=f"HTTP {status}") as err:
        MuxRecordingStore.from_settings().master_url(asset)
    assert err.value.permanent is permanent


@pytest.mark.parametrize("asset_id", ["", "a/../b", "a,b", "x" * 200])
def test_mux_master_of_a_malformed_asset_id_asks_nothing(fake_mux, asset_id):
    with pytest.raises(RecordingSourceError) as err:
        MuxRecordingStore.from_settings().master_url(asset_id)
    assert err.value.permanent and fake_mux.requests == []


def _download(url: str, *, max_bytes: int = 1 << 20, timeout: float = 5) -> tuple[bytes, int]:
    with master_download(url, max_bytes=max_bytes, timeout=timeout) as body:
        data = body.read()
        return data, body.received


def test_a_master_download_reads_the_whole_file(fake_mux):
    (asset,) = _assets(fake_mux, 1)
    fake_mux.masters[asset] = Master(b"\x00" * 70_000 + b"end")
    assert _download(fake_mux.master_url(asset)) == (b"\x00" * 70_000 + b"end", 70_003)


def test_a_master_download_follows_a_redirect_to_the_file(fake_mux):
    (asset,) = _assets(fake_mux, 1)
    fake_mux.masters[asset] = Master(b"mp4")
    fake_mux.masters["elsewhere"] = Master(b"", status=302, headers={"Location": fake_mux.master_url(asset)})
    fake_mux.assets["elsewhere"] = {"id": "elsewhere"}
    assert _download(fake_mux.master_url("elsewhere"))[0] == b"mp4"


@pytest.mark.parametrize(
    ("master", "match", "permanent"),
    [
        (Master(b"x" * 1000, cut_after=100), "broke off", False),
        (Master(b"x" * 1000, status=403), "HTTP 403", False),
        (Master(b"x" * 1000, headers={"Content-Length": None}), "how long", False),
        (Master(b"x" * 1000, headers={"Content-Length": "-5"}), "Content-Length", False),
        (Master(b"x" * 1000, headers={"Content-Encoding": "gzip"}), "encoded", False),
        (Master(b"x" * (2 << 20)), "LIVE_MUX_MASTER_MAX_BYTES", True),
    ],
    ids=["cut", "403", "no-length", "bad-length", "encoded", "too-large"],
)
def test_a_master_download_we_cannot_trust_is_refused(fake_mux, master, match, permanent):
    (asset,) = _assets(fake_mux, 1)
    fake_mux.masters[asset] = master
    with pytest.raises(RecordingSourceError, match=match) as err:
        _download(fake_mux.master_url(asset))
    assert err.value.permanent is permanent


def test_a_master_download_from_nowhere_is_a_source_error():
    with pytest.raises(RecordingSourceError, match="could not download"):
        _download(unreachable_url() + "/masters/a.mp4")


@pytest.mark.parametrize("url", ["ftp://x/a.mp4", "file:///etc/passwd", "a.mp4", "http://"])
def test_a_master_url_that_is_not_http_is_never_opened(url):
    with pytest.raises(RecordingSourceError, match="not http") as err:
        _download(url)
    assert err.value.permanent


# --- Writing into the region's store -----------------------------------------------------------


class _Body(io.RawIOBase):
    """A source that yields ``chunks`` and then, if ``error``, fails as a broken download does."""

    def __init__(self, *chunks: bytes, error: bool = False) -> None:
        self.chunks = list(chunks)
        self.error = error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer):
        if not self.chunks:
            if self.error:
                raise RecordingSourceError("the download broke off")
            return 0
        data = self.chunks.pop(0)
        buffer[: len(data)] = data
        return len(data)


def test_the_file_store_writes_a_file_whole_or_not_at_all(tmp_path):
    root = (tmp_path / "rec").as_uri() + "/"
    store = FileRecordingStore(root=root)
    assert not store.exists(root + "show/a.mp4")
    store.save(root + "show/a.mp4", _Body(b"abc", b"def"))
    assert (tmp_path / "rec" / "show" / "a.mp4").read_bytes() == b"abcdef" and store.exists(root + "show/a.mp4")

    with pytest.raises(RecordingSourceError):
        store.save(root + "show/b.mp4", _Body(b"abc", error=True))
    assert sorted(p.name for p in (tmp_path / "rec" / "show").iterdir()) == ["a.mp4"]  # no b.mp4, no part file

    with pytest.raises(RecordingSourceError):
        store.save(root + "show/a.mp4", _Body(b"xyz", error=True))  # a broken copy never replaces a whole one
    assert (tmp_path / "rec" / "show" / "a.mp4").read_bytes() == b"abcdef"


@pytest.mark.parametrize(
    "url",
    ["file:///etc/cron.d/x", "{root}", "{root}show/", "{root}../x.mp4", "{root}show/../../x.mp4", "{root}%2e%2e/x.mp4"],
)
def test_the_file_store_writes_only_files_inside_the_region_store(tmp_path, url):
    root = (tmp_path / "rec").as_uri() + "/"
    store = FileRecordingStore(root=root)
    with pytest.raises(RecordingStoreError):
        store.save(url.format(root=root), _Body(b"x"))
    assert not (tmp_path / "x.mp4").exists()


def test_s3_saves_a_file_and_says_whether_one_is_there():
    store, stub = _s3()
    key = {"Bucket": "livemall-eu-west-recordings", "Key": "shows/friday/a.mp4"}
    stub.add_client_error("head_object", service_error_code="404", http_status_code=404, expected_params=key)
    stub.add_response("put_object", {"ETag": '"e"'}, {**key, "Body": ANY, "ChecksumAlgorithm": ANY})
    stub.add_response("head_object", {"ContentLength": 6}, key)
    with stub:
        assert not store.exists(RECORDINGS + "friday/a.mp4")
        store.save(RECORDINGS + "friday/a.mp4", _Body(b"abc", b"def"))
        assert store.exists(RECORDINGS + "friday/a.mp4")
    stub.assert_no_pending_responses()


def test_s3_refusals_while_saving_are_store_errors():
    store, stub = _s3()
    stub.add_client_error("head_object", service_error_code="403", http_status_code=403)
    stub.add_client_error("put_object", service_error_code="AccessDenied", http_status_code=403)
    with stub:
        with pytest.raises(RecordingStoreError, match="403"):
            store.exists(RECORDINGS + "friday/a.mp4")
        with pytest.raises(RecordingStoreError, match="AccessDenied"):
            store.save(RECORDINGS + "friday/a.mp4", _Body(b"abc"))


def test_s3_a_broken_download_stores_nothing():
    store, stub = _s3()
    with stub, pytest.raises(RecordingSourceError):
        store.save(RECORDINGS + "friday/a.mp4", _Body(b"abc", error=True))
    stub.assert_no_pending_responses()  # not one call reached S3


@pytest.mark.parametrize("url", [RECORDINGS, RECORDINGS + "friday/", "s3://someone-elses-bucket/shows/a.mp4"])
def test_s3_writes_only_files_inside_the_region_store(url):
    store, stub = _s3()
    with stub, pytest.raises(RecordingStoreError):
        store.save(url, _Body(b"x"))
    stub.assert_no_pending_responses()
