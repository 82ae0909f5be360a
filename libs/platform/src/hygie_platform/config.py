"""Settings of every Hygie process: environment variables with the ``HYGIE_`` prefix."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["SERVICES", "ConfigError", "Settings", "load_settings"]

#: Every service of the platform with its embedded default HTTP port.
SERVICES: dict[str, int] = {
    "ehr": 8101,
    "patient_index": 8102,
    "terminology": 8103,
    "audit": 8104,
    "omop_projection": 8105,
    "fhir_gateway": 8106,
}

PREFIX = "HYGIE_"


class ConfigError(Exception):
    """A setting is wrong; the message names it and says why, in one line."""


class Settings(BaseSettings):
    """Effective configuration. Same keys for the embedded stack and for containers."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, extra="forbid", frozen=True, env_ignore_empty=True
    )

    # --- storage and broker -------------------------------------------------------
    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    """Any database of the PostgreSQL cluster; each service uses its own database in it."""
    database_name: str | None = None
    """Override of the service database name (default ``<database_prefix><service>``)."""
    database_prefix: str = "hygie_"
    database_pool_size: int = Field(default=10, ge=1)
    kafka: str = "127.0.0.1:9092"
    """Kafka bootstrap servers, comma separated ``host:port``."""
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    topic_prefix: str = ""
    """Prepended to every topic name (tests use it to isolate topics)."""
    topic_partitions: int = Field(default=6, ge=1)
    topic_replication: int = Field(default=1, ge=1)

    # --- event delivery -----------------------------------------------------------
    relay_batch_size: int = Field(default=1000, ge=1)
    relay_poll_seconds: float = Field(default=1.0, gt=0)
    consumer_batch_size: int = Field(default=1000, ge=1, le=10000)
    consumer_session_timeout_ms: int = Field(default=10000, ge=6000)
    """Group session timeout; the embedded broker holds a join for half of it."""
    consumer_max_attempts: int = Field(default=3, ge=1)
    consumer_backoff_seconds: float = Field(default=0.2, ge=0)

    # --- HTTP ---------------------------------------------------------------------
    http_host: str = "127.0.0.1"
    ehr_port: int = SERVICES["ehr"]
    patient_index_port: int = SERVICES["patient_index"]
    terminology_port: int = SERVICES["terminology"]
    audit_port: int = SERVICES["audit"]
    omop_projection_port: int = SERVICES["omop_projection"]
    fhir_gateway_port: int = SERVICES["fhir_gateway"]
    public_host: str = "127.0.0.1"
    """Host name used in the URLs printed for people and in ``hygie status``."""
    ehr_url: str | None = None
    patient_index_url: str | None = None
    terminology_url: str | None = None
    audit_url: str | None = None
    omop_projection_url: str | None = None
    fhir_gateway_url: str | None = None
    """Base URL of each service when it is not ``http://<public_host>:<port>`` (containers)."""

    http_max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    """Larger request bodies are refused with 413 before they are read."""

    # --- per service ----------------------------------------------------------------
    ehr_system_id: str = "hygie"
    """openEHR system id of this EHR store (in version uids ``<uuid>::<system id>::<n>``)."""
    ehr_template_overwrite: bool = False
    """Allow replacing an uploaded operational template that no composition uses yet."""

    terminology_licences: list[str] = Field(default_factory=list)
    """Vocabularies whose licence the operator confirms (e.g. ``["SNOMED"]``, JSON list):
    only those licensed vocabularies are loaded."""

    audit_retention_days: int = Field(default=365, ge=183)
    """Audit records are kept this long (French health code: at least 6 rolling months)."""
    audit_tree_head_seconds: float = Field(default=60.0, gt=0)
    """A signed tree head is issued this often when the audit log grew."""

    # --- security -----------------------------------------------------------------
    auth_issuer: str = "hygie-local"
    auth_audience: str = "hygie"
    auth_oidc_url: str | None = None
    """OIDC issuer URL: its discovery document names the JWKS that signs tokens."""
    auth_jwks_url: str | None = None
    auth_local_key: Path | None = None
    """PEM private key of the embedded issuer (created at first start); the public half
    verifies tokens when no OIDC issuer is configured."""

    # --- telemetry and logs -------------------------------------------------------
    otel_endpoint: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True

    # --- embedded stack -----------------------------------------------------------
    home: Path = Path(".hygie")
    """Data folder of the embedded stack (PostgreSQL data, keys, state)."""

    @field_validator("kafka")
    @classmethod
    def _bootstrap_servers(cls, value: str) -> str:
        for server in value.split(","):
            host, sep, port = server.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"expected host:port[,host:port...], got {value!r}")
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
            raise ValueError(f"expected a postgresql:// URL, got {value!r}")
        return value

    def port_of(self, service: str) -> int:
        """The HTTP port of a service."""
        return int(getattr(self, f"{service}_port"))

    def url_of(self, service: str) -> str:
        """The base URL of a service's HTTP API."""
        explicit = getattr(self, f"{service}_url")
        return (
            str(explicit).rstrip("/")
            if explicit
            else f"http://{self.public_host}:{self.port_of(service)}"
        )

    def topic(self, name: str) -> str:
        """The physical name of a logical topic (with the configured prefix)."""
        return f"{self.topic_prefix}{name}"

    def masked(self) -> dict[str, Any]:
        """The effective settings with secrets masked, for ``hygie config``."""
        out: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            if isinstance(value, SecretStr) or (value is not None and _is_secret(name)):
                out[name] = "********"
            elif name == "database_url":
                out[name] = _mask_url(str(value))
            else:
                out[name] = str(value) if isinstance(value, Path) else value
        return out


def _is_secret(name: str) -> bool:
    return any(word in name for word in ("password", "secret", "token"))


def _mask_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at or ":" not in creds:
        return url
    user = creds.split(":", 1)[0]
    return f"{scheme}{sep}{user}:********@{host}"


def load_settings(**overrides: Any) -> Settings:
    """Read the settings from the environment; one clear line on any error.

    An environment variable with the ``HYGIE_`` prefix that names no setting is an error
    (a typo must not silently fall back to a default).
    """
    known = {PREFIX + name.upper() for name in Settings.model_fields}
    unknown = sorted(
        k for k in os.environ if k.upper().startswith(PREFIX) and k.upper() not in known
    )
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown setting (see `hygie config` for the known ones)")
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = PREFIX + ".".join(str(p) for p in err["loc"]).upper()
        raise ConfigError(f"{name}: {err['msg']}") from None
    return _with_running_stack(settings, overrides)


def _with_running_stack(settings: Settings, overrides: dict[str, Any]) -> Settings:
    """Addresses of a running embedded stack (``hygie up`` writes them in
    ``<home>/stack.json``) fill what neither the environment nor the caller set, so that
    every command finds the stack's PostgreSQL and broker."""
    import json

    path = settings.home / "stack.json"
    if not path.exists():
        return settings
    try:
        addresses = json.loads(path.read_text()).get("settings", {})
    except (OSError, ValueError):
        return settings
    update = {
        k: v
        for k, v in addresses.items()
        if k in ("database_url", "kafka")
        and k not in overrides
        and PREFIX + k.upper() not in os.environ
    }
    return settings.model_copy(update=update) if update else settings
