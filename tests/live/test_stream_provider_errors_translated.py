"""A merchant whose video service fails to start or end a show is told so in their language, and what to do.

The provider's own reason (English: "Mux did not create the live stream: HTTP 500") is for
support: it goes to the log with the provider and the room, never to the merchant's console.
German here is the merchant's language preference, which the console speaks first; no
catalogue may be edited in a test, so German marks our msgids ``[de] …`` (``mark_in_german``):
a message that comes out marked went through gettext in the merchant's language.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from apps.live.models import LiveRoom
from apps.live.providers import StreamProviderError, mux
from apps.live.providers.ivs import IvsProvider
from tests.live.console_factories import schedule_room
from tests.live.mux_fake import unreachable_url
from tests.local_server import LocalServer, QuietHandler

NOT_SET_UP = "The video service is not set up for this region; ask the operators."
NO_ANSWER = "The video service did not answer; try again in a minute."
REFUSED = "The video service refused to start the stream; try again, or ask the operators if it keeps happening."
NOT_ENDED = "The video service could not end the show; try again, or ask the operators if it keeps happening."


@pytest.fixture
def german(mark_in_german):
    mark_in_german(NOT_SET_UP, NO_ANSWER, REFUSED, NOT_ENDED)


@pytest.fixture
def console(client, staff_a, merchant, region, live_settings, use_region, german):
    """A scheduled show and its merchant's console, signed in as staff who chose German (eu-west offers it)."""
    room = schedule_room(merchant=merchant, region=region, slug="abend-show", playback_url="")
    use_region("eu-west")
    staff_a.language = "de"
    staff_a.save(update_fields=["language"])
    client.force_login(staff_a)
    return client, room


def _start(client, room: LiveRoom, provider: str, **headers):
    url = reverse("admin:live_liveroom_console_action", args=[room.pk, "start"])
    return client.post(url, {"provider": provider}, **headers)


def _in_german(msgid: str) -> str:
    with translation.override("de"):
        told = gettext(msgid)
    assert told == f"[de] {msgid}"  # the mark: this is the German catalogue's answer
    return told


def _logged(caplog, room: LiveRoom) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "apps.live.services" and r.levelno == logging.WARNING and room.slug in r.getMessage()
    ]


def _fail_with(settings, fake_mux, failure: str) -> None:
    if failure == "not_configured":
        settings.MUX_TOKEN_SECRET = ""
    elif failure == "unreachable":
        settings.MUX_API_BASE = unreachable_url()
    else:
        fake_mux.fail_next = [{"answers_500": 500, "refuses_401": 401, "refuses_422": 422}[failure]]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("failure", "msgid", "detail"),
    [
        ("answers_500", NO_ANSWER, "Mux did not create the live stream: HTTP 500"),
        ("unreachable", NO_ANSWER, "Mux did not create the live stream: "),
        ("refuses_401", REFUSED, "Mux did not create the live stream: HTTP 401"),
        ("refuses_422", REFUSED, "Mux did not create the live stream: HTTP 422"),
        ("not_configured", NOT_SET_UP, "Mux is not configured: set MUX_TOKEN_ID and MUX_TOKEN_SECRET."),
    ],
)
def test_a_failed_mux_start_is_told_in_german_and_its_reason_logged(
    console, settings, fake_mux, caplog, failure, msgid, detail
):
    client, room = console
    _fail_with(settings, fake_mux, failure)
    with caplog.at_level(logging.WARNING, logger="apps.live.services"):
        response = _start(client, room, "mux", HTTP_ACCEPT="application/json", HTTP_ACCEPT_LANGUAGE="de")

    assert response.status_code == 502
    error = response.json()["error"]
    assert error == {"code": "stream_provider_error", "message": _in_german(msgid), "fields": {}}
    assert "Mux" not in error["message"] and "HTTP" not in error["message"]
    (logged,) = _logged(caplog, room)
    assert detail in logged and "mux" in logged
    room.refresh_from_db()
    assert room.status == LiveRoom.Status.SCHEDULED and room.stream_id == ""


