"""Remembered token verifications: never longer than the token's life or the cache's
time to live, forgotten when the key set changes; refusals are never remembered."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from hygie_platform import security
from hygie_platform.config import Settings
from hygie_platform.security import AuthError, TokenVerifier, issue_token


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path)


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens whose signature and claims were really checked."""
    seen: list[str] = []
    real = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(security.jwt, "decode", counting)
    return seen


async def test_a_token_seen_again_is_not_verified_again_within_the_ttl(settings, decodes):
    now = [time.time()]
    verifier = TokenVerifier(settings, cache_ttl=60, clock=lambda: now[0])
    token = issue_token(settings, user="u", roles=["clinician"])
    first = await verifier.averify(token)
    again = await verifier.averify(token)
    assert again == first
    assert again.roles == frozenset({"clinician"})
    assert decodes == [token]
    now[0] += 61
    assert await verifier.averify(token) == first
    assert decodes == [token, token]


async def test_an_expired_token_is_refused_even_when_remembered(settings):
    verifier = TokenVerifier(settings, cache_ttl=600)
    token = issue_token(settings, user="u", roles=["admin"], ttl_seconds=1)
    await verifier.averify(token)
    assert verifier.cached(token) is not None
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    await asyncio.sleep(max(0.0, exp - time.time()) + 0.05)
    assert verifier.cached(token) is None
    with pytest.raises(AuthError, match="expired"):
        await verifier.averify(token)


async def test_refusals_are_not_remembered_and_the_cache_is_bounded(settings, decodes):
    verifier = TokenVerifier(settings, cache_size=2)
    bad = issue_token(
        settings.model_copy(update={"auth_audience": "other"}), user="u", roles=["admin"]
    )
    for _ in range(2):
        with pytest.raises(AuthError, match=r"(?i)audience"):
            await verifier.averify(bad)
    assert decodes == [bad, bad]
    tokens = [issue_token(settings, user=f"u{i}", roles=["admin"]) for i in range(3)]
    for token in tokens:
        await verifier.averify(token)
    assert verifier.cached(tokens[0]) is None
    assert verifier.cached(tokens[2]) is not None


class _JWKS:
    """A JWKS endpoint whose key set the test can replace."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps({"keys": owner.keys}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"

    def publish(self, *pairs: tuple[str, ec.EllipticCurvePrivateKey]) -> None:
        self.keys = [
            {**json.loads(ECAlgorithm.to_jwk(key.public_key())), "kid": kid, "use": "sig"}
            for kid, key in pairs
        ]


@pytest.fixture
def jwks() -> Iterator[_JWKS]:
    endpoint = _JWKS()
    thread = threading.Thread(target=endpoint.server.serve_forever, daemon=True)
    thread.start()
    yield endpoint
    endpoint.server.shutdown()
    endpoint.server.server_close()


def _sign(settings: Settings, key: ec.EllipticCurvePrivateKey, kid: str) -> str:
    now = int(time.time())
    claims = {
        "iss": settings.auth_issuer,
        "aud": settings.auth_audience,
        "sub": "u",
        "roles": ["admin"],
        "nbf": now,
        "exp": now + 300,
    }
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid})


async def test_a_key_set_rotation_forgets_remembered_tokens(settings, jwks):
    old, new = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    jwks.publish(("old", old))
    settings = settings.model_copy(update={"auth_jwks_url": jwks.url})
    verifier = TokenVerifier(settings, jwks_refresh_cooldown=0)
    old_token = _sign(settings, old, "old")
    await verifier.averify(old_token)
    assert verifier.cached(old_token) is not None

    jwks.publish(("new", new))  # the old key is withdrawn
    await verifier.averify(_sign(settings, new, "new"))  # unknown kid: the set is fetched
    assert verifier.cached(old_token) is None
    with pytest.raises(AuthError, match="invalid bearer token"):
        await verifier.averify(old_token)
