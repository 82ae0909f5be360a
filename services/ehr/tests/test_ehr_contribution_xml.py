"""CONTRIBUTIONs in canonical XML: POSTed as ``<contribution>`` with ORIGINAL_VERSION
``<versions>`` (the suite's ``*.version.xml`` documents, wrapped), all or nothing; read
back in XML with ``Accept: application/xml``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ehr_support import CONFORMANCE, Client
from lxml import etree

from hygie_ehr.domain.canonical_xml import xml_to_canonical
from hygie_ehr.domain.opt import parse_opt

BASE = "/openehr/v1/ehr"
MINIMAL = CONFORMANCE / "valid_templates" / "minimal"
VERSIONS = sorted(MINIMAL.glob("*.version*.xml"))
NS = "http://schemas.openehr.org/v1"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML = {"Content-Type": "application/xml"}


def _contribution(*versions: bytes, committer: str = "Dr. XML") -> bytes:
    """A CONTRIBUTION document holding these ORIGINAL_VERSION documents."""
    root = etree.Element(f"{{{NS}}}contribution", nsmap={None: NS, "xsi": XSI})
    for raw in versions:
        version = etree.fromstring(raw)
        version.tag = f"{{{NS}}}versions"
        version.set(f"{{{XSI}}}type", "ORIGINAL_VERSION")
        root.append(version)
    audit = etree.SubElement(root, f"{{{NS}}}audit")
    etree.SubElement(audit, f"{{{NS}}}system_id").text = "client"
    who = etree.SubElement(audit, f"{{{NS}}}committer")
    who.set(f"{{{XSI}}}type", "PARTY_IDENTIFIED")
    etree.SubElement(who, f"{{{NS}}}name").text = committer
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _template_of(raw: bytes) -> str:
    data = xml_to_canonical(raw)["data"]
    return str(data["archetype_details"]["template_id"]["value"])


def _opts() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted(MINIMAL.glob("*.opt")):
        out.setdefault(parse_opt(path.read_bytes()).template_id, path)
    return out


def _without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys}


async def test_the_suites_versions_commit_in_xml_contributions_and_read_back(
    client: Client,
) -> None:
    opts = _opts()
    ehr_id = await client.new_ehr()
    committed, refused = 0, []
    for path in VERSIONS:
        raw = path.read_bytes()
        template_id = _template_of(raw)
        await client.upload(opts[template_id]) if template_id in opts else None
        resp = await client.http.post(
            f"{BASE}/{ehr_id}/contribution",
            content=_contribution(raw),
            headers={
                **client.headers,
                **XML,
                "Accept": "application/xml",
                "Prefer": "return=representation",
            },
        )
        sent = xml_to_canonical(raw)["data"]
        # judged exactly as the same composition POSTed alone in JSON
        alone = await client.commit(ehr_id, sent)
        if alone.status_code != 201:
            assert resp.status_code == alone.status_code == 422, f"{path.name}: {resp.text}"
            assert sorted(i["path"] for i in resp.json()["issues"]) == sorted(
                "/versions[0]/data" + i["path"] for i in alone.json()["issues"]
            )
            refused.append(path.name)
            continue
        assert resp.status_code == 201, f"{path.name}: {resp.text}"
        assert resp.headers["content-type"].startswith("application/xml")
        answer = xml_to_canonical(resp.content)
        assert answer["_type"] == "CONTRIBUTION"
        assert answer["audit"]["committer"]["name"] == "Dr. XML"
        [ref] = answer["versions"]
        uid = ref["id"]["value"]
        stored = await client.http.get(f"{BASE}/{ehr_id}/composition/{uid}", headers=client.headers)
        assert stored.status_code == 200, f"{path.name}: {stored.text}"
        assert _without(stored.json(), "uid") == _without(sent, "uid"), path.name

        location = resp.headers["Location"].replace("http://test", "")
        as_json = await client.http.get(location, headers=client.headers)
        as_xml = await client.http.get(
            location, headers={**client.headers, "Accept": "application/xml"}
        )
        assert as_xml.status_code == 200
        assert etree.QName(etree.fromstring(as_xml.content)).localname == "contribution"
        assert xml_to_canonical(as_xml.content) == as_json.json()
        committed += 1
    # the suite's Minimal action 2 instance has no ism_transition (mandatory in the RM); its
    # minimal_admin version holds the ordinal 1|at0010, outside its template's list
    assert refused == ["minimal_action_2.instance.version.xml", "minimal_admin.version.xml"]
    assert committed == len(VERSIONS) - 2 >= 7


async def test_an_xml_contribution_is_all_or_nothing(client: Client) -> None:
    await client.upload(MINIMAL / "minimal_evaluation.opt")
    ehr_id = await client.new_ehr()
    good = (MINIMAL / "minimal_evaluation.version.xml").read_bytes()
    broken = good.replace(b">minimal_evaluation.en.v1<", b">no_such_template.v1<")
    assert broken != good
    resp = await client.http.post(
        f"{BASE}/{ehr_id}/contribution",
        content=_contribution(good, broken),
        headers={**client.headers, **XML},
    )
    assert resp.status_code == 422, resp.text
    assert [i["path"] for i in resp.json()["issues"]] == [
        "/versions[1]/data/archetype_details/template_id"
    ]
    assert await client.svc.fetch("SELECT 1 FROM versioned_object WHERE kind = 'COMPOSITION'") == []
    assert len(await client.svc.fetch("SELECT 1 FROM contribution")) == 1  # the EHR's own


async def test_bad_xml_contributions_are_refused_precisely(client: Client) -> None:
    ehr_id = await client.new_ehr()
    url = f"{BASE}/{ehr_id}/contribution"
    headers = {**client.headers, **XML}
    malformed = await client.http.post(url, content=b"<contribution><versions>", headers=headers)
    assert malformed.status_code == 400
    assert malformed.json()["type"].endswith("malformed-xml")
    empty = await client.http.post(url, content=_contribution(), headers=headers)
    assert empty.status_code == 400
    assert "versions" in empty.json()["message"]
    entity = (
        b'<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<contribution xmlns="http://schemas.openehr.org/v1"><versions><data>&x;</data>'
        b"</versions></contribution>"
    )
    resp = await client.http.post(url, content=entity, headers=headers)
    assert 400 <= resp.status_code < 500
    assert "root:" not in resp.text
    assert len(await client.svc.fetch("SELECT 1 FROM contribution")) == 1
