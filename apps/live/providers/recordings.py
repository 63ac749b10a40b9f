"""Where show recordings live: the region's own storage location, and deleting them there.

``LIVE_RECORDING_STORAGE`` names it as a URL: ``s3://bucket/prefix/`` (in the deployment's
own AWS region; through ``boto3``) or ``file:///path/`` (a local directory: the embedded
default and single-host deployments). A show's recording is everything under the URL the
room keeps (``LiveRoom.recording_url``): by default ``<storage>/<room-slug>/``; a provider
that recorded the show answers its own URL when the show ends instead. An IVS show's is
``s3://bucket/ivs/v1/<aws-account-id>/<channel-id>/``, where the IVS recording configuration
writes, at the bucket's root (apps.live.providers.ivs): with IVS recording the store must
be that bucket's root, ``s3://bucket/`` (settings refuse a prefix), since nothing outside
the store is ever deleted. A Mux show's is ``mux://assets/<asset-id>``, deleted through
Mux's API (apps.live.providers.mux). :func:`recording_store` picks the store by the URL's
scheme.

Deleting is idempotent (an empty prefix deletes nothing and is not an error), so a retried
or repeated retention run is safe; a failure raises :class:`RecordingStoreError` and the
caller keeps the reference to try again on the next run.

The region's own store also takes files (:class:`RegionRecordingStore`): a recording the
provider kept is copied into it after the show (apps.live.services.recording_copy_from_mux).
A file appears under its final name only once complete (S3: an upload is atomic, a failed
multipart upload is aborted; a directory: written under a temporary name, then renamed),
so a copy cut short is never mistaken for the recording.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import unquote, urlsplit

from django.conf import settings

# S3's DeleteObjects takes at most this many keys per call.
S3_DELETE_BATCH = 1000

# Bytes read from a copy's source at a time (a directory store; S3 reads in its own part size).
COPY_CHUNK = 1024 * 1024


class RecordingStoreError(Exception):
    """The storage refused or could not be reached; nothing is known to be deleted."""


class RecordingSourceError(Exception):
    """What a recording is copied from (Mux) failed; nothing was stored under the final name.

    ``permanent``: trying again cannot help (the asset is gone, its master errored, Mux
    answered a URL we will not follow, the file is larger than we accept), so the copy is
    given up and the recording stays where the provider keeps it.
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class RecordingStore(Protocol):
    def delete(self, url: str) -> int:
        """Delete the recording at ``url`` (a prefix of the store); return how many files went."""
        ...


class RegionRecordingStore(RecordingStore, Protocol):
    """The region's own store (``LIVE_RECORDING_STORAGE``), which also takes files."""

    def exists(self, url: str) -> bool:
        """Whether a complete file is stored at ``url``."""
        ...

    def save(self, url: str, body: BinaryIO) -> None:
        """Store ``body`` (read to its end) at ``url``; nothing appears there unless all of it was stored.

        An error of ``body`` (:class:`RecordingSourceError`) propagates as it is; the store's
        own failures raise :class:`RecordingStoreError`.
        """
        ...


def _inside(url: str, root: str) -> None:
    """Refuse a URL outside the region's storage: a bad reference must never delete anything else."""
    if not url.startswith(root.rstrip("/") + "/") or url.rstrip("/") == root.rstrip("/") or "/../" in url + "/":
        raise RecordingStoreError(f"{url!r} is not a recording inside {root!r}")


def _a_file(url: str, root: str) -> None:
    """Refuse to write anywhere but a file inside the region's storage."""
    _inside(url, root)
    if url.endswith("/") or "/./" in url:
        raise RecordingStoreError(f"{url!r} is not a file inside {root!r}")


def _s3_code(exc: Exception) -> str:
    from botocore.exceptions import ClientError

    return exc.response.get("Error", {}).get("Code", "error") if isinstance(exc, ClientError) else str(exc)


class S3RecordingStore:
    def __init__(self, *, client: Any, root: str, transfer_config: Any = None) -> None:
        self.client = client
        self.root = root
        # boto3's managed transfer: multipart above its threshold, parts retried, and a
        # failed upload aborted so that no part of it lingers (billed, invisible) in the bucket.
        self.transfer_config = transfer_config

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
            raise RecordingStoreError(f"S3 did not delete {url}: {_s3_code(exc)}") from exc
        return deleted

    def exists(self, url: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        _a_file(url, self.root)
        parts = urlsplit(url)
        try:
            self.client.head_object(Bucket=parts.netloc, Key=parts.path.lstrip("/"))
        except ClientError as exc:
            if _s3_code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise RecordingStoreError(f"S3 did not say whether {url} exists: {_s3_code(exc)}") from exc
        except BotoCoreError as exc:
            raise RecordingStoreError(f"S3 did not say whether {url} exists: {_s3_code(exc)}") from exc
        return True

    def save(self, url: str, body: BinaryIO) -> None:
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError

        _a_file(url, self.root)
        parts = urlsplit(url)
        try:
            self.client.upload_fileobj(body, parts.netloc, parts.path.lstrip("/"), Config=self.transfer_config)
        except (ClientError, BotoCoreError, S3UploadFailedError) as exc:
            raise RecordingStoreError(f"S3 did not store {url}: {_s3_code(exc)}") from exc


class FileRecordingStore:
    def __init__(self, *, root: str) -> None:
        self.root = root

    def _path(self, url: str) -> Path:
        path = Path(unquote(urlsplit(url).path))
        # Checked again once decoded: "%2e%2e" is ".." only after unquoting.
        root = Path(unquote(urlsplit(self.root).path)).resolve()
        if path.resolve() == root or not path.resolve().is_relative_to(root):
            raise RecordingStoreError(f"{url!r} is not a recording inside {self.root!r}")
        return path

    def exists(self, url: str) -> bool:
        _a_file(url, self.root)
        return self._path(url).is_file()

    def save(self, url: str, body: BinaryIO) -> None:
        _a_file(url, self.root)
        path = self._path(url)
        # Next to the final name, in the show's own folder: the rename is atomic, and the
        # leftover of a worker killed mid-copy is deleted with the show's folder at retention.
        part = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with part.open("xb") as out:
                while chunk := body.read(COPY_CHUNK):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(part, path)
            # The rename itself must survive a crash before the room starts referencing the file.
            folder = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        except OSError as exc:
            raise RecordingStoreError(f"could not store {path}: {exc}") from exc
        finally:
            # Nothing is left under that name once renamed; a part we cannot remove either
            # (the folder is gone or unwritable) goes with the show's folder at retention.
            with contextlib.suppress(OSError):
                part.unlink(missing_ok=True)

    def delete(self, url: str) -> int:
        _inside(url, self.root)
        path = self._path(url)
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


def region_recording_store() -> RegionRecordingStore:
    """The region's own store, ``LIVE_RECORDING_STORAGE`` (s3 or file; settings refuse anything else)."""
    scheme = urlsplit(settings.LIVE_RECORDING_STORAGE).scheme
    if scheme == "s3":
        return S3RecordingStore.from_settings()
    if scheme == "file":
        return FileRecordingStore(root=settings.LIVE_RECORDING_STORAGE)
    raise RecordingStoreError(f"LIVE_RECORDING_STORAGE={settings.LIVE_RECORDING_STORAGE!r}: valid schemes are s3, file")


def recording_url(slug: str) -> str:
    """The show ``slug``'s own folder in the region's store (its recording unless the provider recorded it)."""
    return f"{settings.LIVE_RECORDING_STORAGE.rstrip('/')}/{slug}/"
