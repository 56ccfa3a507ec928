"""Object stores behind one small interface: MinIO through the minio SDK, or files under the data dir.

Keys look like `photo/<attachment id>/full.jpg`. Keys under `signature/` and `result/` are write-once: on MinIO they live in a
second bucket with object lock (governance retention) where the server supports it; on the filesystem they are
created exclusively and made read-only. Errors reaching the backing service become core.errors.Unavailable
(503), never a stack trace.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import logging
import mimetypes
import os
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

from itsdangerous import BadSignature, URLSafeSerializer

from core import clock
from core.errors import Conflict, Forbidden, NotFound, Unavailable
from core.settings import Settings

log = logging.getLogger(__name__)

LOCKED_PREFIX = ("signature/", "result/")   # write-once keys (see module docstring); result/: issued results
BLOB_URL_PREFIX = "/api/v1/attachments/blob"   # where the app serves filesystem-store links


@dataclass(frozen=True)
class StoredObject:
    key: str
    modified: datetime   # UTC, aware
    size: int
    version: str | None = None


class ObjectStore:
    """put/get/delete bytes by key, list by prefix, hand out expiring links; `check()` for readiness."""

    name = "object store"
    locking = False      # True when write-once keys are retained by the server (object lock)

    def put(self, key: str, data: bytes, content_type: str) -> str | None:
        """Store the bytes; returns the version id where the store keeps versions (MinIO), else None."""
        raise NotImplementedError

    def get(self, key: str, version: str | None = None) -> bytes:
        raise NotImplementedError

    def delete(self, key: str, version: str | None = None) -> None:
        """Remove the object (that version for good, where versions are kept and not locked)."""
        raise NotImplementedError

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        raise NotImplementedError

    def link(self, key: str, seconds: int, version: str | None = None) -> str:
        """A URL that GETs the object until it expires (at most `seconds` from now)."""
        raise NotImplementedError

    def open_link(self, token: str) -> tuple[bytes, str]:
        """The bytes and content type behind an app-signed link (filesystem store only)."""
        raise NotFound()

    def check(self) -> None:
        """Raise Unavailable when the store cannot be used."""
        raise NotImplementedError


class FilesystemStore(ObjectStore):
    name = "filesystem object store"

    def __init__(self, root: Path, link_key: bytes | None = None, link_prefix: str = BLOB_URL_PREFIX):
        self.root = Path(root)
        # Without a configured key the links only work inside this process (fine for a CLI run).
        self._links = URLSafeSerializer(link_key or secrets.token_bytes(32), salt="zhangban.storage.blob")
        self.link_prefix = link_prefix

    def _path(self, key: str) -> Path:
        if not key or key.startswith("/") or ".." in key.split("/") or key.endswith(".part"):
            raise ValueError(f"bad object key {key!r}")
        return self.root / key

    def put(self, key, data, content_type):
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.part")
            tmp.write_bytes(data)
            if key.startswith(LOCKED_PREFIX):
                try:
                    os.link(tmp, path)        # fails if the key exists: write-once, never overwritten
                except FileExistsError:
                    raise Conflict("storage.object_exists", detail=key) from None
                finally:
                    tmp.unlink(missing_ok=True)
                path.chmod(0o444)
            else:
                os.replace(tmp, path)  # readers never see half a file
            return None
        except OSError as exc:
            raise Unavailable("storage.unavailable", detail=f"{self.root}: {exc.strerror}") from None

    def get(self, key, version=None):
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound() from None
        except OSError as exc:
            raise Unavailable("storage.unavailable", detail=f"{self.root}: {exc.strerror}") from None

    @staticmethod
    def _content_type(key) -> str:
        # Keys carry the extension of what was stored (photo/…/full.jpg), set by the service, not by users.
        return mimetypes.guess_type(key)[0] or "application/octet-stream"

    def delete(self, key, version=None):
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise Unavailable("storage.unavailable", detail=f"{self.root}: {exc.strerror}") from None

    def list(self, prefix=""):
        base = self.root
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if not path.is_file() or path.name.endswith(".part") or path.name == ".ready":
                continue
            key = path.relative_to(base).as_posix()
            if key.startswith(prefix):
                stat = path.stat()
                yield StoredObject(key, datetime.fromtimestamp(stat.st_mtime, timezone.utc), stat.st_size)

    def link(self, key, seconds, version=None):
        self._path(key)
        token = self._links.dumps({"k": key, "e": int(time.time()) + int(seconds)})
        return f"{self.link_prefix}/{token}"

    def open_link(self, token):
        try:
            claims = self._links.loads(token)
        except BadSignature:
            raise Forbidden("attachment.link_invalid") from None
        if not isinstance(claims, dict) or not isinstance(claims.get("k"), str):
            raise Forbidden("attachment.link_invalid")
        if int(claims.get("e", 0)) < time.time():
            raise Forbidden("attachment.link_expired")
        try:
            key = claims["k"]
            return self.get(key), self._content_type(key)
        except ValueError:
            raise Forbidden("attachment.link_invalid") from None

    def check(self):
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".ready"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise Unavailable("storage.unavailable", detail=f"{self.root}: {exc.strerror}") from None


class MinioStore(ObjectStore):
    name = "MinIO"

    def __init__(self, settings: Settings):
        from minio import Minio
        import urllib3

        # Short timeouts and no retries: a down MinIO must answer 503 quickly, not hang a worker.
        http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2, read=30),
                                   retries=urllib3.Retry(total=0), maxsize=16)
        self.client = Minio(settings.s3_endpoint, access_key=settings.s3_access_key,
                            secret_key=settings.s3_secret_key, secure=settings.s3_secure,
                            region=settings.s3_region, http_client=http)
        # Presigned URLs are signed for the host the phone will call (the signature covers the Host header).
        # With a region given, presigning needs no network call.
        if settings.s3_public_url:
            public = urlparse(settings.s3_public_url)
            self.signer = Minio(public.netloc, access_key=settings.s3_access_key,
                                secret_key=settings.s3_secret_key, secure=public.scheme == "https",
                                region=settings.s3_region)
        else:
            self.signer = self.client
        self.bucket = settings.s3_bucket
        self.locked_bucket = f"{settings.s3_bucket}-signatures"
        self.retention_days = settings.signature_retention_days
        self._ready = False

    def _call(self, fn, *args, **kwargs):
        from minio.error import MinioException, S3Error
        import urllib3

        try:
            return fn(*args, **kwargs)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchVersion"):
                raise NotFound() from None
            raise Unavailable("storage.unavailable", detail=f"MinIO: {exc.code}") from exc
        except (urllib3.exceptions.HTTPError, OSError, MinioException) as exc:
            raise Unavailable("storage.unavailable", detail=f"MinIO: {type(exc).__name__}") from exc

    def _bucket_for(self, key: str) -> str:
        return self.locked_bucket if key.startswith(LOCKED_PREFIX) else self.bucket

    def ensure_buckets(self):
        """Create the buckets if missing: private (no policy), versioned; object lock on the signatures bucket."""
        if self._ready:
            return
        from minio.commonconfig import ENABLED, Filter
        from minio.error import S3Error
        from minio.lifecycleconfig import LifecycleConfig, NoncurrentVersionExpiration, Rule
        from minio.versioningconfig import VersioningConfig

        if not self._call(self.client.bucket_exists, self.bucket):
            self._make(self.bucket)
            # Deleted objects stay as noncurrent versions for a while (undo), then go for good.
            self._call(self.client.set_bucket_versioning, self.bucket, VersioningConfig(ENABLED))
            self._call(self.client.set_bucket_lifecycle, self.bucket, LifecycleConfig([Rule(
                ENABLED, rule_filter=Filter(prefix=""), rule_id="expire-deleted",
                noncurrent_version_expiration=NoncurrentVersionExpiration(noncurrent_days=30))]))
        if not self._call(self.client.bucket_exists, self.locked_bucket):
            try:
                self._make(self.locked_bucket, object_lock=True)   # also turns versioning on
            except Unavailable as exc:
                if "NotImplemented" not in (exc.detail or "") and "InvalidRequest" not in (exc.detail or ""):
                    raise
                log.warning("MinIO has no object lock here; signatures are versioned but not retained")
                self._make(self.locked_bucket)
                self._call(self.client.set_bucket_versioning, self.locked_bucket, VersioningConfig(ENABLED))
        try:
            self.client.get_object_lock_config(self.locked_bucket)
            self.locking = True
        except S3Error:
            self.locking = False
        except Exception as exc:   # network trouble: say so as an outage
            raise Unavailable("storage.unavailable", detail=f"MinIO: {type(exc).__name__}") from exc
        self._ready = True

    def _make(self, bucket, object_lock=False):
        from minio.error import S3Error

        try:
            self.client.make_bucket(bucket, object_lock=object_lock)
        except S3Error as exc:
            if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):   # another worker won
                raise Unavailable("storage.unavailable", detail=f"MinIO: {exc.code}") from exc
        except Exception as exc:
            raise Unavailable("storage.unavailable", detail=f"MinIO: {type(exc).__name__}") from exc

    def put(self, key, data, content_type):
        from minio.retention import GOVERNANCE, Retention

        self.ensure_buckets()
        bucket = self._bucket_for(key)
        retention = None
        if bucket == self.locked_bucket and self.locking and self.retention_days:
            until = clock.now() + timedelta(days=self.retention_days)
            retention = Retention(GOVERNANCE, until)
        result = self._call(self.client.put_object, bucket, key, io.BytesIO(data), len(data),
                            content_type=content_type, retention=retention)
        return result.version_id

    def get(self, key, version=None):
        response = self._call(self.client.get_object, self._bucket_for(key), key, version_id=version)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def delete(self, key, version=None):
        bucket = self._bucket_for(key)
        if bucket == self.locked_bucket:
            # A delete marker: the retained version stays until its retention ends.
            self._call(self.client.remove_object, bucket, key)
        else:
            # A resident deleting a photo means it: that version goes for good (without a version id, a
            # delete marker hides the object and the lifecycle rule removes it after 30 days).
            self._call(self.client.remove_object, bucket, key, version_id=version)

    def list(self, prefix=""):
        buckets = [self.locked_bucket] if prefix.startswith(LOCKED_PREFIX) else (
            [self.bucket] if prefix else [self.bucket, self.locked_bucket])
        for bucket in buckets:
            if not self._call(self.client.bucket_exists, bucket):
                continue
            # Every version in the main bucket (so gc can remove orphans for good); current ones in the locked.
            versions = bucket == self.bucket
            objects = self._call(self.client.list_objects, bucket, prefix=prefix or None, recursive=True,
                                 include_version=versions)
            for obj in self._call(list, objects):
                if obj.is_dir or obj.is_delete_marker:
                    continue
                yield StoredObject(obj.object_name, clock.as_utc(obj.last_modified), obj.size or 0,
                                   obj.version_id if versions else None)

    def link(self, key, seconds, version=None):
        # Naming the version: a later write to the same key cannot change what a record points at.
        return self._call(self.signer.presigned_get_object, self._bucket_for(key), key,
                          expires=timedelta(seconds=int(seconds)), version_id=version)

    def check(self):
        self.ensure_buckets()
        for bucket in (self.bucket, self.locked_bucket):
            if not self._call(self.client.bucket_exists, bucket):
                raise Unavailable("storage.unavailable", detail=f"MinIO: bucket {bucket} is missing")


def link_key(settings: Settings) -> bytes | None:
    """The filesystem store's link-signing key, derived from the token key (a separate purpose)."""
    if not settings.token_key:
        return None
    return hmac.new(settings.token_key, b"zhangban storage links", hashlib.sha256).digest()


def build_store(settings: Settings) -> ObjectStore:
    if settings.s3_endpoint:
        store = MinioStore(settings)
        try:
            store.ensure_buckets()   # at start-up; if MinIO is down now, on first use (readyz says 503)
        except Unavailable as exc:
            log.warning("object store not ready at start-up: %s", exc.detail)
        return store
    return FilesystemStore(settings.data_dir / "objects", link_key(settings))
