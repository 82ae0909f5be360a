"""Options of the audit service (defaults; HYGIE_AUDIT_* settings are a platform change)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hygie_platform.config import ConfigError, Settings

__all__ = ["MIN_RETENTION_DAYS", "AuditOptions"]

#: French public health code: traces kept at least 6 rolling months.
MIN_RETENTION_DAYS = 183


@dataclass(frozen=True)
class AuditOptions:
    """How the log is kept: batching, tree-head schedule, retention, signing key."""

    key_path: Path | None = None
    """Ed25519 PEM key signing tree heads (default ``<home>/keys/audit-ed25519.pem``,
    created at first start)."""
    batch_size: int = 5000
    """Records left in ``audit_pending`` by earlier versions appended per transaction."""
    poll_seconds: float = 0.2
    """How often the background worker checks its schedules."""
    tree_head_seconds: float = 60.0
    """A tree head is signed this often when the tree grew (and on demand)."""
    retention_days: int = 365
    """CNIL: 6 to 12 months for access logs; never under 6 months."""
    retention_check_seconds: float = 3600.0
    writer_role: bool = True
    """Write as the ``hygie_audit_writer`` role (no UPDATE/DELETE) when it exists."""

    def __post_init__(self) -> None:
        if self.retention_days < MIN_RETENTION_DAYS:
            raise ConfigError(
                f"audit retention_days: {self.retention_days} is under the legal minimum of "
                f"{MIN_RETENTION_DAYS} days (6 rolling months)"
            )
        if self.batch_size < 1 or self.poll_seconds <= 0 or self.tree_head_seconds <= 0:
            raise ConfigError("audit options: batch_size, poll_seconds, tree_head_seconds > 0")

    def key_file(self, settings: Settings) -> Path:
        return self.key_path or settings.home / "keys" / "audit-ed25519.pem"
