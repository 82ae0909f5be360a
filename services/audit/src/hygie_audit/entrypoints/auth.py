"""Who may call what. ``privacy-officer`` is not a platform role yet: it is read from the
token's ``roles`` claim (tokens keep every claim)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends

from hygie_platform.security import Forbidden, Principal, authenticate

__all__ = ["PRIVACY_OFFICER", "is_privacy_officer", "require", "roles_of"]

PRIVACY_OFFICER = "privacy-officer"


def roles_of(principal: Principal) -> set[str]:
    raw = principal.claims.get("roles") or []
    if isinstance(raw, str):
        raw = raw.split()
    return set(principal.roles) | {str(r) for r in raw}


def is_privacy_officer(principal: Principal) -> bool:
    return PRIVACY_OFFICER in roles_of(principal)


def require(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """FastAPI dependency: the caller holds one of ``roles`` (platform roles or claims)."""
    allowed = frozenset(roles)

    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not roles_of(principal) & allowed:
            raise Forbidden(f"role {' or '.join(sorted(allowed))} required")
        return principal

    return check
