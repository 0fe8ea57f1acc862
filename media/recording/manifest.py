"""The signed manifest of a recording, and its offline verification.

``manifest.json`` lists every file of the record with its SHA-256 and size, carries each
track's chain of segments (every entry holds the previous entry's hash, so a segment cannot
be removed, reordered or swapped without breaking the chain), and is signed with the
server's Ed25519 key. ``verify`` needs nothing but the folder or the downloaded zip.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .folder import MANIFEST, PUBLIC_KEY, STATE_DIR, RecordingFolder, canonical_json, sha256_file
from .private_files import open_private, private_dir
from .status import VerifyReport

FORMAT = "qashyq-recording-manifest/1"


class RecordingKey:
    """The server's Ed25519 signing key, created on first start and kept in the data dir."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self.public_raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @classmethod
    def load_or_create(cls, path: Path) -> RecordingKey:
        """Read the key at ``path``, or create it there (mode 0600)."""
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{path} is not an Ed25519 private key")
            return cls(key)
        private_dir(path.parent)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with open_private(path.with_suffix(".tmp")) as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        path.with_suffix(".tmp").replace(path)
        return cls(key)

    @property
    def key_id(self) -> str:
        """A short fingerprint of the public key (first 16 hex digits of its SHA-256)."""
        return hashlib.sha256(self.public_raw).hexdigest()[:16]

    def public_pem(self) -> bytes:
        """The public key as PEM (served at ``/api/keys``, put in every recording)."""
        return self._private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, data: bytes) -> bytes:
        """An Ed25519 signature."""
        return self._private.sign(data)


def write_manifest(
    folder: RecordingFolder, key: RecordingKey, *, state: str, extra: dict[str, Any] | None = None
) -> str:
    """Hash every file of the record, sign the list, write it; returns the manifest's SHA-256."""
    chains: dict[str, list[dict[str, Any]]] = {}
    for entry in folder.chain():
        chains.setdefault(entry["track"], []).append(entry)
    files = []
    for path in folder.record_files():
        name = path.relative_to(folder.path).as_posix()
        if name in (MANIFEST, PUBLIC_KEY):
            continue
        files.append({"name": name, "sha256": sha256_file(path), "size": path.stat().st_size})
    body: dict[str, Any] = {
        "format": FORMAT,
        "hearing_id": folder.hearing_id,
        "state": state,
        "signed_at": datetime.now(UTC).isoformat(),
        "files": files,
        "chains": chains,
        "public_key": base64.b64encode(key.public_raw).decode(),
        "key_id": key.key_id,
        **(extra or {}),
    }
    body["signature"] = base64.b64encode(key.sign(canonical_json(body))).decode()
    data = json.dumps(body, indent=1, ensure_ascii=False).encode()
    _write_synced(folder.path / PUBLIC_KEY, key.public_pem())
    _write_synced(folder.path / MANIFEST, data)
    return hashlib.sha256(data).hexdigest()


def _write_synced(path: Path, data: bytes) -> None:
    tmp = path.parent / f".{path.name}.tmp"
    with open_private(tmp) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


class _Source:
    """The files of a recording folder or of a downloaded zip, by name."""

    def __init__(self, path: Path) -> None:
        self._zip = zipfile.ZipFile(path) if path.is_file() else None
        self._root = path

    def names(self) -> set[str]:
        if self._zip is not None:
            return {i.filename for i in self._zip.infolist() if not i.is_dir()}
        return {
            p.relative_to(self._root).as_posix()
            for p in self._root.rglob("*")
            if p.is_file() and STATE_DIR not in p.relative_to(self._root).parts
        }

    def read(self, name: str) -> bytes:
        if self._zip is not None:
            return self._zip.read(name)
        return (self._root / name).read_bytes()

    def blocks(self, name: str) -> Iterator[bytes]:
        opened = self._zip.open(name) if self._zip is not None else (self._root / name).open("rb")
        with opened as f:
            yield from iter(lambda: f.read(1 << 20), b"")

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def verify(path: Path, trusted_public_key: bytes | None = None) -> VerifyReport:
    """Check a recording folder or zip: the signature, every hash and size, every chain."""
    report = VerifyReport()
    if not path.exists():
        report.fail(f"{path}: no such file or folder")
        return report
    try:
        source = _Source(path)
    except zipfile.BadZipFile:
        report.fail(f"{path}: neither a recording folder nor a zip file")
        return report
    try:
        _verify(source, report, trusted_public_key)
    finally:
        source.close()
    return report


def _verify(source: _Source, report: VerifyReport, trusted: bytes | None) -> None:
    names = source.names()
    if MANIFEST not in names:
        report.fail(f"missing: {MANIFEST}")
        return
    raw = source.read(MANIFEST)
    report.manifest_sha256 = hashlib.sha256(raw).hexdigest()
    try:
        body = json.loads(raw)
        signature = base64.b64decode(body.pop("signature"))
        public_raw = base64.b64decode(body["public_key"])
        files = {f["name"]: f for f in body["files"]}
        chains: dict[str, list[dict[str, Any]]] = body["chains"]
    except (ValueError, KeyError, TypeError, AttributeError):
        report.fail(f"altered: {MANIFEST} (not a readable manifest)")
        return
    report.key_id = hashlib.sha256(public_raw).hexdigest()[:16]
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, canonical_json(body))
    except (InvalidSignature, ValueError):
        report.fail(f"altered: {MANIFEST} (the signature does not match)")
    if trusted is not None and trusted != public_raw:
        report.fail(f"{MANIFEST} is signed by key {report.key_id}, not the trusted key")
    if PUBLIC_KEY in names:
        try:
            pem_key = serialization.load_pem_public_key(source.read(PUBLIC_KEY))
            pem_raw = pem_key.public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
        except ValueError:
            pem_raw = b""
        if pem_raw != public_raw:
            report.fail(f"altered: {PUBLIC_KEY} (not the key that signed the manifest)")
    for name in sorted(names - set(files) - {MANIFEST, PUBLIC_KEY}):
        report.fail(f"added: {name}")
    for name, entry in sorted(files.items()):
        if name not in names:
            report.fail(f"missing: {name}")
            continue
        digest = hashlib.sha256()
        size = 0
        for block in source.blocks(name):
            digest.update(block)
            size += len(block)
        report.files_checked += 1
        if size != entry.get("size") or digest.hexdigest() != entry.get("sha256"):
            report.fail(f"altered: {name}")
    for track, entries in sorted(chains.items()):
        previous = None
        for entry in entries:
            claimed = dict(entry)
            entry_hash = claimed.pop("hash", None)
            if claimed.get("prev") != previous or (
                hashlib.sha256(canonical_json(claimed)).hexdigest() != entry_hash
            ):
                report.fail(f"broken chain: track {track} at {entry.get('file')}")
                break
            listed = files.get(str(entry.get("file")))
            if listed is None or listed.get("sha256") != entry.get("sha256"):
                report.fail(f"broken chain: track {track}: {entry.get('file')} is not listed")
                break
            previous = entry_hash