@pytest.mark.django_db
def test_the_console_page_says_only_the_german_message(console, fake_mux, caplog):
    client, room = console
    fake_mux.fail_next = [503]
    with caplog.at_level(logging.WARNING, logger="apps.live.services"):
        response = _start(client, room, "mux")

    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [_in_german(NO_ANSWER)]
    (logged,) = _logged(caplog, room)
    assert "Mux did not create the live stream: HTTP 503" in logged


@pytest.mark.django_db
def test_ivs_in_a_region_it_does_not_run_in_is_told_as_not_set_up(console, settings, caplog):
    client, room = console
    settings.IVS_AWS_REGION = "eu-nowhere-9"
    with caplog.at_level(logging.WARNING, logger="apps.live.services"):
        response = _start(client, room, "ivs", HTTP_ACCEPT="application/json")

    assert response.status_code == 502
    assert response.json()["error"]["message"] == _in_german(NOT_SET_UP)
    (logged,) = _logged(caplog, room)
    assert "ivs" in logged and "IVS_AWS_REGION='eu-nowhere-9'" in logged


@pytest.mark.parametrize(
    ("code", "status", "msgid"),
    [
        ("ServiceQuotaExceededException", 402, REFUSED),
        ("AccessDeniedException", 403, REFUSED),
        ("InternalServerException", 500, NO_ANSWER),
    ],
)
def test_ivs_failing_to_create_a_channel_is_told_by_kind(german, code, status, msgid):
    client = boto3.client("ivs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    stub = Stubber(client)
    stub.add_client_error("create_channel", service_error_code=code, http_status_code=status)
    with stub, translation.override("de"), pytest.raises(StreamProviderError) as err:
        IvsProvider(client=client).stream_create(room_slug="abend-show")

    assert err.value.message == _in_german(msgid)
    assert code not in err.value.message
    # What logs print (str) is the provider's reason, as before.
    assert str(err.value) == err.value.detail == f"AWS IVS did not create the channel: {code}"


# --- Ending the show --------------------------------------------------------------------------
# Nothing about the room changes when the provider fails: the show stays live, its stream and
# key stay the room's, and the merchant ends it again.


def _end(client, room: LiveRoom, **headers):
    url = reverse("admin:live_liveroom_console_action", args=[room.pk, "end"])
    return client.post(url, **headers)


def _live(client, room: LiveRoom, provider: str) -> LiveRoom:
    """The show goes live through the console, as the merchant starts it."""
    assert _start(client, room, provider, HTTP_ACCEPT="application/json").json()["ok"]
    room.refresh_from_db()
    assert room.status == LiveRoom.Status.LIVE and room.stream_id and room.stream_key
    return room


def _still_live(room: LiveRoom) -> None:
    stream = (room.stream_provider, room.stream_id, room.stream_key)
    room.refresh_from_db()
    assert room.status == LiveRoom.Status.LIVE
    assert room.ended_at is None and room.recording_url == "" and room.recording_retain_until is None
    assert (room.stream_provider, room.stream_id, room.stream_key) == stream


@pytest.fixture
def silent_url() -> Iterator[str]:
    """An address that takes the connection and never answers: a Mux that hangs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("failure", "msgid", "detail"),
    [
        ("times_out", NO_ANSWER, "Mux did not end the live stream: "),
        ("unreachable", NO_ANSWER, "Mux did not end the live stream: "),
        ("answers_500", NO_ANSWER, "Mux did not end the live stream: HTTP 500"),
        ("refuses_401", NOT_ENDED, "Mux did not end the live stream: HTTP 401"),
        ("refuses_422", NOT_ENDED, "Mux did not end the live stream: HTTP 422"),
        ("assets_unread", NOT_ENDED, "Mux did not say which assets recorded the live stream: HTTP 403"),
        ("odd_asset_id", NOT_ENDED, "Mux answered an asset id we cannot keep: '../x'."),
        ("not_configured", NOT_SET_UP, "Mux is not configured: set MUX_TOKEN_ID and MUX_TOKEN_SECRET."),
    ],
)
def test_a_failed_mux_end_is_told_in_the_merchants_words_and_its_reason_logged(
    console, settings, fake_mux, monkeypatch, silent_url, caplog, failure, msgid, detail
):
    client, room = console
    room = _live(client, room, "mux")
    if failure == "times_out":
        # Mux's own timeouts, shortened so that the test waits a second, not half a minute.
        monkeypatch.setattr(mux, "TIMEOUT", (2, 0.3))
        settings.MUX_API_BASE = silent_url
    elif failure == "odd_asset_id":
        fake_mux.streams[room.stream_id]["recent_asset_ids"] = ["../x"]
    elif failure == "assets_unread":
        fake_mux.fail_next = [None, None, 403]  # completed and disabled; reading the stream back is refused
    else:
        _fail_with(settings, fake_mux, failure)
    with caplog.at_level(logging.WARNING, logger="apps.live.services"):
        response = _end(client, room, HTTP_ACCEPT="application/json", HTTP_ACCEPT_LANGUAGE="de")

    assert response.status_code == 502
    error = response.json()["error"]
    assert error == {"code": "stream_provider_error", "message": _in_german(msgid), "fields": {}}
    assert "Mux" not in error["message"] and "HTTP" not in error["message"]
    (logged,) = _logged(caplog, room)
    assert logged.startswith(f"Could not end live room {room.slug} with the mux stream provider: ") and detail in logged
    _still_live(room)


@pytest.mark.django_db
def test_the_console_page_says_only_the_german_message_when_ending_fails(console, fake_mux, caplog):
    client, room = console
    room = _live(client, room, "mux")
    fake_mux.fail_next = [503]
    with caplog.at_level(logging.WARNING, logger="apps.live.services"):
        response = _end(client, room)

    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [_in_german(NO_ANSWER)]
    (logged,) = _logged(caplog, room)
    assert "Mux did not end the live stream: HTTP 503" in logged
    _still_live(room)

    ended = _end(client, room, HTTP_ACCEPT="application/json")  # the merchant tries again; Mux answers
    assert ended.json()["ok"]
    room.refresh_from_db()
    assert room.status == LiveRoom.Status.ENDED and room.stream_key == ""


CHANNEL = "arn:aws:ivs:us-east-1:123456789012:channel/AbCdef1G2hij"
KEY = "arn:aws:ivs:us-east-1:123456789012:stream-key/k1"


class FakeIvs(LocalServer):
    """A local stand-in for the IVS API (REST-JSON) that the real boto3 client reaches through
    ``AWS_ENDPOINT_URL_IVS``: one channel with one stream key. ``fail[operation] = (status, code)``
    answers that operation with that AWS error."""

    def __init__(self) -> None:
        self.fail: dict[str, tuple[int, str]] = {}
        self.calls: list[str] = []
        fake = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                operation = self.path.strip("/")
                fake.calls.append(operation)
                status, headers, body = fake._answer(operation)
                data = b"" if status == 204 else json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        super().__init__(Handler)

    def _answer(self, operation: str) -> tuple[int, dict[str, str], dict[str, Any]]:
        if operation in self.fail:
            status, code = self.fail[operation]
            return status, {"x-amzn-ErrorType": code}, {"message": f"fake {code}"}
        if operation == "CreateChannel":
            channel = {
                "arn": CHANNEL,
                "ingestEndpoint": "abc.global-contribute.live-video.net",
                "playbackUrl": "https://abc.us-east-1.playback.live-video.net/p.m3u8",
            }
            return 200, {}, {"channel": channel, "streamKey": {"arn": KEY, "value": "sk_secret", "channelArn": CHANNEL}}
        if operation == "ListStreamKeys":
            return 200, {}, {"streamKeys": [{"arn": KEY, "channelArn": CHANNEL}]}
        if operation == "DeleteStreamKey":
            return 204, {}, {}
        if operation == "StopStream":
            return 200, {}, {}
        return 404, {"x-amzn-ErrorType": "ResourceNotFoundException"}, {"message": operation}


# Where boto3 would otherwise look for credentials besides the two set below.
_OTHER_CREDENTIALS = (
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


@pytest.fixture
def fake_ivs(settings, monkeypatch, tmp_path) -> Iterator[FakeIvs]:
    """The real boto3 IVS client of the ``ivs`` provider, pointed at :class:`FakeIvs`, with test keys."""
    fake = FakeIvs()
    monkeypatch.setenv("AWS_ENDPOINT_URL_IVS", fake.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    for name in _OTHER_CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings.IVS_AWS_REGION = "us-east-1"
    settings.IVS_CHANNEL_TYPE = "STANDARD"
    settings.IVS_RECORDING_CONFIGURATION_ARN = None
    yield fake
    fake.stop()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("failure", "msgid", "detail"),
    [
        (("StopStream", 403, "AccessDeniedException"), NOT_ENDED, "AWS IVS did not stop the stream: AccessDenied"),
        (("DeleteStreamKey", 403, "AccessDeniedException"), NOT_ENDED, "did not revoke the stream key: AccessDenied"),
        (("ListStreamKeys", 500, "InternalServerException"), NO_ANSWER, "list the channel's stream keys: InternalServ"),
        ("no_credentials", NOT_SET_UP, "AWS IVS did not list the channel's stream keys: NoCredentialsError"),
    ],
)
def test_a_failed_ivs_end_is_told_in_the_merchants_words_and_its_reason_logged(
    console, fake_ivs, monkeypatch, caplog, failure, msgid, detail
):
    client, room = console
    room = _live(client, room, "ivs")
    if failure == "no_credentials":
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    else:
        operation, status, code = failure
        fake_ivs.fail[operation] = (status, code)
    with caplog.at_level(logging.WARNING, logger="apps.live.services"):
        response = _end(client, room, HTTP_ACCEPT="application/json", HTTP_ACCEPT_LANGUAGE="de")

    assert response.status_code == 502
    error = response.json()["error"]
    assert error == {"code": "stream_provider_error", "message": _in_german(msgid), "fields": {}}
    assert "IVS" not in error["message"] and "Exception" not in error["message"]
    (logged,) = _logged(caplog, room)
    assert logged.startswith(f"Could not end live room {room.slug} with the ivs stream provider: ") and detail in logged
    _still_live(room)


@pytest.mark.parametrize(
    ("failing", "code", "status", "msgid"),
    [
        ("list_stream_keys", "AccessDeniedException", 403, NOT_ENDED),
        ("delete_stream_key", "ThrottlingException", 429, NOT_ENDED),
        ("stop_stream", "ValidationException", 400, NOT_ENDED),
        ("stop_stream", "InternalServerException", 500, NO_ANSWER),
    ],
)
def test_ivs_failing_to_end_a_channel_is_told_by_kind(german, failing, code, status, msgid):
    client = boto3.client("ivs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    stub = Stubber(client)
    if failing != "list_stream_keys":
        stub.add_response("list_stream_keys", {"streamKeys": [{"arn": KEY, "channelArn": CHANNEL}]})
    if failing == "stop_stream":
        stub.add_response("delete_stream_key", {}, {"arn": KEY})
    stub.add_client_error(failing, service_error_code=code, http_status_code=status)
    with stub, translation.override("de"), pytest.raises(StreamProviderError) as err:
        IvsProvider(client=client).stream_end(stream_id=CHANNEL)

    assert err.value.message == _in_german(msgid)
    assert code not in err.value.message and err.value.status == 502
    assert code in str(err.value) and str(err.value) == err.value.detail


def test_an_ivs_stream_that_is_no_channel_is_told_as_not_set_up(german):
    # The room's stream id is no IVS channel: a retry cannot help, the operators can.
    client = boto3.client("ivs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    provider = IvsProvider(client=client, recording_configuration_arn="arn:aws:ivs:rc", recording_bucket="b")
    with Stubber(client), translation.override("de"), pytest.raises(StreamProviderError) as err:
        provider.stream_end(stream_id="not-a-channel")

    assert err.value.message == _in_german(NOT_SET_UP)
    assert err.value.detail == "AWS IVS: 'not-a-channel' is not an IVS channel ARN"
