"""What one request sees: the serving OMOP release, the stored FHIR resources, and how a
``system`` URI resolves to one of them."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from ..adapters.fhir_store import FhirStore
from ..adapters.releases import Release, ReleaseRepository
from ..adapters.vocabulary import VocabularyRepository
from ..domain.errors import NoActiveRelease, NotFound, UnknownSystem
from ..domain.systems import OMOP_SYSTEM, vocabulary_of

__all__ = [
    "ActiveReleaseCache",
    "Catalog",
    "FhirSystem",
    "OmopSystem",
    "SystemRef",
    "omop_system_of",
    "open_catalog",
]


@dataclass(frozen=True)
class OmopSystem:
    """A vocabulary of the OMOP release (``vocabulary_id``), or the concept-id system (None)."""

    system: str
    vocabulary_id: str | None


@dataclass(frozen=True)
class FhirSystem:
    """A CodeSystem loaded as a FHIR resource."""

    system: str
    version: str
    name: str | None


SystemRef = OmopSystem | FhirSystem


class Catalog:
    def __init__(self, conn: AsyncConnection, release: Release | None) -> None:
        self.conn = conn
        self.release = release
        self.fhir = FhirStore(conn)
        self._vocab = VocabularyRepository(conn, release.schema) if release else None

    @property
    def vocab(self) -> VocabularyRepository:
        if self._vocab is None:
            raise NoActiveRelease("no OMOP vocabulary release is active")
        return self._vocab

    def release_vocabularies(self) -> set[str]:
        return {v["vocabulary_id"] for v in self.release.vocabularies} if self.release else set()

    async def resolve(self, system: str, version: str | None = None) -> SystemRef:
        """The code system named by ``system`` (UnknownSystem when none): a vocabulary of
        the OMOP release first, else a stored FHIR CodeSystem."""
        if self.release is not None:
            omop = omop_system_of(self.release, system, version)
            if omop is not None:
                return omop
        stored = await self.fhir.get("CodeSystem", system, version)
        if stored is not None and stored.content.get("content") != "not-present":
            return FhirSystem(system, stored.version, stored.content.get("name"))
        raise UnknownSystem(system)


def omop_system_of(release: Release, system: str, version: str | None) -> OmopSystem | None:
    """The vocabulary of the release that ``system`` (and ``version``: the vocabulary's
    own, or the release's label or id) names, if any."""
    vocabulary = None if system == OMOP_SYSTEM else vocabulary_of(system)
    vocabularies = {v["vocabulary_id"] for v in release.vocabularies}
    if system != OMOP_SYSTEM and vocabulary not in vocabularies:
        return None
    if version is not None:
        own = {
            str(v["version"])
            for v in release.vocabularies
            if v["vocabulary_id"] == vocabulary and v.get("version")
        }
        if version not in own | {release.label, str(release.id)}:
            return None
    return OmopSystem(system, vocabulary)


class ActiveReleaseCache:
    """The active release, re-read at most every ``ttl`` seconds: every request needs it,
    and an activation made by another process is seen within ``ttl``."""

    def __init__(self, ttl: float = 1.0) -> None:
        self.ttl = ttl
        self._value: tuple[float, Release | None] | None = None

    def clear(self) -> None:
        self._value = None

    async def get(self, repo: ReleaseRepository) -> Release | None:
        return await self.get_via(repo.active)

    async def get_via(self, load: Callable[[], Awaitable[Release | None]]) -> Release | None:
        now = time.monotonic()
        if self._value is None or now - self._value[0] > self.ttl:
            self._value = (now, await load())
        return self._value[1]


async def open_catalog(
    conn: AsyncConnection,
    release_ref: str | None = None,
    *,
    cache: ActiveReleaseCache | None = None,
) -> Catalog:
    """A catalog on the active release, or on a named one (``release`` id or label)."""
    repo = ReleaseRepository(conn)
    if release_ref:
        release = await repo.by_label_or_id(release_ref)
        if release is None:
            raise NotFound(f"release {release_ref!r} is not available")
    elif cache is not None:
        release = await cache.get(repo)
    else:
        release = await repo.active()
    return Catalog(conn, release)
