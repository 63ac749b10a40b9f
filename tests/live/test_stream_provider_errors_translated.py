"""A merchant whose video service fails to start a show is told so in their language, and what to do.

The provider's own reason (English: "Mux did not create the live stream: HTTP 500") is for
support: it goes to the log with the provider and the room, never to the merchant's console.
German here is the merchant's language preference, which the console speaks first; no
catalogue may be edited in a test, so German marks our msgids ``[de] …`` (``mark_in_german``):
a message that comes out marked went through gettext in the merchant's language.
"""

from __future__ import annotations

import logging

import boto3
import pytest
from botocore.stub import Stubber
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from apps.live.models import LiveRoom
from apps.live.providers import StreamProviderError
from apps.live.providers.ivs import IvsProvider
from tests.live.console_factories import schedule_room
from tests.live.mux_fake import unreachable_url

NOT_SET_UP = "The video service is not set up for this region; ask the operators."
NO_ANSWER = "The video service did not answer; try again in a minute."
REFUSED = "The video service refused to start the stream; try again, or ask the operators if it keeps happening."


@pytest.fixture
def german(mark_in_german):
    mark_in_german(NOT_SET_UP, NO_ANSWER, REFUSED)


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
