"""The one place where the OMOP projection is wired."""

from __future__ import annotations

import secrets
from functools import partial
from pathlib import Path

from hygie_contracts.omop import OMOP_TOPIC
from hygie_platform.security import issue_token
from hygie_platform.service import Platform, ServiceParts, ServiceSpec

from .adapters.generations import Generation
from .adapters.translator import HttpTranslator, Translator
from .domain.mappings import BUILTIN_MAPPINGS, load_mappings, mapping_version
from .entrypoints.http import router
from .service.generations import Generations
from .service.project import Projector

__all__ = ["SPEC", "bootstrap", "pseudonym_key"]

VERSION = "0.1.0"


def pseudonym_key(home: Path) -> bytes:
    """The HMAC key of ``person_source_value``: ``<home>/omop_pseudonym.key``, created once.
    Losing it changes every pseudonym at the next rebuild; keep it with the backups."""
    path = home / "omop_pseudonym.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
    return path.read_bytes()


def bootstrap(
    platform: Platform,
    *,
    translator: Translator | None = None,
    key: bytes | None = None,
    mappings: tuple[Path, ...] = (BUILTIN_MAPPINGS,),
    dq_definitions: Path | None = None,
) -> ServiceParts:
    settings = platform.settings
    loaded = load_mappings(*mappings)
    translator = translator or HttpTranslator(
        settings.url_of("terminology"),
        # the embedded issuer signs the projection's own token; with an OIDC issuer the
        # terminology service must accept the platform's service tokens (not wired yet)
        token=partial(issue_token, settings, user="omop_projection", roles=("integration",)),
    )
    secret = key if key is not None else pseudonym_key(settings.home)

    def make_projector(generation: Generation, publish: bool) -> Projector:
        return Projector(
            schema=generation.schema,
            generation=generation.generation,
            mappings=loaded,
            translator=translator,
            key=secret,
            publish=publish,
        )

    generations = Generations(
        settings,
        platform.uow,
        make_projector,
        etl_label=f"hygie-omop-projection {VERSION}; mappings {mapping_version(loaded)}",
    )

    async def start() -> None:
        await generations.prepare()  # the analysts' views exist before the first request
        generations.start()

    return ServiceParts(
        routers=[router],
        on_start=[start],
        state={
            "generations": generations,
            "mappings": loaded,
            "dq_definitions": dq_definitions or settings.home / "omop" / "dqd",
        },
    )


def spec_with(**options: object) -> ServiceSpec:
    """The service spec with injected adapters (tests: a table translator, a fixed key)."""
    return ServiceSpec(
        name="omop_projection",
        bootstrap=partial(bootstrap, **options),  # type: ignore[arg-type]
        migrations=Path(__file__).parent / "adapters" / "migrations",
        publishes=(OMOP_TOPIC,),
    )


SPEC = spec_with()
