"""Amazon Interactive Video Service (IVS) channels through ``boto3``.

A show's channel holds its stream key, the merchant's encoder's password. The keys are
deleted when the show ends (:meth:`IvsProvider.stream_end`), before the stream is stopped:
IVS lets an encoder reconnect with a valid key, so an OBS left running would otherwise go
on broadcasting (and recording) into a show that is over.

A channel created with a recording configuration (``IVS_RECORDING_CONFIGURATION_ARN``) is
recorded by IVS itself, at the root of that configuration's bucket, under
``ivs/v1/<aws-account-id>/<channel-id>/<yyyy>/<m>/<d>/<h>/<m>/<recording-id>/`` (one
recording-id folder per time the encoder connected); the bucket is the region's store
(``LIVE_RECORDING_STORAGE``, which must then be that bucket's root). Ending the show
answers the channel's folder as its recording (:meth:`IvsProvider.stream_end`), so that
retention deletes what IVS wrote, and only that.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError
from django.conf import settings

from apps.live.providers import LiveStream, StreamProviderError

# Without these botocore waits a minute to connect and another per read, retried by the
# legacy policy; a hung IVS must not hold a merchant's request or a beat worker that long.
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 3})

# arn:aws:ivs:<region>:<account>:channel/<id> (also in the aws-cn and aws-us-gov partitions).
CHANNEL_ARN = re.compile(r"arn:aws[a-z-]*:ivs:[a-z0-9-]+:(?P<account>\d{12}):channel/(?P<channel>[A-Za-z0-9]+)")


def recording_folder(*, channel_arn: str, bucket: str) -> str | None:
    """Where a recording configuration writes the channel's recordings in ``bucket``; None for no channel ARN."""
    channel = CHANNEL_ARN.fullmatch(channel_arn)
    if channel is None or not bucket:
        return None
    return f"s3://{bucket}/ivs/v1/{channel['account']}/{channel['channel']}/"


def ivs_client(region: str | None) -> Any:
    """A boto3 IVS client for ``region``; a region IVS is not known to run in is refused up front.

    Otherwise a typo in ``IVS_AWS_REGION`` would only show as a failed connection to
    ``ivs.<typo>.amazonaws.com`` on the first show of the day.
    """
    session = boto3.session.Session()
    known = sorted(
        {
            name
            for partition in session.get_available_partitions()
            for name in session.get_available_regions("ivs", partition)
        }
    )
    if not region or region not in known:
        raise StreamProviderError.not_set_up(
            f"AWS IVS is not configured: IVS_AWS_REGION={region!r} is not a region IVS runs in; "
            f"valid: {', '.join(known)}."
        )
    try:
        return session.client("ivs", region_name=region, config=CLIENT_CONFIG)
    except (BotoCoreError, ValueError) as exc:
        raise StreamProviderError.not_set_up(f"AWS IVS is not configured: {_reason(exc)}") from exc


