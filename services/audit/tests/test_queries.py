"""ATX feed, AuditEvent search, patient access report, and the platform's record_access
helper used by a service, on the real database and broker."""

from __future__ import annotations

from audit_support import SPEC, audit_event, entries
from fastapi import APIRouter, Depends, Request

from hygie_contracts.access import ACCESS_TOPIC
from hygie_platform.access import record_access
from hygie_platform.security import Role, require_roles
from hygie_platform.service import Platform, ServiceParts, ServiceSpec
from hygie_platform.testing import start_service

PATIENT = "urn:oid:1.2.250.1.71.4.2.1|0123"


def _reader(platform: Platform) -> ServiceParts:
    """A service reading patient data the way ehr/patient_index should."""
    router = APIRouter()

    @router.get("/records/{pid}", dependencies=[Depends(require_roles(Role.CLINICIAN))])
    async def read(pid: str, request: Request) -> dict[str, str]:
        async with request.app.state.uow() as uow:
            await record_access(
                uow,
                request,
                patient=f"urn:hygie:ipp|{pid}",
                resource=f"EHR/{pid}",
                action="read",
            )
        return {"pid": pid}

    return ServiceParts(routers=[router])


READER = ServiceSpec(name="reader", bootstrap=_reader, publishes=(ACCESS_TOPIC,))


async def test_record_access_is_one_line_and_reaches_the_patient_report(hygie_settings):
    async with (
        start_service(READER, hygie_settings) as reader,
        start_service(SPEC, hygie_settings) as audit,
    ):
        for user in ("dr-a", "dr-b"):
            resp = await reader.client.get(
                "/records/P1",
                headers={
                    **reader.auth("clinician", user=user),
                    "X-Purpose-Of-Use": "TREAT",
                    "X-Request-Id": f"req-{user}",
                },
            )
            assert resp.status_code == 200
        await entries(audit, 2)
        url = "/audit/patients/urn:hygie:ipp|P1/access-report"
        report = (await audit.client.get(url, headers=audit.auth("integration"))).json()
        assert report["accesses"] == 2
        line = report["entries"][0]
        assert line["purpose"] == ["TREAT"]
        assert line["roles"] == ["clinician"]
        assert line["service"] == "/hygie/reader"
        assert line["agent"] == "(redacted)"
        officer = audit.auth("admin", "privacy-officer")
        shown = (await audit.client.get(url, headers=officer)).json()
        assert {e["agent"] for e in shown["entries"]} == {"dr-a", "dr-b"}
        page = await audit.client.get(url, headers={**officer, "Accept": "text/html"})
        assert page.headers["content-type"].startswith("text/html")
        assert "dr-a" in page.text
        assert "<script" not in page.text
        forbidden = await audit.client.get(url, headers=audit.auth("clinician"))
        assert forbidden.status_code == 403


async def test_invalid_audit_events_are_refused_with_the_offending_path(hygie_settings):
    async with start_service(SPEC, hygie_settings) as audit:
        headers = audit.auth("integration")
        cases = [
            ({"resourceType": "Patient"}, "AuditEvent.resourceType"),
            ({**audit_event(), "agent": []}, "AuditEvent.agent"),
            ({**audit_event(), "recorded": "yesterday"}, "AuditEvent.recorded"),
            ({**audit_event(), "action": "X"}, "AuditEvent.action"),
            ({k: v for k, v in audit_event().items() if k != "source"}, "AuditEvent.source"),
        ]
        for body, path in cases:
            resp = await audit.client.post("/fhir/AuditEvent", json=body, headers=headers)
            assert resp.status_code == 422, resp.text
            assert outcome(resp)["expression"][0].startswith(path)
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [{"resource": audit_event()}, {"resource": {"resourceType": "X"}}],
        }
        resp = await audit.client.post("/fhir/AuditEvent", json=bundle, headers=headers)
        assert resp.status_code == 422
        assert outcome(resp)["expression"] == ["Bundle.entry[1].resource.resourceType"]
        resp = await audit.client.post("/fhir/AuditEvent", content=b"{nope", headers=headers)
        assert resp.status_code == 400
        assert outcome(resp)["details"]["coding"][0]["code"] == "invalid-json"
        assert await audit.fetch("SELECT seq FROM audit_entry") == []  # all or none
        clinician = await audit.client.post(
            "/fhir/AuditEvent", json=audit_event(), headers=audit.auth("clinician")
        )
        assert clinician.status_code == 403
        assert outcome(clinician)["code"] == "forbidden"
        anonymous = await audit.client.post("/fhir/AuditEvent", json=audit_event())
        assert anonymous.status_code == 401
        assert outcome(anonymous)["code"] == "login"
        assert anonymous.headers["www-authenticate"].startswith("Bearer")


