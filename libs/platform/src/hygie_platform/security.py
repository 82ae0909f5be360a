"""Bearer JWT authentication and role checks for every HTTP API (ARCHITECTURE §9).

Tokens are RS256/ES256 JWTs; issuer and audience are checked. Keys come from an OIDC
issuer's JWKS, an explicit JWKS URL, or, in the embedded stack, a local EC key generated
at first start (``hygie token`` signs with it).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import Depends, Request

from .config import ConfigError, Settings

__all__ = [
    "ALGORITHMS",
    "AuthError",
    "Forbidden",
    "Principal",
    "Role",
    "TokenVerifier",
    "ensure_local_key",
    "issue_token",
    "require_roles",
]

ALGORITHMS = ["RS256", "ES256"]


class Role(StrEnum):
    CLINICIAN = "clinician"
    ADMIN = "admin"
    ANALYST = "analyst"
    INTEGRATION = "integration"
    PRIVACY_OFFICER = "privacy-officer"


class AuthError(Exception):
    """No valid bearer token (HTTP 401)."""


class Forbidden(Exception):
    """A valid token whose roles may not do this (HTTP 403)."""


@dataclass(frozen=True)
class Principal:
    """Who calls: the token's subject and roles."""

    subject: str
    roles: frozenset[str]
    claims: dict[str, Any]


def ensure_local_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """Load the embedded issuer's P-256 key, creating it (mode 0600) at first start."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ConfigError(f"HYGIE_AUTH_LOCAL_KEY: {path} is not an EC private key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Written whole under a temporary name, then linked into place: a process starting at
    # the same moment either creates the key or reads the complete one of the other.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return ensure_local_key(path)
    finally:
        tmp.unlink(missing_ok=True)
    return key


def local_key_path(settings: Settings) -> Path:
    return settings.auth_local_key or settings.home / "keys" / "issuer.pem"


def issue_token(
    settings: Settings, *, user: str, roles: Iterable[str], ttl_seconds: int = 8 * 3600
) -> str:
    """A token signed by the embedded issuer (development and scripts)."""
    key = ensure_local_key(local_key_path(settings))
    now = int(time.time())
    claims = {
        "iss": settings.auth_issuer,
        "aud": settings.auth_audience,
        "sub": user,
        "roles": sorted(set(roles)),
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": "hygie-local"})


class TokenVerifier:
    """Verifies bearer tokens against the configured keys."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwks: jwt.PyJWKClient | None = None
        self._local: Any = None
        if settings.auth_jwks_url or settings.auth_oidc_url:
            self._jwks = jwt.PyJWKClient(
                settings.auth_jwks_url or self._discover(), cache_keys=True
            )
        else:
            self._local = ensure_local_key(local_key_path(settings)).public_key()

    def _discover(self) -> str:
        assert self.settings.auth_oidc_url
        url = self.settings.auth_oidc_url.rstrip("/") + "/.well-known/openid-configuration"
        try:
            doc = httpx.get(url, timeout=5).raise_for_status().json()
            return str(doc["jwks_uri"])
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise ConfigError(f"HYGIE_AUTH_OIDC_URL: cannot read {url}: {exc}") from None

    def verify(self, token: str) -> Principal:
        try:
            key = self._jwks.get_signing_key_from_jwt(token).key if self._jwks else self._local
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self.settings.auth_audience,
                issuer=self.settings.auth_issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid bearer token: {exc}") from None
        return Principal(subject=str(claims["sub"]), roles=frozenset(_roles(claims)), claims=claims)


def _roles(claims: dict[str, Any]) -> Iterable[str]:
    """Roles from ``roles``, ``scope`` or Keycloak's ``realm_access.roles``."""
    roles = claims.get("roles") or []
    if isinstance(roles, str):
        roles = roles.split()
    realm = claims.get("realm_access", {}).get("roles", [])
    scope = str(claims.get("scope", "")).split()
    return [str(r) for r in [*roles, *realm, *scope] if str(r) in Role.__members__.values()]


def authenticate(request: Request) -> Principal:
    """FastAPI dependency: the caller, from ``Authorization: Bearer``."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthError("a bearer token is required")
    verifier: TokenVerifier = request.app.state.verifier
    principal = verifier.verify(token.strip())
    request.state.principal = principal
    return principal


def require_roles(*roles: Role | str) -> Callable[..., Principal]:
    """FastAPI dependency factory: the caller must hold one of these roles."""
    allowed = frozenset(str(r) for r in roles)

    def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.roles & allowed:
            raise Forbidden(f"role {' or '.join(sorted(allowed))} required")
        return principal

    return check
