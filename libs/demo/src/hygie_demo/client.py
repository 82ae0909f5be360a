"""The demo hospital's applications talking to Hygie through its public interfaces only:
openEHR REST (EHR store), FHIR (patient index), the identity feed topic
``hygie.ingest.patient.v1``, and the health/status endpoints."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from hygie_contracts.patient import PatientRecorded
from hygie_platform import kafka
from hygie_platform.config import Settings
from hygie_platform.envelope import Envelope
from hygie_platform.security import issue_token

from .templates import shipped_opts

__all__ = ["Hygie", "Outcome", "ensure_templates"]

EHR_API = "/openehr/v1"
NAMESPACE = uuid.UUID("b7e1a0c4-7c39-4d51-9f5e-64656d6f6870")


@dataclass
class Outcome:
    """Counts of what each kind of write did: created, already there, refused."""

    created: dict[str, int] = field(default_factory=dict)
    existing: dict[str, int] = field(default_factory=dict)
    refused: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, status: str, detail: str = "") -> None:
        if status in ("created", "sent"):
            self.created[kind] = self.created.get(kind, 0) + 1
        elif status == "existing":
            self.existing[kind] = self.existing.get(kind, 0) + 1
        else:
            self.refused.setdefault(kind, []).append(detail)


class Hygie:
    """HTTP clients of the services and a producer on the identity feed."""

    def __init__(self, settings: Settings, *, user: str = "demo-hospital") -> None:
        self.settings = settings
        token = issue_token(settings, user=user, roles=["integration"], ttl_seconds=4 * 3600)
        admin = issue_token(settings, user=f"{user}-admin", roles=["admin"], ttl_seconds=4 * 3600)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.admin_headers = {"Authorization": f"Bearer {admin}"}
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        timeout = httpx.Timeout(60.0, connect=10.0)
        self.ehr = httpx.AsyncClient(
            base_url=settings.url_of("ehr") + EHR_API, limits=limits, timeout=timeout
        )
        self.mpi = httpx.AsyncClient(base_url=settings.url_of("patient_index"), timeout=timeout)
        self.producer = kafka.producer(settings)
        self.system_id: str | None = None

    async def __aenter__(self) -> Hygie:
        await self.producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.producer.stop()
        await self.ehr.aclose()
        await self.mpi.aclose()

    # --- identity feed ------------------------------------------------------------------
    async def record_patient(self, event: PatientRecorded, *, key: str, source: str) -> None:
        """Publish a registration on ``hygie.ingest.patient.v1`` (event id derived from
        ``key``: a re-run sends the same event, which the index's inbox skips)."""
        envelope = Envelope(
            id=uuid.uuid5(NAMESPACE, key),
            type=event.event_type,
            source=source,
            subject=event.aggregate_id,
            time=datetime.now(UTC),
            data=orjson.dumps(event.model_dump(mode="json", exclude_none=True)),
        )
        await self.producer.send(
            event.topic, value=envelope.data, key=envelope.key, headers=envelope.headers()
        )

    async def flush(self) -> None:
        await self.producer.flush()

    # --- EHR store ---------------------------------------------------------------------
    async def create_ehr(self, ehr_id: str, *, namespace: str, subject: str) -> str:
        """PUT /ehr/{ehr_id} with the subject's IPP; 'created' or 'existing'."""
        status = {
            "_type": "EHR_STATUS",
            "archetype_node_id": "openEHR-EHR-EHR_STATUS.generic.v1",
            "name": {"_type": "DV_TEXT", "value": "EHR Status"},
            "subject": {
                "_type": "PARTY_SELF",
                "external_ref": {
                    "_type": "PARTY_REF",
                    "id": {"_type": "GENERIC_ID", "value": subject, "scheme": "IPP"},
                    "namespace": namespace,
                    "type": "PERSON",
                },
            },
            "is_queryable": True,
            "is_modifiable": True,
        }
        resp = await self.ehr.put(f"/ehr/{ehr_id}", json=status, headers=self.headers)
        if resp.status_code == 201:
            return "created"
        if resp.status_code == 409:
            return "existing"
        raise DemoError(f"PUT /ehr/{ehr_id}: {resp.status_code} {resp.text[:300]}")

    async def system(self, ehr_id: str) -> str:
        """The EHR store's system id (the middle of version uids)."""
        if self.system_id is None:
            resp = await self.ehr.get(f"/ehr/{ehr_id}", headers=self.headers)
            resp.raise_for_status()
            self.system_id = str(resp.json()["system_id"]["value"])
        return self.system_id

    async def commit(self, ehr_id: str, composition: dict[str, Any]) -> tuple[str, str]:
        """POST a canonical composition: ('created' | 'existing' | 'refused', detail)."""
        return await self._create(f"/ehr/{ehr_id}/composition", composition, "existing")

    async def contribute(self, ehr_id: str, compositions: list[dict[str, Any]]) -> tuple[str, str]:
        """POST one CONTRIBUTION creating every composition (all or none): ('created' |
        'conflict' | 'refused', detail); a conflict means some exist (a re-run)."""
        body = {
            "versions": [
                {"_type": "ORIGINAL_VERSION", "data": c, "lifecycle_state": _COMPLETE}
                for c in compositions
            ]
        }
        return await self._create(f"/ehr/{ehr_id}/contribution", body, "conflict")

    async def _create(self, path: str, body: dict[str, Any], on_409: str) -> tuple[str, str]:
        """POST to the EHR store: ('created' | ``on_409`` | 'refused', detail)."""
        resp = await self.ehr.post(
            path,
            content=orjson.dumps(body),
            headers={
                **self.headers,
                "Content-Type": "application/json",
                "Prefer": "return=minimal",
            },
        )
        if resp.status_code == 201:
            return "created", ""
        if resp.status_code == 409:
            return on_409, ""
        return "refused", f"{resp.status_code} {resp.text[:600]}"

    async def exists(self, ehr_id: str, uid: str) -> bool:
        """Whether the composition ``uid`` is in the EHR (GET, 200 or 404)."""
        resp = await self.ehr.get(f"/ehr/{ehr_id}/composition/{uid}", headers=self.headers)
        if resp.status_code not in (200, 404):
            raise DemoError(f"GET composition {uid}: {resp.status_code} {resp.text[:300]}")
        return resp.status_code == 200

    async def update(
        self, ehr_id: str, composition: dict[str, Any], *, version: int
    ) -> tuple[str, str]:
        """PUT the next version of a composition (If-Match: ``version``); a 412 means a
        later version is there already (a re-run)."""
        vo_id = composition["uid"]["value"]
        system = await self.system(ehr_id)
        body = {k: v for k, v in composition.items() if k != "uid"}
        resp = await self.ehr.put(
            f"/ehr/{ehr_id}/composition/{vo_id}",
            content=orjson.dumps(body),
            headers={
                **self.headers,
                "Content-Type": "application/json",
                "If-Match": f"{vo_id}::{system}::{version}",
                "Prefer": "return=minimal",
            },
        )
        if resp.status_code in (200, 204):
            return "created", ""
        if resp.status_code == 412:
            return "existing", ""
        return "refused", f"{resp.status_code} {resp.text[:600]}"


_COMPLETE = {
    "_type": "DV_CODED_TEXT",
    "value": "complete",
    "defining_code": {
        "_type": "CODE_PHRASE",
        "terminology_id": {"_type": "TERMINOLOGY_ID", "value": "openehr"},
        "code_string": "532",
    },
}


class DemoError(RuntimeError):
    """The platform answered something the demo cannot go on from."""


async def ensure_templates(
    client: httpx.AsyncClient, headers: dict[str, str], *, root: str = ""
) -> dict[str, str]:
    """Upload every shipped template the EHR store does not have; template id ->
    'created' | 'existing' | 'conflict: <reason>'. ``root`` is the openEHR API root
    relative to the client's base URL (empty when the base URL is ``.../openehr/v1``)."""
    resp = await client.get(f"{root}/definition/template/adl1.4", headers=headers)
    resp.raise_for_status()
    present = {t["template_id"] for t in resp.json()}
    result: dict[str, str] = {}
    for template_id, opt in shipped_opts().items():
        if template_id in present:
            result[template_id] = "existing"
            continue
        up = await client.post(
            f"{root}/definition/template/adl1.4",
            content=opt,
            headers={**headers, "Content-Type": "application/xml"},
        )
        if up.status_code == 201:
            result[template_id] = "created"
        elif up.status_code == 409:
            result[template_id] = f"conflict: {up.text[:200]}"
        else:
            raise DemoError(f"template {template_id}: {up.status_code} {up.text[:300]}")
    return result
