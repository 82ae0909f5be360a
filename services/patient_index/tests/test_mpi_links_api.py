"""Review queue, merge, unmerge and unlink over HTTP."""

from hygie_patient_index.testing import IPP_A, IPP_B, fhir_patient


def put(mpi, body, system=IPP_A):
    value = body["identifier"][0]["value"]
    return mpi.client.put(
        f"/fhir/Patient?identifier={system}|{value}", json=body, headers=mpi.auth("integration")
    )


async def golden_of(mpi, body, system=IPP_A):
    resp = await put(mpi, body, system)
    assert resp.status_code in (200, 201), resp.text
    return resp.json()["link"][0]["other"]["reference"].removeprefix("Patient/")


def params(**refs):
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": k.replace("_", "-"), "valueReference": {"reference": f"Patient/{v}"}}
            for k, v in refs.items()
        ],
    }


async def test_possible_duplicate_goes_to_review_and_link_resolves_it(mpi):
    a = await golden_of(mpi, fhir_patient("A1"))
    # same names, another day of the same birth year: likely but not certain
    b = await golden_of(mpi, fhir_patient("B1", IPP_B, birth_date="1985-09-21", address=[]), IPP_B)
    assert a != b
    admin = mpi.auth("admin", user="iv-cell")
    items = (await mpi.client.get("/fhir/review-items", headers=admin)).json()["items"]
    assert len(items) == 1
    item = items[0]
    assert item["candidate"] == f"Patient/{a}"
    assert item["reason"] == "strict-trait-disagreement"  # the birth dates differ
    assert "birth_date" in item["contributions"]["fields"]
    resp = await mpi.client.post(
        f"/fhir/review-items/{item['id']}/resolve",
        json={"resolution": "link", "comment": "same person"},
        headers=admin,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "linked"
    assert resp.json()["resolvedBy"] == "iv-cell"
    retired = (await mpi.client.get(f"/fhir/Patient/{b}", headers=admin)).json()
    assert retired["active"] is False
    assert retired["link"] == [{"other": {"reference": f"Patient/{a}"}, "type": "replaced-by"}]
    again = await mpi.client.post(
        f"/fhir/review-items/{item['id']}/resolve", json={"resolution": "link"}, headers=admin
    )
    assert again.status_code == 409


async def test_not_a_match_is_remembered(mpi):
    await golden_of(mpi, fhir_patient("A1"))
    await golden_of(mpi, fhir_patient("B1", IPP_B, birth_date="1985-09-21", address=[]), IPP_B)
    admin = mpi.auth("admin")
    item = (await mpi.client.get("/fhir/review-items", headers=admin)).json()["items"][0]
    resp = await mpi.client.post(
        f"/fhir/review-items/{item['id']}/resolve",
        json={"resolution": "not-a-match"},
        headers=admin,
    )
    assert resp.json()["status"] == "not-a-match"
    rows = await mpi.fetch("SELECT * FROM link_exclusion")
    assert len(rows) == 1


async def test_merge_and_unmerge(mpi):
    a = await golden_of(mpi, fhir_patient("A1"))
    b = await golden_of(
        mpi,
        fhir_patient(
            "B1", IPP_B, family="Bernard", given=("Luc",), gender="male", birth_date="1950-01-02"
        ),
        IPP_B,
    )
    admin = mpi.auth("admin")
    merged = await mpi.client.post(
        "/fhir/Patient/$merge", headers=admin, json=params(source_patient=b, target_patient=a)
    )
    assert merged.status_code == 200, merged.text
    systems = {i["system"] for i in merged.json()["identifier"]}
    assert {IPP_A, IPP_B} <= systems
    # a merge into an inactive record is refused, nothing changes
    refused = await mpi.client.post(
        "/fhir/Patient/$merge", headers=admin, json=params(source_patient=a, target_patient=b)
    )
    assert refused.status_code == 422
    assert refused.json()["issue"][0]["details"]["coding"][0]["code"] == "merge-into-inactive"
    pdq = (await mpi.client.get(f"/fhir/Patient?_id={b}", headers=admin)).json()
    assert pdq["entry"][0]["resource"]["active"] is False
    undone = await mpi.client.post("/fhir/Patient/$unmerge", headers=admin, json=params(patient=b))
    assert undone.status_code == 200, undone.text
    assert undone.json()["active"] is True
    assert {i["system"] for i in undone.json()["identifier"]} >= {IPP_B}
    events = [
        r["event_type"] for r in await mpi.fetch("SELECT event_type FROM journal ORDER BY seq")
    ]
    assert "hygie.patient.patient.merged.v1" in events
    assert "hygie.patient.patient.unmerged.v1" in events


async def test_feed_merge_with_replaced_by(mpi):
    a = await golden_of(mpi, fhir_patient("A1"))
    other = fhir_patient(
        "A2", family="Bernard", given=("Luc",), gender="male", birth_date="1950-01-02"
    )
    b = await golden_of(mpi, other)
    assert a != b
    replaced = other | {
        "active": False,
        "link": [
            {"type": "replaced-by", "other": {"identifier": {"system": IPP_A, "value": "A1"}}}
        ],
    }
    resp = await put(mpi, replaced)
    assert resp.status_code == 200, resp.text
    assert resp.json()["active"] is False
    retired = (await mpi.client.get(f"/fhir/Patient/{b}", headers=mpi.auth("admin"))).json()
    assert retired["link"][0] == {"other": {"reference": f"Patient/{a}"}, "type": "replaced-by"}


async def test_unlink_creates_a_new_patient_and_is_never_auto_linked_again(mpi):
    a = await golden_of(mpi, fhir_patient("A1"))
    src = (await put(mpi, fhir_patient("B1", IPP_B), IPP_B)).json()
    assert src["link"][0]["other"]["reference"] == f"Patient/{a}"
    admin = mpi.auth("admin")
    resp = await mpi.client.post(
        "/fhir/Patient/$unlink",
        headers=admin,
        json={
            "resourceType": "Parameters",
            "parameter": [
                {"name": "source-record", "valueReference": {"reference": f"Patient/{src['id']}"}},
                {"name": "reason", "valueString": "twin"},
            ],
        },
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["id"] != a
    events = [
        r["event_type"] for r in await mpi.fetch("SELECT event_type FROM journal ORDER BY seq")
    ]
    assert "hygie.patient.patient.unlinked.v1" in events
    assert len(await mpi.fetch("SELECT * FROM link_exclusion")) == 1


async def test_review_and_merge_need_the_admin_role(mpi):
    resp = await mpi.client.get("/fhir/review-items", headers=mpi.auth("clinician"))
    assert resp.status_code == 403


async def test_corrected_traits_revealing_a_duplicate_open_a_review(mpi):
    a = await golden_of(mpi, fhir_patient("A1"))
    typo = fhir_patient("B1", IPP_B, family="Xyzzy", given=("Zoé",), birth_date="1921-01-01")
    b = await golden_of(mpi, typo, IPP_B)
    assert a != b
    await golden_of(mpi, fhir_patient("B1", IPP_B), IPP_B)  # the traits are corrected
    items = (await mpi.client.get("/fhir/review-items", headers=mpi.auth("admin"))).json()
    assert [(i["reason"], i["candidate"]) for i in items["items"]] == [
        ("match-after-update", f"Patient/{a}")
    ]


async def test_review_items_read_as_fhir_tasks(mpi):
    a = await golden_of(mpi, fhir_patient("A1"))
    await golden_of(mpi, fhir_patient("B1", IPP_B, birth_date="1985-09-21", address=[]), IPP_B)
    admin = mpi.auth("admin", user="iv-cell")
    bundle = (await mpi.client.get("/fhir/Task", headers=admin)).json()
    assert bundle["total"] == 1
    task = bundle["entry"][0]["resource"]
    assert task["status"] == "requested"
    assert task["intent"] == "proposal"
    assert task["for"] == {"reference": f"Patient/{a}"}
    assert task["reasonCode"]["coding"][0]["code"] == "strict-trait-disagreement"
    assert "birth_date" in task["input"][1]["valueString"]
    resp = await mpi.client.post(
        f"/fhir/review-items/{task['id']}/resolve",
        json={"resolution": "not-a-match", "comment": "two sisters"},
        headers=admin,
    )
    assert resp.status_code == 200
    done = (await mpi.client.get(f"/fhir/Task/{task['id']}", headers=admin)).json()
    assert done["status"] == "completed"
    assert done["output"][0]["valueCode"] == "not-a-match"
    assert done["note"][0] == {"text": "two sisters", "authorString": "iv-cell"}
    assert (await mpi.client.get("/fhir/Task", headers=admin)).json()["total"] == 0
    completed = await mpi.client.get("/fhir/Task?status=completed", headers=admin)
    assert completed.json()["total"] == 1
    assert (await mpi.client.get("/fhir/Task?status=bogus", headers=admin)).status_code == 400
    assert (await mpi.client.get("/fhir/Task", headers=mpi.auth("clinician"))).status_code == 403
    assert (await mpi.client.get(f"/fhir/Task/{a}", headers=admin)).status_code == 404