class IvsProvider:
    name = "ivs"

    def __init__(
        self,
        *,
        client: Any,
        channel_type: str = "STANDARD",
        recording_configuration_arn: str = "",
        recording_bucket: str = "",
    ) -> None:
        """``recording_bucket``: where ``recording_configuration_arn`` writes (the region's store), needed with it."""
        if recording_configuration_arn and not recording_bucket:
            raise StreamProviderError.not_set_up(
                "AWS IVS is not configured: IVS_RECORDING_CONFIGURATION_ARN needs LIVE_RECORDING_STORAGE=s3://<bucket>/"
            )
        self.client = client
        self.channel_type = channel_type
        self.recording_configuration_arn = recording_configuration_arn
        self.recording_bucket = recording_bucket

    @classmethod
    def from_settings(cls) -> IvsProvider:
        storage = urlsplit(settings.LIVE_RECORDING_STORAGE)
        return cls(
            client=ivs_client(settings.IVS_AWS_REGION),
            channel_type=settings.IVS_CHANNEL_TYPE,
            recording_configuration_arn=settings.IVS_RECORDING_CONFIGURATION_ARN or "",
            recording_bucket=storage.netloc if storage.scheme == "s3" else "",
        )

    def stream_create(self, *, room_slug: str, playback_url: str = "") -> LiveStream:
        params: dict[str, Any] = {"name": room_slug[:128], "type": self.channel_type, "latencyMode": "LOW"}
        if self.recording_configuration_arn:
            params["recordingConfigurationArn"] = self.recording_configuration_arn
        try:
            answer = self.client.create_channel(**params)
        except (ClientError, BotoCoreError) as exc:
            detail = f"AWS IVS did not create the channel: {_reason(exc)}"
            raise _failure(exc, detail) from exc
        channel, key = answer["channel"], answer["streamKey"]
        return LiveStream(
            provider=self.name,
            stream_id=channel["arn"],
            ingest_url=f"rtmps://{channel['ingestEndpoint']}:443/app/",
            stream_key=key["value"],
            playback_url=channel["playbackUrl"],
        )

    def stream_end(self, *, stream_id: str) -> str:
        """Revoke the channel's stream keys, then stop its stream; a channel IVS no longer has is stopped already.

        The keys go first: stopped with a key still valid, a running encoder reconnects at once.
        Answers the channel's recording folder in the region's bucket (see the module's
        docstring), or "" when IVS recorded nothing: without a recording configuration.
        """
        folder = recording_folder(channel_arn=stream_id, bucket=self.recording_bucket)
        if self.recording_configuration_arn and folder is None:
            # Asked before anything is stopped: a show must not end with a recording that
            # retention would look for in the wrong place.
            raise StreamProviderError.not_set_up(f"AWS IVS: {stream_id!r} is not an IVS channel ARN")
        self._stream_keys_delete(channel_arn=stream_id)
        try:
            self.client.stop_stream(channelArn=stream_id)
        except ClientError as exc:
            # The encoder already stopped, or the channel is gone: the show is over all the same.
            if _code(exc) not in {"ChannelNotBroadcasting", "ResourceNotFoundException"}:
                raise _failure(exc, f"AWS IVS did not stop the stream: {_reason(exc)}", ending=True) from exc
        except BotoCoreError as exc:
            raise _failure(exc, f"AWS IVS did not stop the stream: {_reason(exc)}", ending=True) from exc
        return folder if self.recording_configuration_arn else ""

    def stream_delete(self, *, stream_id: str) -> None:
        """Delete the ended show's channel (and its stream key with it); one IVS no longer has is deleted.

        The recording is already in the region's bucket and stays there. IVS refuses to delete
        a channel that is still live (an encoder left running): its keys are revoked and the
        stream is stopped (:meth:`stream_end`), and the delete is left to the next try, once
        IVS has seen the stream end.
        """
        try:
            self.client.delete_channel(arn=stream_id)
            return
        except ClientError as exc:
            code = _code(exc)
            if code == "ResourceNotFoundException":
                return
            if code != "ConflictException":
                raise StreamProviderError(f"AWS IVS did not delete the channel: {_reason(exc)}") from exc
        except BotoCoreError as exc:
            raise StreamProviderError(f"AWS IVS did not delete the channel: {_reason(exc)}") from exc
        self.stream_end(stream_id=stream_id)
        raise StreamProviderError("AWS IVS did not delete the channel: still live; stopped, to delete on the next try")

    def _stream_keys_delete(self, *, channel_arn: str) -> None:
        """Delete every stream key of the channel; a key (or channel) IVS no longer has is deleted already.

        Part of ending the show (:meth:`stream_end`): a failure is told in the merchant's words.
        """
        try:
            pages = self.client.get_paginator("list_stream_keys").paginate(channelArn=channel_arn)
            key_arns = [key["arn"] for page in pages for key in page.get("streamKeys", [])]
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                return
            raise _failure(exc, f"AWS IVS did not list the channel's stream keys: {_reason(exc)}", ending=True) from exc
        except BotoCoreError as exc:
            raise _failure(exc, f"AWS IVS did not list the channel's stream keys: {_reason(exc)}", ending=True) from exc
        for key_arn in key_arns:
            try:
                self.client.delete_stream_key(arn=key_arn)
            except ClientError as exc:
                if _code(exc) != "ResourceNotFoundException":
                    raise _failure(exc, f"AWS IVS did not revoke the stream key: {_reason(exc)}", ending=True) from exc
            except BotoCoreError as exc:
                raise _failure(exc, f"AWS IVS did not revoke the stream key: {_reason(exc)}", ending=True) from exc


def _code(exc: ClientError) -> str | None:
    return exc.response.get("Error", {}).get("Code")


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code", "error")
    return type(exc).__name__


def _failure(exc: Exception, detail: str, *, ending: bool = False) -> StreamProviderError:
    """What the merchant is told of a failed call; without credentials, only the operators can help."""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return StreamProviderError.not_set_up(detail)
    return StreamProviderError.of_failed_call(detail, refused=_refused(exc), ending=ending)


def _refused(exc: Exception) -> bool:
    # IVS answered and said no (4xx: access denied, quota, validation): the same request
    # will not pass by itself. A 5xx, a timeout or no connection at all may.
    if not isinstance(exc, ClientError):
        return False
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return 400 <= status < 500
