"""Point ended IVS shows at the folder IVS really recorded them in.

Until now an IVS show's recording was referenced as the show's own folder in the region's
store (``<LIVE_RECORDING_STORAGE>/<room-slug>/``), where nothing is written: the channel's
recording configuration writes at its bucket's root, under
``ivs/v1/<aws-account-id>/<channel-id>/``. Retention deleted the empty folder and the
recording stayed. This points such rooms at the channel's folder in the bucket of
``LIVE_RECORDING_STORAGE`` (as configured when the migration runs), so that retention
deletes it. The channel is read from the room's channel ARN, or, once the ended show's
channel was deleted (and its ARN cleared), from its IVS playback URL, which names the same
account and channel. A room it cannot repair is left as it is and printed.
"""

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.db import migrations

CHANNEL_ARN = re.compile(r"arn:aws[a-z-]*:ivs:[a-z0-9-]+:(?P<account>\d{12}):channel/(?P<channel>[A-Za-z0-9]+)")
# https://<id>.<region>.playback.live-video.net/api/video/v1/<region>.<account>.channel.<channel-id>.m3u8
PLAYBACK_URL = re.compile(
    r"https://[^/?#]+/api/video/v1/[a-z0-9-]+\.(?P<account>\d{12})\.channel\.(?P<channel>[A-Za-z0-9]+)\.m3u8"
)


def _the_show_s_own_folder(room) -> bool:
    """What ending the show used to store: ``<store>/<room-slug>/`` (of whichever store was configured then)."""
    parts = urlsplit(room.recording_url)
    return parts.scheme in {"s3", "file"} and parts.path.endswith(f"/{room.slug}/") and not parts.query


def repair(apps, schema_editor):
    LiveRoom = apps.get_model("live", "LiveRoom")
    storage = urlsplit(settings.LIVE_RECORDING_STORAGE)
    rooms = (
        LiveRoom.objects.filter(stream_provider="ivs", ended_at__isnull=False, recording_deleted_at__isnull=True)
        .exclude(recording_url="")
        .only("id", "slug", "stream_id", "playback_url", "recording_url")
        .order_by("pk")
    )
    for room in rooms.iterator():
        if not _the_show_s_own_folder(room):
            continue  # already where IVS recorded it, or set by hand
        channel = CHANNEL_ARN.fullmatch(room.stream_id) or PLAYBACK_URL.fullmatch(room.playback_url)
        if channel is None or storage.scheme != "s3":
            reason = (
                "no IVS channel ARN or playback URL to find its channel by"
                if channel is None
                else f"LIVE_RECORDING_STORAGE={settings.LIVE_RECORDING_STORAGE!r} is not the S3 bucket IVS records into"
            )
            print(f"  live room {room.slug}: IVS recording left at {room.recording_url} ({reason}); repair it by hand")
            continue
        folder = f"s3://{storage.netloc}/ivs/v1/{channel['account']}/{channel['channel']}/"
        LiveRoom.objects.filter(pk=room.pk, recording_url=room.recording_url).update(recording_url=folder)
        # Retention deletes only inside the store: say so when the store is not the bucket's root.
        note = "" if storage.path == "/" else "; retention deletes it once LIVE_RECORDING_STORAGE is the bucket's root"
        print(f"  live room {room.slug}: IVS recording {room.recording_url} -> {folder}{note}")


class Migration(migrations.Migration):
    dependencies = [
        ("live", "0010_watch_time"),
    ]

    # Reversed, nothing changes: the old reference pointed at an empty folder.
    operations = [migrations.RunPython(repair, migrations.RunPython.noop, elidable=True)]
