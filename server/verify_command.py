"""``qashyq verify PATH``: check a recording folder or downloaded zip, offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from media.recording.manifest import verify


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``verify`` subcommand."""
    parser = commands.add_parser(
        "verify", help="check a recording (folder or zip): hashes, chains, signature"
    )
    parser.add_argument("path", type=Path, help="a recording folder or a downloaded zip")
    parser.add_argument(
        "--public-key", type=Path,
        help="PEM file of the court's key (from GET /api/keys) the manifest must be signed with",
    )


def run(args: argparse.Namespace) -> int:
    """Print what was checked and every problem; 0 only if the recording is intact."""
    trusted = None
    if args.public_key is not None:
        try:
            key = serialization.load_pem_public_key(args.public_key.read_bytes())
        except (OSError, ValueError) as error:
            print(f"qashyq verify: cannot read {args.public_key}: {error}", file=sys.stderr)
            return 2
        if not isinstance(key, Ed25519PublicKey):
            print(f"qashyq verify: {args.public_key} is not an Ed25519 key", file=sys.stderr)
            return 2
        trusted = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    report = verify(args.path, trusted)
    for problem in report.problems:
        print(f"FAIL {problem}")
    print(
        f"{'OK' if report.ok else 'FAILED'}: {report.files_checked} files checked, "
        f"signed by key {report.key_id or '?'}, manifest sha256 {report.manifest_sha256 or '?'}"
    )
    return 0 if report.ok else 1
