"""Events of the audit service, on ``hygie.audit.v1`` keyed by log id: the signed tree
heads of its Merkle log (RFC 9162), so that they live outside the audit database too."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from .base import Event

__all__ = ["AUDIT_TOPIC", "TreeHeadSigned"]

AUDIT_TOPIC = "hygie.audit.v1"


class TreeHeadSigned(Event):
    """The audit log signed a tree head: its size, root hash and time (RFC 9162 §4.10).

    The signature is Ed25519 over the TLS encoding of TreeHeadDataV2 (timestamp,
    tree_size, root_hash, no extensions)."""

    event_type: ClassVar[str] = "hygie.audit.tree_head.signed.v1"
    topic: ClassVar[str] = AUDIT_TOPIC
    subject_field: ClassVar[str] = "log_id"

    log_id: str = Field(min_length=1)
    """hex SHA-256 of the log's public key (DER SubjectPublicKeyInfo)"""
    tree_size: int = Field(ge=0)
    root_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    """hex of the Merkle tree hash"""
    timestamp: int = Field(ge=0)
    """milliseconds since the epoch"""
    signature: str = Field(min_length=1)
    """base64 of the Ed25519 signature"""
    algorithm: str = "Ed25519"
