"""Signed tree heads (RFC 9162 §4.10): Ed25519 over the TLS encoding of TreeHeadDataV2."""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["LogKey", "SignedTreeHead", "load_or_create_key", "tree_head_data"]


def tree_head_data(tree_size: int, root_hash: bytes, timestamp_ms: int) -> bytes:
    """TLS encoding of TreeHeadDataV2: uint64 timestamp, uint64 tree_size,
    NodeHash root_hash (opaque<32..2^8-1>), Extension sth_extensions<0..2^16-1> (empty)."""
    return struct.pack(">QQB", timestamp_ms, tree_size, len(root_hash)) + root_hash + b"\x00\x00"


@dataclass(frozen=True)
class SignedTreeHead:
    """A tree head and its signature, as published and stored."""

    log_id: str
    tree_size: int
    root_hash: bytes
    timestamp: int
    signature: bytes

    def json(self) -> dict[str, object]:
        return {
            "log_id": self.log_id,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": self.timestamp,
            "signature": base64.b64encode(self.signature).decode(),
            "algorithm": "Ed25519",
        }


@dataclass(frozen=True)
class LogKey:
    """The log's signing key (private half optional: a verifier holds only the public one)."""

    public: Ed25519PublicKey
    private: Ed25519PrivateKey | None = None

    @property
    def public_der(self) -> bytes:
        return self.public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def log_id(self) -> str:
        """RFC 9162 §4.4 spirit: the hash of the public key identifies the log."""
        return hashlib.sha256(self.public_der).hexdigest()

    def sign(self, tree_size: int, root_hash: bytes, timestamp_ms: int) -> SignedTreeHead:
        if self.private is None:
            raise RuntimeError("this log key has no private half")
        sig = self.private.sign(tree_head_data(tree_size, root_hash, timestamp_ms))
        return SignedTreeHead(self.log_id, tree_size, root_hash, timestamp_ms, sig)

    def verifies(self, head: SignedTreeHead) -> bool:
        try:
            self.public.verify(
                head.signature, tree_head_data(head.tree_size, head.root_hash, head.timestamp)
            )
        except InvalidSignature:
            return False
        return head.log_id == self.log_id


def load_or_create_key(path: Path) -> LogKey:
    """Load the Ed25519 PEM key, creating it (mode 0600) at first start."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
        except FileExistsError:
            pass  # another replica created it first: use theirs
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return LogKey(public=key.public_key(), private=key)
