"""Object stores behind one small interface: MinIO through the minio SDK, or files under the data dir.

Errors reaching the backing service become core.errors.Unavailable (503), never a stack trace.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

from core.errors import Unavailable
from core.settings import Settings


class ObjectStore:
    """put/get/delete bytes by key; `check()` for readiness."""

    name = "object store"

    def put(self, key: str, data: bytes, content_type: str) -> None:
        raise NotImplementedError

    def get(self, key: str) -> bytes:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def check(self) -> None:
        """Raise Unavailable when the store cannot be used."""
        raise NotImplementedError


class FilesystemStore(ObjectStore):
    name = "filesystem object store"

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"bad object key {key!r}")
        return self.root / key

    def put(self, key, data, content_type):
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # readers never see half a file

    def get(self, key):
        return self._path(key).read_bytes()

    def delete(self, key):
        self._path(key).unlink(missing_ok=True)

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
        self.bucket = settings.s3_bucket

    def _call(self, fn, *args, **kwargs):
        from minio.error import MinioException
        import urllib3

        try:
            return fn(*args, **kwargs)
        except (urllib3.exceptions.HTTPError, OSError, MinioException) as exc:
            raise Unavailable("storage.unavailable", detail=f"MinIO: {type(exc).__name__}") from exc

    def ensure_bucket(self):
        if not self._call(self.client.bucket_exists, self.bucket):
            self._call(self.client.make_bucket, self.bucket)

    def put(self, key, data, content_type):
        self._call(self.client.put_object, self.bucket, key, io.BytesIO(data), len(data), content_type=content_type)

    def get(self, key):
        response = self._call(self.client.get_object, self.bucket, key)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def delete(self, key):
        self._call(self.client.remove_object, self.bucket, key)

    def check(self):
        if not self._call(self.client.bucket_exists, self.bucket):
            raise Unavailable("storage.unavailable", detail=f"MinIO: bucket {self.bucket} is missing")


def build_store(settings: Settings) -> ObjectStore:
    if settings.s3_endpoint:
        return MinioStore(settings)
    return FilesystemStore(settings.data_dir / "objects")
