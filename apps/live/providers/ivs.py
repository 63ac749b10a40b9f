"""Amazon Interactive Video Service (IVS) channels through ``boto3``."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from apps.live.providers import LiveStream, StreamProviderError


class IvsProvider:
    name = "ivs"

    def __init__(self, *, client: Any, channel_type: str = "STANDARD", recording_configuration_arn: str = "") -> None:
        self.client = client
        self.channel_type = channel_type
        self.recording_configuration_arn = recording_configuration_arn

    @classmethod
    def from_settings(cls) -> IvsProvider:
        return cls(
            client=boto3.client("ivs", region_name=settings.IVS_AWS_REGION),
            channel_type=settings.IVS_CHANNEL_TYPE,
            recording_configuration_arn=settings.IVS_RECORDING_CONFIGURATION_ARN or "",
        )

    def stream_create(self, *, room_slug: str, playback_url: str = "") -> LiveStream:
        params: dict[str, Any] = {"name": room_slug[:128], "type": self.channel_type, "latencyMode": "LOW"}
        if self.recording_configuration_arn:
            params["recordingConfigurationArn"] = self.recording_configuration_arn
        try:
            answer = self.client.create_channel(**params)
        except (ClientError, BotoCoreError) as exc:
            raise StreamProviderError(f"AWS IVS did not create the channel: {_reason(exc)}") from exc
        channel, key = answer["channel"], answer["streamKey"]
        return LiveStream(
            provider=self.name,
            stream_id=channel["arn"],
            ingest_url=f"rtmps://{channel['ingestEndpoint']}:443/app/",
            stream_key=key["value"],
            playback_url=channel["playbackUrl"],
        )

    def stream_end(self, *, stream_id: str) -> str | None:
        try:
            self.client.stop_stream(channelArn=stream_id)
        except ClientError as exc:
            # The encoder already stopped: the show is over all the same.
            if exc.response.get("Error", {}).get("Code") != "ChannelNotBroadcasting":
                raise StreamProviderError(f"AWS IVS did not stop the stream: {_reason(exc)}") from exc
        except BotoCoreError as exc:
            raise StreamProviderError(f"AWS IVS did not stop the stream: {_reason(exc)}") from exc
        # The channel's recording configuration writes into the region's own store.
        return None

    def stream_delete(self, *, stream_id: str) -> None:
        """Delete the ended show's channel (and its stream key with it); one IVS no longer has is deleted.

        The recording is already in the region's store and stays there. IVS refuses to delete
        a channel that is still live (an encoder left running): the stream is stopped and the
        delete is left to the next try, once IVS has seen the stream end.
        """
        try:
            self.client.delete_channel(arn=stream_id)
            return
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "ResourceNotFoundException":
                return
            if code != "ConflictException":
                raise StreamProviderError(f"AWS IVS did not delete the channel: {_reason(exc)}") from exc
        except BotoCoreError as exc:
            raise StreamProviderError(f"AWS IVS did not delete the channel: {_reason(exc)}") from exc
        self.stream_end(stream_id=stream_id)
        raise StreamProviderError("AWS IVS did not delete the channel: still live; stopped, to delete on the next try")


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code", "error")
    return type(exc).__name__
