"""Where show recordings live: the region's own storage location, and deleting them there.

``LIVE_RECORDING_STORAGE`` names it as a URL: ``s3://bucket/prefix/`` (where an IVS
recording configuration writes, in the deployment's own AWS region; through ``boto3``) or
``file:///path/`` (a local directory: the embedded default and single-host deployments).
A show's recording is everything under ``<storage>/<room-slug>/``. A provider that keeps
the recording itself answers its own URL when the show ends instead (Mux:
``mux://assets/<asset-id>``, deleted through Mux's API; apps.live.providers.mux), and
:func:`recording_store` picks the store by the URL's scheme.

Deleting is idempotent (an empty prefix deletes nothing and is not an error), so a retried
or repeated retention run is safe; a failure raises :class:`RecordingStoreError` and the
caller keeps the reference to try again on the next run.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from django.conf import settings

# S3's DeleteObjects takes at most this many keys per call.
S3_DELETE_BATCH = 1000


class RecordingStoreError(Exception):
    """The storage refused or could not be reached; nothing is known to be deleted."""


class RecordingStore(Protocol):
    def delete(self, url: str) -> int:
        """Delete the recording at ``url`` (a prefix of the store); return how many files went."""
        ...


def _inside(url: str, root: str) -> None:
    """Refuse a URL outside the region's storage: a bad reference must never delete anything else."""
    if not url.startswith(root.rstrip("/") + "/") or url.rstrip("/") == root.rstrip("/") or "/../" in url + "/":
        raise RecordingStoreError(f"{url!r} is not a recording inside {root!r}")


class S3RecordingStore:
    def __init__(self, *, client: Any, root: str) -> None:
        self.client = client
        self.root = root

    @classmethod
    def from_settings(cls) -> S3RecordingStore:
        import boto3

        return cls(
            client=boto3.client("s3", region_name=settings.LIVE_RECORDING_AWS_REGION),
            root=settings.LIVE_RECORDING_STORAGE,
        )

    def delete(self, url: str) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        _inside(url, self.root)
        parts = urlsplit(url)
        bucket, prefix = parts.netloc, parts.path.lstrip("/")
        deleted = 0
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                for start in range(0, len(keys), S3_DELETE_BATCH):
                    batch = keys[start : start + S3_DELETE_BATCH]
                    answer = self.client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
                    if answer.get("Errors"):
                        first = answer["Errors"][0]
                        raise RecordingStoreError(
                            f"S3 kept {len(answer['Errors'])} object(s) of {url}: "
                            f"{first.get('Code', 'error')} on {first.get('Key', '?')}"
                        )
                    deleted += len(batch)
        except (ClientError, BotoCoreError) as exc:
            code = exc.response.get("Error", {}).get("Code", "error") if isinstance(exc, ClientError) else str(exc)
            raise RecordingStoreError(f"S3 did not delete {url}: {code}") from exc
        return deleted


class FileRecordingStore:
    def __init__(self, *, root: str) -> None:
        self.root = root

    def delete(self, url: str) -> int:
        _inside(url, self.root)
        path = Path(unquote(urlsplit(url).path))
        if not path.exists():
            return 0
        files = sum(1 for item in path.rglob("*") if item.is_file())
        try:
            shutil.rmtree(path)
        except OSError as exc:
            raise RecordingStoreError(f"could not delete {path}: {exc}") from exc
        return files


SCHEMES = ("s3", "file", "mux")


def recording_store(url: str = "") -> RecordingStore:
    """The store that holds the recording at ``url`` (by its scheme); without one, that of ``LIVE_RECORDING_STORAGE``.

    s3 and file stores are always the region's own (``LIVE_RECORDING_STORAGE``): a URL
    outside it is refused when deleting, never followed elsewhere.
    """
    scheme = urlsplit(url or settings.LIVE_RECORDING_STORAGE).scheme
    if scheme == "s3":
        return S3RecordingStore.from_settings()
    if scheme == "file":
        return FileRecordingStore(root=settings.LIVE_RECORDING_STORAGE)
    if scheme == "mux":
        from apps.live.providers.mux import MuxRecordingStore

        return MuxRecordingStore.from_settings()
    where = repr(url) if url else f"LIVE_RECORDING_STORAGE={settings.LIVE_RECORDING_STORAGE!r}"
    raise RecordingStoreError(f"{where}: valid schemes are {', '.join(SCHEMES)}")


def recording_url(slug: str) -> str:
    """Where the recording of the show ``slug`` is kept."""
    return f"{settings.LIVE_RECORDING_STORAGE.rstrip('/')}/{slug}/"
