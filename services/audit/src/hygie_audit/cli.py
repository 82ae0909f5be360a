"""``hygie audit verify`` (mounted by the platform CLI from :data:`app`) and
``python -m hygie_audit verify``: verify the whole log.

Exit status 0 when the log verifies, 1 when problems were found (each named on its own
line), 2 on a configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hygie_platform.config import ConfigError, Settings, load_settings
from hygie_platform.db import create_engine, service_database_name

from .config import AuditOptions
from .domain.tree_head import LogKey, SignedTreeHead, load_or_create_key
from .service.verify import VerifyReport, verify_log

__all__ = ["NAME", "app", "main", "verify"]


def _public_key(text: str) -> LogKey:
    key = serialization.load_der_public_key(base64.b64decode(text))
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError("--public-key: not an Ed25519 public key")
    return LogKey(public=key)


def _heads(path: Path) -> list[SignedTreeHead]:
    """Tree heads kept outside the database: a JSON list of tree-head objects (as
    published on hygie.audit.v1 or answered by GET /audit/tree-head)."""
    heads = json.loads(path.read_text(encoding="utf-8"))
    return [
        SignedTreeHead(
            h["log_id"],
            int(h["tree_size"]),
            bytes.fromhex(h["root_hash"]),
            int(h["timestamp"]),
            base64.b64decode(h["signature"]),
        )
        for h in heads
    ]


async def verify(
    settings: Settings,
    *,
    key: LogKey | None = None,
    heads: Sequence[SignedTreeHead] = (),
) -> VerifyReport:
    """Verify the audit database named by the settings."""
    key = key or load_or_create_key(AuditOptions().key_file(settings))
    engine = create_engine(settings, service_database_name(settings, "audit"))
    try:
        async with engine.connect() as conn:
            return await verify_log(conn, key, extra_heads=heads)
    finally:
        await engine.dispose()


NAME = "audit"
app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@app.command("verify")
def verify_command(
    tree_heads: Annotated[
        Path | None, typer.Option(help="JSON list of tree heads kept outside the database")
    ] = None,
    public_key: Annotated[
        str | None, typer.Option(help="base64 DER of the log's key (GET /audit/key)")
    ] = None,
    key_file: Annotated[Path | None, typer.Option(help="the log's Ed25519 PEM key")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="the report as JSON")] = False,
) -> None:
    """Recompute every leaf and signed root; name any changed, removed or re-ordered record."""
    raise typer.Exit(_run(tree_heads, public_key, key_file, json_output=json_output))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hygie_audit verify [options]`` (same options as ``hygie audit verify``)."""
    parser = argparse.ArgumentParser(prog="python -m hygie_audit verify", description=__doc__)
    parser.add_argument("--public-key", help="base64 DER of the log's key (GET /audit/key)")
    parser.add_argument("--key-file", type=Path, help="the log's Ed25519 PEM key file")
    parser.add_argument("--tree-heads", type=Path, help="JSON list of tree heads to check too")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    return _run(args.tree_heads, args.public_key, args.key_file, json_output=args.json)


def _run(
    tree_heads: Path | None,
    public_key: str | None,
    key_file: Path | None,
    *,
    json_output: bool,
) -> int:
    try:
        settings = load_settings()
        key = (
            _public_key(public_key)
            if public_key
            else load_or_create_key(key_file)
            if key_file
            else None
        )
        heads = _heads(tree_heads) if tree_heads else ()
        report = asyncio.run(verify(settings, key=key, heads=heads))
    except (ConfigError, OSError, ValueError) as exc:
        print(f"hygie audit verify: {exc}", file=sys.stderr)
        return 2
    if json_output:
        print(json.dumps(report.json(), indent=2))
    else:
        for problem in report.problems:
            print(f"FAIL {problem}")
        print(
            f"{'OK' if report.ok else 'TAMPERED'}: {report.tree_size} leaves, "
            f"{report.records_checked} records recomputed, {report.pruned_below} pruned by "
            f"retention, {report.tree_heads_checked} tree heads checked"
        )
    return 0 if report.ok else 1
