"""The content-addressed artifact store: dedupe, atomic writes, verified reads."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from shipyard.artifacts import ArtifactStore
from shipyard.errors import IntegrityError, InvalidInput, NotFound


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(str(tmp_path / "artifacts"))


def test_identical_bytes_are_stored_once(store: ArtifactStore, tmp_path: Path) -> None:
    first = store.put_bytes(b"model weights")
    source = tmp_path / "weights.bin"
    source.write_bytes(b"model weights")
    second = store.put_file(source)
    assert first == second
    assert first.sha256 == hashlib.sha256(b"model weights").hexdigest()
    blobs = [p for p in (tmp_path / "artifacts" / "sha256").rglob("*") if p.is_file()]
    assert len(blobs) == 1
    assert list((tmp_path / "artifacts" / "tmp").iterdir()) == []


def test_reads_return_the_bytes_and_copy_files(store: ArtifactStore, tmp_path: Path) -> None:
    blob = store.put_bytes(b"x" * 3_000_000)
    assert store.get_bytes(blob.sha256) == b"x" * 3_000_000
    target = store.get_file(blob.sha256, tmp_path / "out" / "copy.bin")
    assert target.read_bytes() == b"x" * 3_000_000


def test_a_tampered_blob_is_refused_naming_both_hashes(
    store: ArtifactStore, tmp_path: Path
) -> None:
    blob = store.put_bytes(b"honest bytes")
    path = Path(store.blob_path(blob.sha256))
    os.chmod(path, 0o644)
    path.write_bytes(b"evil bytes")
    with pytest.raises(IntegrityError) as caught:
        store.get_bytes(blob.sha256)
    assert caught.value.expected == blob.sha256
    assert caught.value.found == hashlib.sha256(b"evil bytes").hexdigest()
    with pytest.raises(IntegrityError):
        store.get_file(blob.sha256, tmp_path / "copy.bin")
    assert not (tmp_path / "copy.bin").exists()
    with pytest.raises(IntegrityError):
        store.verify(blob.sha256)


def test_missing_blob_and_bad_hash_are_clear_errors(store: ArtifactStore) -> None:
    with pytest.raises(NotFound, match="No blob"):
        store.get_bytes("0" * 64)
    with pytest.raises(InvalidInput, match="SHA-256"):
        store.get_bytes("not-a-hash")
    with pytest.raises(NotFound, match="No file"):
        store.put_file("/nonexistent/file.bin")


def test_stored_blobs_are_read_only(store: ArtifactStore) -> None:
    blob = store.put_bytes(b"frozen")
    assert not os.access(store.blob_path(blob.sha256), os.W_OK) or os.geteuid() == 0
    assert oct(os.stat(store.blob_path(blob.sha256)).st_mode & 0o777) == "0o444"


def test_memory_filesystem_works_too() -> None:
    store = ArtifactStore("memory://shipyard-test-artifacts")
    blob = store.put_bytes(b"in memory")
    assert store.get_bytes(blob.sha256) == b"in memory"
    assert store.local_path(blob.sha256) is None


def test_writer_streams_a_blob_in_and_dedupes(store: ArtifactStore, tmp_path: Path) -> None:
    with store.writer() as out:
        out.write(b"streamed ")
        out.write(memoryview(b"bytes"))
        assert out.blob is None  # only known once the block is done
    assert out.blob is not None
    assert out.blob.sha256 == hashlib.sha256(b"streamed bytes").hexdigest()
    assert out.blob.size == len(b"streamed bytes")
    assert store.get_bytes(out.blob.sha256) == b"streamed bytes"
    with store.writer() as again:
        again.write(b"streamed bytes")
    assert again.blob == out.blob
    blobs = [p for p in (tmp_path / "artifacts" / "sha256").rglob("*") if p.is_file()]
    assert len(blobs) == 1
    assert list((tmp_path / "artifacts" / "tmp").iterdir()) == []


def test_a_failed_writer_stores_nothing(store: ArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="producer failed"), store.writer() as out:
        out.write(b"half a blob")
        raise RuntimeError("producer failed")
    assert out.blob is None
    assert not (tmp_path / "artifacts" / "sha256").exists()
    assert list((tmp_path / "artifacts" / "tmp").iterdir()) == []
