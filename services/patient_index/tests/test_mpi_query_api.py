"""PDQm search (ITI-78), PIXm $ihe-pix (ITI-83) and $match (ITI-119)."""

from hygie_patient_index.testing import INS_NIR_SYSTEM, IPP_A, IPP_B, fhir_patient, nir

IPP_C = "urn:oid:1.2.250.1.999.3.1"


def put(mpi, body, system=IPP_A):
    value = body["identifier"][0]["value"]
    return mpi.client.put(
        f"/fhir/Patient?identifier={system}|{value}", json=body, headers=mpi.auth("integration")
    )


async def search(mpi, query):
    resp = await mpi.client.get(f"/fhir/Patient?{query}", headers=mpi.auth("clinician"))
    assert resp.status_code == 200, resp.text
    return resp.json()


async def seed(mpi):
    await put(mpi, fhir_patient("A1", family="Lefèvre", given=("Éloïse",)))
    await put(
        mpi,
        fhir_patient(
            "A2",
            family="Martin",
            given=("Luc",),
            gender="male",
            birth_date="1970-03-04",
            insee="69123",
        ),
    )


async def test_pdqm_search(mpi):
    await seed(mpi)
    assert (await search(mpi, "family=lefev"))["total"] == 1  # prefix, accents ignored
    assert (await search(mpi, "family:exact=Lefèvre"))["total"] == 1
    assert (await search(mpi, "family:exact=Lefevre"))["total"] == 0
    assert (await search(mpi, "given=eloise&gender=female"))["total"] == 1
    assert (await search(mpi, "family=martin&gender=female"))["total"] == 0
    assert (await search(mpi, "birthdate=1970-03-04&family=mart"))["total"] == 1
    assert (await search(mpi, "birthdate=1970"))["total"] == 1
    assert (await search(mpi, "birthdate=ge1980-01-01"))["total"] == 1
    assert (await search(mpi, f"identifier={IPP_A}|A2"))["total"] == 1
    assert (await search(mpi, "address-postalcode=750"))["total"] == 2
    assert (await search(mpi, "address-city=paris&family=martin"))["total"] == 1
    bundle = await search(mpi, "family=martin")
    assert bundle["type"] == "searchset"
    assert bundle["entry"][0]["resource"]["resourceType"] == "Patient"


async def test_pdqm_bad_parameters_are_outcomes(mpi):
    for query in ("birthdate=yesterday", "gender=x", "foo=bar", "family:contains=x"):
        resp = await mpi.client.get(f"/fhir/Patient?{query}", headers=mpi.auth("clinician"))
        assert resp.status_code == 400, query
        assert resp.json()["resourceType"] == "OperationOutcome"


async def test_ihe_pix(mpi):
    ins = nir()
    await put(mpi, fhir_patient("A1", ins=ins, status="QUAL"))
    await put(mpi, fhir_patient("B1", IPP_B), IPP_B)
    await put(
        mpi,
        fhir_patient(
            "C1", IPP_C, family="Autre", given=("Paul",), gender="male", birth_date="1940-02-02"
        ),
        IPP_C,
    )
    auth = mpi.auth("clinician")
    resp = await mpi.client.get(f"/fhir/Patient/$ihe-pix?sourceIdentifier={IPP_A}|A1", headers=auth)
    assert resp.status_code == 200, resp.text
    idents = [
        p["valueIdentifier"] for p in resp.json()["parameter"] if p["name"] == "targetIdentifier"
    ]
    assert {"system": IPP_B, "value": "B1"} in idents
    assert {"system": INS_NIR_SYSTEM, "value": ins} in idents
    assert all(i["system"] != IPP_C for i in idents)
    only_b = await mpi.client.get(
        f"/fhir/Patient/$ihe-pix?sourceIdentifier={IPP_A}|A1&targetSystem={IPP_B}", headers=auth
    )
    assert [
        p["valueIdentifier"]["system"]
        for p in only_b.json()["parameter"]
        if p["name"] == "targetIdentifier"
    ] == [IPP_B]
    by_ins = await mpi.client.get(
        f"/fhir/Patient/$ihe-pix?sourceIdentifier={INS_NIR_SYSTEM}|{ins}", headers=auth
    )
    assert by_ins.status_code == 200
    errors = {
        "sourceIdentifier=urn:oid:9.9|A1": (400, "sourceIdentifier Assigning Authority not found"),
        f"sourceIdentifier={IPP_A}|A1&targetSystem=urn:oid:9.9": (403, "targetSystem not found"),
        f"sourceIdentifier={IPP_A}|ZZ": (404, "sourceIdentifier Patient Identifier not found"),
        "sourceIdentifier=A1": (400, "sourceIdentifier must be system|value"),
    }
    for query, (status, diagnostics) in errors.items():
        resp = await mpi.client.get(f"/fhir/Patient/$ihe-pix?{query}", headers=auth)
        assert resp.status_code == status, query
        assert resp.json()["issue"][0]["diagnostics"] == diagnostics


async def test_match_returns_graded_candidates_best_first(mpi):
    await seed(mpi)
    query = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "resource",
                "resource": fhir_patient("x", family="LEFEVRE", given=("Eloise",))
                | {"identifier": []},
            }
        ],
    }
    resp = await mpi.client.post("/fhir/Patient/$match", json=query, headers=mpi.auth("clinician"))
    assert resp.status_code == 200, resp.text
    entries = resp.json()["entry"]
    assert entries[0]["resource"]["name"][0]["family"] == "Lefèvre"
    assert entries[0]["search"]["extension"][0]["valueCode"] == "certain"
    assert 0 < entries[0]["search"]["score"] <= 1
