"""Bearer JWT authentication and role checks for every HTTP API (ARCHITECTURE §9).

Tokens are RS256/ES256 JWTs; issuer and audience are checked. Keys come from an OIDC
issuer's JWKS, an explicit JWKS URL, or, in the embedded stack, a local EC key generated
at first start (``hygie token`` signs with it).
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
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


class _JWKSClient(jwt.PyJWKClient):
    """A JWKS client that tells when the key set it fetched differs from the last one,
    and then forgets the keys it memoised."""

    def __init__(self, url: str, on_change: Callable[[], None], cooldown: float) -> None:
        super().__init__(url, cache_keys=True, cooldown_duration=cooldown)
        self._on_change = on_change
        self._last: Any = None

    def fetch_data(self) -> Any:
        data = super().fetch_data()
        if self._last is not None and data != self._last:
            # ``cache_keys`` memoises keys by kid: a withdrawn key must go too.
            clear = getattr(self.get_signing_key, "cache_clear", None)
            if clear is not None:
                clear()
            self._on_change()
        self._last = data
        return data


@dataclass(frozen=True)
class _Verified:
    principal: Principal
    valid_until: float
    generation: int


class TokenVerifier:
    """Verifies bearer tokens against the configured keys.

    A successful verification is remembered, keyed by the exact token string, until the
    token's ``exp`` or ``cache_ttl`` seconds later, whichever comes first, and forgotten
    as soon as the key set changes: a token seen again within that window is not
    verified again (signature, issuer, audience, ``nbf`` only ever pass once for the
    same bytes). Refusals are never remembered. Roles are checked on every request
    (:func:`require_roles`).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        cache_size: int = 4096,
        cache_ttl: float = 60.0,
        clock: Callable[[], float] = time.time,
        jwks_refresh_cooldown: float = 30.0,
    ) -> None:
        self.settings = settings
        self.cache_size = cache_size
        self.cache_ttl = cache_ttl
        self._clock = clock
        self._cache: OrderedDict[str, _Verified] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0
        self._jwks: jwt.PyJWKClient | None = None
        self._local: Any = None
        if settings.auth_jwks_url or settings.auth_oidc_url:
            self._jwks = _JWKSClient(
                settings.auth_jwks_url or self._discover(),
                on_change=self.forget,
                cooldown=jwks_refresh_cooldown,
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

    def forget(self) -> None:
        """Drop every remembered verification (the key set changed)."""
        with self._lock:
            self._generation += 1
            self._cache.clear()

    def cached(self, token: str) -> Principal | None:
        """The principal of a token verified recently, if still valid."""
        with self._lock:
            hit = self._cache.get(token)
            if hit is None:
                return None
            if hit.generation != self._generation or self._clock() >= hit.valid_until:
                del self._cache[token]
                return None
            self._cache.move_to_end(token)
            return hit.principal

    def verify(self, token: str) -> Principal:
        """Full verification (remembered when it succeeds); may fetch the JWKS."""
        principal = self.cached(token)
        if principal is not None:
            return principal
        generation = self._generation
        now = self._clock()
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
        principal = Principal(
            subject=str(claims["sub"]), roles=frozenset(_roles(claims)), claims=claims
        )
        valid_until = min(float(claims["exp"]), now + self.cache_ttl)
        with self._lock:
            if generation == self._generation and self.cache_size > 0:
                self._cache[token] = _Verified(principal, valid_until, generation)
                self._cache.move_to_end(token)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return principal

    async def averify(self, token: str) -> Principal:
        """:meth:`verify` from the event loop: inline when it cannot block (a remembered
        token, or the local key: an ES256 check is ~0.1 ms, less than a thread hop), in a
        worker thread when the JWKS may have to be fetched."""
        principal = self.cached(token)
        if principal is not None:
            return principal
        if self._jwks is None:
            return self.verify(token)
        return await anyio.to_thread.run_sync(self.verify, token)


def _roles(claims: dict[str, Any]) -> Iterable[str]:
    """Roles from ``roles``, ``scope`` or Keycloak's ``realm_access.roles``."""
    roles = claims.get("roles") or []
    if isinstance(roles, str):
        roles = roles.split()
    realm = claims.get("realm_access", {}).get("roles", [])
    scope = str(claims.get("scope", "")).split()
    return [str(r) for r in [*roles, *realm, *scope] if str(r) in Role.__members__.values()]


async def authenticate(request: Request) -> Principal:
    """FastAPI dependency: the caller, from ``Authorization: Bearer`` (async, so that
    FastAPI runs it on the event loop rather than in a worker thread)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthError("a bearer token is required")
    verifier: TokenVerifier = request.app.state.verifier
    principal = await verifier.averify(token.strip())
    request.state.principal = principal
    return principal


def require_roles(*roles: Role | str) -> Callable[..., Awaitable[Principal]]:
    """FastAPI dependency factory: the caller must hold one of these roles."""
    allowed = frozenset(str(r) for r in roles)

    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.roles & allowed:
            raise Forbidden(f"role {' or '.join(sorted(allowed))} required")
        return principal

    return check