def outcome(resp):  # type: ignore[no-untyped-def]
    """The one issue of an OperationOutcome answer (FHIR R4: errors of the FHIR API)."""
    assert resp.headers["content-type"].startswith("application/fhir+json"), resp.text
    body = resp.json()
    assert body["resourceType"] == "OperationOutcome", body
    assert len(body["issue"]) == 1
    assert body["issue"][0]["severity"] == "error"
    return body["issue"][0]


async def test_search_filters_and_pages(hygie_settings):
    async with start_service(SPEC, hygie_settings) as audit:
        feed = audit.auth("integration")
        resp = await audit.client.post("/fhir/AuditEvent", json=audit_event(), headers=feed)
        assert resp.status_code == 201
        assert resp.headers["location"].startswith("/fhir/AuditEvent/")
        others = [
            audit_event(patient="urn:x|other", action="C", recorded="2026-01-05T08:00:00Z"),
            *[audit_event(action="U", outcome="4") for _ in range(4)],
        ]
        bundle = {
            "resourceType": "Bundle",
            "type": "batch",
            "entry": [{"resource": r} for r in others],
        }
        await audit.client.post("/fhir/AuditEvent", json=bundle, headers=feed)
        await entries(audit, 6)
        admin = audit.auth("admin")

        async def ids(**params):  # type: ignore[no-untyped-def]
            resp = await audit.client.get("/fhir/AuditEvent", params=params, headers=admin)
            assert resp.status_code == 200, resp.text
            return resp.json()

        assert len((await ids(patient=PATIENT))["entry"]) == 5
        assert len((await ids(patient="urn:x|other"))["entry"]) == 1
        assert len((await ids(agent="dr-house"))["entry"]) == 6
        assert len((await ids(action="U", outcome="4"))["entry"]) == 4
        assert len((await ids(date=["ge2026-01-01", "lt2026-02-01"]))["entry"]) == 1
        assert len((await ids(date="2026-11-28"))["entry"]) == 5
        assert (
            len(
                (await ids(type="http://terminology.hl7.org/CodeSystem/audit-event-type|rest"))[
                    "entry"
                ]
            )
            == 6
        )
        assert len((await ids(subtype="read"))["entry"]) == 6
        assert len((await ids(entity=PATIENT))["entry"]) == 5
        page = await ids(_count=4)
        assert len(page["entry"]) == 4
        next_url = next(link["url"] for link in page["link"] if link["relation"] == "next")
        rest = (await audit.client.get(next_url, headers=admin)).json()
        assert len(rest["entry"]) == 2
        assert not [link for link in rest["link"] if link["relation"] == "next"]
        for params, expression in [
            ({"date": "ge-soon"}, "date"),
            ({"_count": 0}, "_count"),
            ({"_count": "many"}, "_count"),
            ({"_cursor": "x"}, "_cursor"),
        ]:
            bad = await audit.client.get("/fhir/AuditEvent", params=params, headers=admin)
            assert bad.status_code == 400, (params, bad.text)
            issue = outcome(bad)
            assert issue["code"] == "invalid"
            assert issue["expression"] == [expression]
        lenient = await audit.client.get(
            "/fhir/AuditEvent", params={"colour": "red"}, headers=admin
        )
        assert lenient.status_code == 200  # unknown parameters are ignored by default
        strict = await audit.client.get(
            "/fhir/AuditEvent",
            params={"colour": "red"},
            headers={**admin, "Prefer": "handling=strict"},
        )
        assert strict.status_code == 400
        assert outcome(strict)["expression"] == ["colour"]
        missing = await audit.client.get("/fhir/AuditEvent/nope", headers=admin)
        assert missing.status_code == 404
        assert outcome(missing)["code"] == "not-found"
        problem = await audit.client.get("/audit/proof/inclusion?leaf=99", headers=admin)
        assert problem.headers["content-type"] == "application/problem+json"  # not FHIR
        assert (
            await audit.client.get("/fhir/AuditEvent", headers=audit.auth("clinician"))
        ).status_code == 403
