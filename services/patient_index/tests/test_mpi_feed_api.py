"""The identity feed (PIXm ITI-104) and Patient read over HTTP, on real PostgreSQL."""

from hygie_patient_index.testing import INS_NIR_SYSTEM, IPP_A, IPP_B, fhir_patient, nir

W = ("integration",)


def put(mpi, body, system=IPP_A, value=None):
    value = value or body["identifier"][0]["value"]
    return mpi.client.put(
        f"/fhir/Patient?identifier={system}|{value}", json=body, headers=mpi.auth(*W)
    )


async def journal(mpi, event_type=None):
    rows = await mpi.fetch("SELECT event_type, event_key, data FROM journal ORDER BY seq")
    return [r for r in rows if event_type is None or r["event_type"] == event_type]


async def test_feed_creates_a_source_and_its_golden_record(mpi):
    resp = await put(mpi, fhir_patient("A1"))
    assert resp.status_code == 201, resp.text
    source = resp.json()
    assert source["meta"]["tag"][0]["code"] == "source-record"
    golden_ref = source["link"][0]["other"]["reference"]
    assert source["link"][0]["type"] == "refer"
    golden = (await mpi.client.get(f"/fhir/{golden_ref}", headers=mpi.auth("clinician"))).json()
    assert golden["meta"]["tag"][0]["code"] == "golden-record"
    assert {"system": IPP_A, "value": "A1", "use": "usual"} in golden["identifier"]
    assert golden["name"][0]["family"] == "Dupont"
    registered = await journal(mpi, "hygie.patient.patient.registered.v1")
    assert registered[0]["event_key"] == golden["id"]
    assert registered[0]["data"]["birth_place_code"] == "75056"
    assert "family" not in registered[0]["data"]  # no names on the topic


async def test_same_put_twice_is_idempotent(mpi):
    assert (await put(mpi, fhir_patient("A1"))).status_code == 201
    before = len(await journal(mpi))
    again = await put(mpi, fhir_patient("A1"))
    assert again.status_code == 200
    assert again.json()["meta"]["versionId"] == "1"
    assert len(await journal(mpi)) == before


async def test_same_person_from_another_domain_is_auto_linked(mpi):
    a = (await put(mpi, fhir_patient("A1"))).json()
    linked = await put(mpi, fhir_patient("B7", IPP_B, family="DUPONT"), IPP_B)
    assert linked.status_code == 201  # a new source record, linked to an existing patient
    b = linked.json()
    assert a["link"][0]["other"] == b["link"][0]["other"]
    linked = await journal(mpi, "hygie.patient.patient.linked.v1")
    assert [r["data"]["method"] for r in linked] == ["new", "probabilistic"]


async def test_invalid_nir_key_is_an_operation_outcome_and_nothing_is_stored(mpi):
    bad = nir()[:13] + "00"
    resp = await put(mpi, fhir_patient("A1", ins=bad, status="RECUP"))
    assert resp.status_code == 400
    outcome = resp.json()
    assert outcome["resourceType"] == "OperationOutcome"
    rules = {i["details"]["coding"][0]["code"] for i in outcome["issue"]}
    assert "nir-key" in rules
    assert any("identifier" in i["expression"][0] for i in outcome["issue"])
    assert await mpi.fetch("SELECT * FROM source_record") == []
    assert await journal(mpi) == []


async def test_bad_input_rules(mpi):
    cases = {
        "sex-code-unknown": fhir_patient("A1", gender="x"),
        "birth-date-impossible": fhir_patient("A1", birth_date="2990-01-01"),
        "date-format": fhir_patient("A1", birth_date="12/05/1985"),
        "status-requires-ins": fhir_patient("A1", status="QUAL"),
        "ins-oid": fhir_patient("A1")
        | {
            "identifier": [
                {"system": IPP_A, "value": "A1"},
                {
                    "system": "urn:oid:1.2.3",
                    "value": nir(),
                    "type": {"coding": [{"code": "INS-NIR"}]},
                },
            ]
        },
    }
    for rule, body in cases.items():
        resp = await put(mpi, body)
        assert resp.status_code == 400, (rule, resp.text)
        assert rule in {i["details"]["coding"][0]["code"] for i in resp.json()["issue"]}, rule
    assert await mpi.fetch("SELECT * FROM source_record") == []


async def test_identifier_bound_to_another_patient_is_refused(mpi):
    assert (await put(mpi, fhir_patient("A1"))).status_code == 201
    clash = fhir_patient("A2") | {
        "identifier": [{"system": IPP_A, "value": "A2"}, {"system": IPP_A, "value": "A1"}]
    }
    resp = await put(mpi, clash, value="A2")
    assert resp.status_code == 409
    assert resp.json()["issue"][0]["code"] == "duplicate"
    posted = await mpi.client.post("/fhir/Patient", json=fhir_patient("A1"), headers=mpi.auth(*W))
    assert posted.status_code == 409
    assert len(await mpi.fetch("SELECT * FROM source_record")) == 1


async def test_ins_travels_only_for_qualified_identities(mpi):
    ins = nir()
    recup = await put(mpi, fhir_patient("A1", ins=ins, status="RECUP"))
    assert recup.status_code == 201, recup.text
    assert all(i["system"] != INS_NIR_SYSTEM for i in recup.json()["identifier"])
    assert all(r["data"].get("ins") is None for r in await journal(mpi))
    qual = await put(mpi, fhir_patient("A1", ins=ins, status="QUAL"))
    assert qual.status_code == 200
    assert {"system": INS_NIR_SYSTEM, "value": ins} in [
        {k: i[k] for k in ("system", "value")} for i in qual.json()["identifier"]
    ]
    changed = await journal(mpi, "hygie.patient.patient.identity_status_changed.v1")
    assert changed[-1]["data"]["identity_status"] == "QUAL"
    assert changed[-1]["data"]["ins"]["matricule"] == ins
    updated = await journal(mpi, "hygie.patient.patient.updated.v1")
    assert updated[-1]["data"]["ins"]["matricule"] == ins


