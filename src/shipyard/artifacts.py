"""Content-addressed artifact store over fsspec.

A blob is stored once under its SHA-256 (``<root>/sha256/ab/cd/abcd…``) in a
local folder or any fsspec URL (``s3://bucket/prefix``). Writes go to a temp
name first and are renamed into place, so a reader never sees half a blob and
a crash leaves only a temp file behind. ``writer()`` lets a producer (e.g. a
Parquet writer) stream straight into the store, hashed on the way, instead of
writing a file elsewhere and copying it in. Every read verifies the hash and
refuses a mismatch with ``IntegrityError`` naming both hashes.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import fsspec

from shipyard.errors import BackendUnavailable, IntegrityError, InvalidInput, NotFound

CHUNK_BYTES = 1 << 20
HASH_GROUP_BYTES = 8 << 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Blob:
    """A stored blob: its SHA-256 and size in bytes."""

    sha256: str
    size: int


class BlobWriter:
    """A write-only binary file that hashes what passes through it (from ``writer()``).

    ``blob`` is set once the ``writer()`` block has finished and the blob is stored.
    """

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self._digest = hashlib.sha256()
        self._size = 0
        # Hashing on a worker overlaps with the producer making the next bytes (e.g. a
        # Parquet writer encoding pages). Chunks go to it in groups of HASH_GROUP_BYTES:
        # one hand-off per small write would cost more in GIL switches than it saves.
        self._hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shipyard-blob")
        self._pending: Future[None] | None = None
        self._group: list[bytes] = []
        self._group_bytes = 0
        self.blob: Blob | None = None

    def write(self, data: bytes | bytearray | memoryview) -> int:
        chunk = data if isinstance(data, bytes) else bytes(data)  # immutable while hashed
        self._handle.write(chunk)
        self._size += len(chunk)
        self._group.append(chunk)
        self._group_bytes += len(chunk)
        if self._group_bytes >= HASH_GROUP_BYTES:
            self._hash_group()
        return len(chunk)

    def _hash_group(self) -> None:
        if self._pending is not None:
            self._pending.result()  # one group at a time keeps the order
        group, self._group, self._group_bytes = self._group, [], 0
        self._pending = self._hashing.submit(_update, self._digest, group)

    def tell(self) -> int:
        return self._size

    def flush(self) -> None:
        self._handle.flush()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return bool(self._handle.closed)

    def close(self) -> None:
        """Closing early is allowed (some writers close their sink); the store finishes it."""
        self._hashing.shutdown(wait=True)
        self._handle.close()

    def _finish(self) -> Blob:
        self._hash_group()
        self.close()
        assert self._pending is not None
        self._pending.result()
        return Blob(self._digest.hexdigest(), self._size)


class ArtifactStore:
    """Immutable blobs addressed by their SHA-256."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.fs, self.root = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as exc:
            raise BackendUnavailable(f"Cannot open artifact store {url!r}: {exc}", url=url) from exc
        self.is_local = "file" in _protocols(self.fs)
        self.fs.makedirs(self._join("tmp"), exist_ok=True)

    def _join(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def blob_path(self, sha256: str) -> str:
        """Where the blob with this hash lives (a path in this store's filesystem)."""
        if not _SHA256.match(sha256):
            raise InvalidInput(
                f"{sha256!r} is not a SHA-256 hex digest (64 lowercase hex characters).",
                field="sha256",
            )
        return self._join("sha256", sha256[:2], sha256[2:4], sha256)

    def exists(self, sha256: str) -> bool:
        return bool(self.fs.exists(self.blob_path(sha256)))

    def put_bytes(self, data: bytes) -> Blob:
        """Store ``data``; identical bytes are stored once."""
        sha256 = hashlib.sha256(data).hexdigest()
        if not self.exists(sha256):
            tmp = self._tmp_name()
            with self.fs.open(tmp, "wb") as handle:
                handle.write(data)
            self._publish(tmp, sha256)
        return Blob(sha256, len(data))

    def put_file(self, path: str | Path) -> Blob:
        """Store a local file, hashing it while copying (memory stays bounded)."""
        source = Path(path)
        if not source.is_file():
            raise NotFound(f"No file at {source}.", kind="file", name=str(source))
        digest = hashlib.sha256()
        size = 0
        tmp = self._tmp_name()
        with source.open("rb") as reader, self.fs.open(tmp, "wb") as writer:
            while chunk := reader.read(CHUNK_BYTES):
                digest.update(chunk)
                writer.write(chunk)
                size += len(chunk)
        sha256 = digest.hexdigest()
        if self.exists(sha256):
            self.fs.rm(tmp)
        else:
            self._publish(tmp, sha256)
        return Blob(sha256, size)

    @contextmanager
    def writer(self) -> Iterator[BlobWriter]:
        """Stream a new blob: ``with store.writer() as out: out.write(...)``; then ``out.blob``.

        The bytes go to a temp file in the store and are hashed on the way, so
        nothing is read back or copied. If the block raises, the temp file is
        removed and nothing is stored.
        """
        tmp = self._tmp_name()
        sink = BlobWriter(self.fs.open(tmp, "wb"))
        try:
            yield sink
            blob = sink._finish()
        except BaseException:
            sink.close()
            self.fs.rm(tmp)
            raise
        if self.exists(blob.sha256):
            self.fs.rm(tmp)
        else:
            self._publish(tmp, blob.sha256)
        sink.blob = blob

    def get_bytes(self, sha256: str) -> bytes:
        """The blob's bytes, after checking that they still hash to ``sha256``."""
        data = self._read_all(sha256)
        _check(sha256, hashlib.sha256(data).hexdigest(), self.blob_path(sha256))
        return data

    def get_file(self, sha256: str, destination: str | Path) -> Path:
        """Copy the blob to a local file, verifying the hash on the way."""
        target = Path(destination)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        digest = hashlib.sha256()
        with self._open(sha256) as reader, partial.open("wb") as writer:
            while chunk := reader.read(CHUNK_BYTES):
                digest.update(chunk)
                writer.write(chunk)
        try:
            _check(sha256, digest.hexdigest(), self.blob_path(sha256))
        except IntegrityError:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, target)
        return target

    def verify(self, sha256: str) -> None:
        """Raise ``IntegrityError`` unless the stored blob hashes to ``sha256``."""
        digest = hashlib.sha256()
        with self._open(sha256) as reader:
            while chunk := reader.read(CHUNK_BYTES):
                digest.update(chunk)
        _check(sha256, digest.hexdigest(), self.blob_path(sha256))

    def local_path(self, sha256: str) -> Path | None:
        """The blob's path on local disk, for readers that need a file name; else None."""
        if not self.is_local:
            return None
        path = Path(self.blob_path(sha256))
        if not path.exists():
            raise self._not_found(sha256)
        return path

    def _open(self, sha256: str) -> IO[bytes]:
        path = self.blob_path(sha256)
        try:
            handle: IO[bytes] = self.fs.open(path, "rb")
        except FileNotFoundError as exc:
            raise self._not_found(sha256) from exc
        return handle

    def _read_all(self, sha256: str) -> bytes:
        with self._open(sha256) as handle:
            return handle.read()

    def _not_found(self, sha256: str) -> NotFound:
        return NotFound(
            f"No blob {sha256} in the artifact store {self.url}. It was deleted or the store "
            "URL (SHIPYARD_ARTIFACTS_URL) points elsewhere.",
            kind="blob",
            name=sha256,
        )

    def _tmp_name(self) -> str:
        return self._join("tmp", uuid.uuid4().hex)

    def _publish(self, tmp: str, sha256: str) -> None:
        final = self.blob_path(sha256)
        self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
        if self.is_local:
            os.replace(tmp, final)  # atomic on one filesystem
            os.chmod(final, 0o444)
        else:
            self.fs.mv(tmp, final)


def _update(digest: hashlib._Hash, chunks: list[bytes]) -> None:
    for chunk in chunks:
        digest.update(chunk)  # releases the GIL for large chunks


def _check(expected: str, found: str, where: str) -> None:
    if expected != found:
        raise IntegrityError(
            f"Artifact {where} is corrupt or was modified: expected SHA-256 {expected}, "
            f"found {found}. Refusing to use it; restore it or log it again.",
            expected=expected,
            found=found,
        )


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


__all__ = ["ArtifactStore", "Blob", "BlobWriter"]
