"""Helpers of the EHR store's tests: the EHRbase conformance data (read in place, never
copied) and a clinician client speaking openEHR REST."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hygie_platform.testing import RunningService

#: ``../shared/conformance/openehr`` beside the repository
CONFORMANCE = (
    Path(__file__).resolve().parents[3].parent
    / "shared"
    / "conformance"
    / "openehr"
    / "ehrbase-integration-tests"
)
OPT = CONFORMANCE / "valid_templates" / "minimal" / "minimal_evaluation.opt"
COMPOSITION = CONFORMANCE / "compositions" / "CANONICAL_JSON" / "minimal_evaluation.en.v1__.json"


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())


def read_bytes(path: Path) -> bytes:
    return path.read_bytes()


class Client:
    """A clinician talking openEHR REST to the service under test."""

    def __init__(self, svc: RunningService) -> None:
        self.svc = svc
        self.http = svc.client
        self.headers = svc.auth("clinician")

    async def new_ehr(self, subject_id: str | None = None, namespace: str = "ipp.site-a") -> str:
        body = None
        if subject_id:
            body = {
                "_type": "EHR_STATUS",
                "subject": {"external_ref": {"id": {"value": subject_id}, "namespace": namespace}},
                "is_queryable": True,
                "is_modifiable": True,
            }
        resp = await self.http.post(
            "/openehr/v1/ehr",
            json=body,
            headers={**self.headers, "Prefer": "return=representation"},
        )
        assert resp.status_code == 201, resp.text
        return str(resp.json()["ehr_id"]["value"])

    async def upload(self, path: Path = OPT) -> None:
        resp = await self.http.post(
            "/openehr/v1/definition/template/adl1.4",
            content=read_bytes(path),
            headers={**self.headers, "Content-Type": "application/xml"},
        )
        assert resp.status_code == 201, resp.text

    async def commit(self, ehr_id: str, composition: dict[str, Any], **headers: str) -> Any:
        return await self.http.post(
            f"/openehr/v1/ehr/{ehr_id}/composition",
            json=composition,
            headers={**self.headers, **headers},
        )