async def test_same_trusted_ins_links_deterministically(mpi):
    ins = nir()
    a = (await put(mpi, fhir_patient("A1", ins=ins, status="RECUP"))).json()
    b = await put(mpi, fhir_patient("B1", IPP_B, ins=ins, status="RECUP", family="Durand"), IPP_B)
    assert b.json()["link"] == a["link"]
    linked = await journal(mpi, "hygie.patient.patient.linked.v1")
    assert linked[-1]["data"]["method"] == "deterministic"


async def test_editing_a_strict_trait_of_a_qualified_identity_drops_it_to_prov(mpi):
    ins = nir()
    await put(mpi, fhir_patient("A1", ins=ins, status="QUAL"))
    resp = await put(mpi, fhir_patient("A1", ins=ins, status="QUAL", given=("Maria",)))
    assert resp.status_code == 200
    status = resp.json()["extension"][0]["extension"][0]["valueCoding"]["code"]
    assert status == "PROV"
    assert all(i["system"] != INS_NIR_SYSTEM for i in resp.json()["identifier"])


async def test_unknown_patient_is_a_404_outcome(mpi):
    resp = await mpi.client.get(
        "/fhir/Patient/0190c0de-0000-7000-8000-000000000000", headers=mpi.auth("clinician")
    )
    assert resp.status_code == 404
    assert resp.json()["issue"][0]["code"] == "not-found"


async def test_reading_needs_a_role(mpi):
    resp = await mpi.client.get("/fhir/Patient", headers=mpi.auth("analyst"))
    assert resp.status_code == 403
    assert resp.json()["resourceType"] == "OperationOutcome"


async def test_concurrent_feeds_of_one_identifier_make_one_source_record(mpi):
    import asyncio

    replies = await asyncio.gather(*(put(mpi, fhir_patient("A1")) for _ in range(5)))
    assert sorted(r.status_code for r in replies)[0] in (200, 201)
    assert all(r.status_code in (200, 201) for r in replies), [r.text for r in replies]
    assert [r.status_code for r in replies].count(201) == 1
    assert len(await mpi.fetch("SELECT * FROM source_record")) == 1
    assert len(await mpi.fetch("SELECT * FROM golden_record")) == 1


async def test_location_of_a_created_record_can_be_read(mpi):
    resp = await put(mpi, fhir_patient("A1"))
    location = resp.headers["location"].removeprefix("http://test")
    got = await mpi.client.get(location, headers=mpi.auth("clinician"))
    assert got.status_code == 200
    assert got.json()["id"] == resp.json()["id"]
    stale = await mpi.client.get(
        location.replace("_history/1", "_history/9"), headers=mpi.auth("clinician")
    )
    assert stale.status_code == 404


async def test_reads_and_searches_are_journaled_as_access_events(mpi):
    resp = await put(mpi, fhir_patient("A7"))
    source_id = resp.json()["id"]
    got = await mpi.client.get(f"/fhir/Patient/{source_id}", headers=mpi.auth("clinician"))
    assert got.status_code == 200
    golden = (await mpi.fetch("SELECT golden_id FROM source_record"))[0]["golden_id"]
    found = await mpi.client.get(f"/fhir/Patient?_id={golden}", headers=mpi.auth("clinician"))
    assert found.status_code == 200
    assert found.json()["total"] == 1
    accesses = await mpi.fetch(
        "SELECT event_key, data FROM journal WHERE topic = 'hygie.access.v1' ORDER BY seq"
    )
    actions = [a["data"]["action"] for a in accesses]
    assert actions[0] == "R"  # FHIR AuditEvent action code of a read
    assert len(actions) == 2  # the read, then the search that returned the patient
    assert accesses[0]["event_key"] == f"Patient/{golden}"


async def test_updating_with_a_stale_if_match_returns_412_and_keeps_version_2(mpi):
    url = f"/fhir/Patient?identifier={IPP_A}|A1"
    assert (await put(mpi, fhir_patient("A1"))).status_code == 201
    h = {**mpi.auth(*W), "If-Match": 'W/"1"'}
    moved = fhir_patient("A1", address=[{"city": "Lyon", "postalCode": "69003"}])
    updated = await mpi.client.put(url, json=moved, headers=h)
    assert updated.status_code == 200, updated.text
    assert updated.headers["ETag"] == 'W/"2"'
    stale = await mpi.client.put(url, json=fhir_patient("A1"), headers=h)
    assert stale.status_code == 412
    assert stale.json()["resourceType"] == "OperationOutcome"
    rows = await mpi.fetch("SELECT version, traits FROM source_record")
    assert [r["version"] for r in rows] == [2]
    assert rows[0]["traits"]["addresses"][0]["city"] == "Lyon"
    bad = await mpi.client.put(url, json=moved, headers={**h, "If-Match": "yesterday"})
    assert bad.status_code == 400
    missing = f"/fhir/Patient?identifier={IPP_A}|NOPE"
    absent = await mpi.client.put(missing, json=fhir_patient("NOPE"), headers=h)
    assert absent.status_code == 412
