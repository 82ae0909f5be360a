"""The committed event schemas and the compatibility gate (ARCHITECTURE §4.4)."""

from __future__ import annotations

import enum
import json
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, create_model

from hygie_contracts import EHR_TOPIC, EVENT_TYPES, Event
from hygie_contracts.compat import Incompatibility, incompatibilities
from hygie_contracts.schemas import all_event_types, check, compare, event_schema, render, write

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
EHR_CREATED = "hygie.ehr.ehr.created.v1"


def diff(old: type[BaseModel], new: type[BaseModel]) -> list[Incompatibility]:
    """The incompatibilities from the schema of ``old`` to the schema of ``new``."""
    return incompatibilities(
        old.model_json_schema(), new.model_json_schema(), event_type="hygie.test.thing.done.v1"
    )


def only(found: list[Incompatibility]) -> tuple[str, str]:
    """The path and the rule's first words of the single incompatibility found."""
    assert len(found) == 1, found
    return found[0].path, found[0].rule


# --- the committed schemas ---------------------------------------------------------------


def test_committed_schemas_match_the_contracts() -> None:
    report = compare(SCHEMAS)
    assert (report.errors, report.missing, report.stale) == ([], [], [])
    assert check(SCHEMAS) == 0


def test_every_event_type_has_its_schema_file_with_routing_metadata() -> None:
    for event_type, cls in all_event_types().items():
        schema = json.loads((SCHEMAS / f"{event_type}.json").read_text(encoding="utf-8"))
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"] == f"schemas/{event_type}.json"
        assert schema["title"] == cls.__name__
        assert schema["x-hygie"] == {
            "type": event_type,
            "topic": cls.topic,
            "subject_field": cls.subject_field,
            "major": int(event_type.rsplit(".v", 1)[1]),
        }


def test_rendering_is_deterministic() -> None:
    cls = EVENT_TYPES[EHR_CREATED]
    text = render(event_schema(EHR_CREATED, cls))
    assert text == render(json.loads(text))
    assert text.endswith("}\n")
    assert '\n  "$defs": {' in text  # 2-space indent, sorted keys


# --- forbidden changes -------------------------------------------------------------------


class PartyV1(BaseModel):
    namespace: str
    id: str


class PartyV2(BaseModel):
    id: str


def test_removing_a_nested_field_behind_ref_and_optional_is_named_by_its_path() -> None:
    class Old(BaseModel):
        subject: PartyV1 | None = None

    class New(BaseModel):
        subject: PartyV2 | None = None

    found = diff(Old, New)
    assert [str(i) for i in found] == [
        "hygie.test.thing.done.v1: field 'subject.namespace': removed "
        "(BACKWARD_TRANSITIVE within a major: fields may only be added, as optional)"
    ]


def test_removing_a_top_level_field_is_forbidden() -> None:
    class Old(BaseModel):
        a: int
        b: str | None = None

    class New(BaseModel):
        a: int

    assert only(diff(Old, New))[0] == "b"
    assert only(diff(Old, New))[1].startswith("removed")


def test_making_an_optional_field_required_is_forbidden() -> None:
    class Old(BaseModel):
        note: str = ""

    class New(BaseModel):
        note: str

    path, rule = only(diff(Old, New))
    assert (path, rule.split(" (")[0]) == ("note", "made required")


def test_making_a_required_field_optional_is_forbidden() -> None:
    class Old(BaseModel):
        note: str

    class New(BaseModel):
        note: str = ""

    assert only(diff(Old, New))[1].startswith("made optional")


def test_adding_a_required_field_is_forbidden() -> None:
    class Old(BaseModel):
        a: int

    class New(BaseModel):
        a: int
        b: int

    path, rule = only(diff(Old, New))
    assert (path, rule.split(" (")[0]) == ("b", "added as required")


def test_changing_a_type_is_forbidden() -> None:
    class Old(BaseModel):
        count: int

    class New(BaseModel):
        count: str

    path, rule = only(diff(Old, New))
    assert path == "count"
    assert rule.startswith("type changed from 'integer' to 'string'")


def test_integer_to_number_is_still_a_type_change() -> None:
    class Old(BaseModel):
        dose: int

    class New(BaseModel):
        dose: float

    assert only(diff(Old, New))[1].startswith("type changed")


def test_nullable_to_non_null_is_forbidden() -> None:
    class Old(BaseModel):
        committer: str | None = None

    class New(BaseModel):
        committer: str = "system"

    path, rule = only(diff(Old, New))
    assert (path, rule.split(" (")[0]) == ("committer", "made non-nullable")


def test_non_null_to_nullable_is_forbidden() -> None:
    class Old(BaseModel):
        committer: str

    class New(BaseModel):
        committer: str | None

    assert only(diff(Old, New))[1].startswith("made nullable")


def test_dropping_a_format_is_forbidden() -> None:
    class Old(BaseModel):
        ehr_id: UUID

    class New(BaseModel):
        ehr_id: str

    path, rule = only(diff(Old, New))
    assert path == "ehr_id"
    assert rule.startswith("format changed from 'uuid' to none")


def test_changing_a_format_is_forbidden() -> None:
    class Old(BaseModel):
        at: datetime

    class New(BaseModel):
        at: UUID

    assert only(diff(Old, New))[1].startswith("format changed from 'date-time' to 'uuid'")


def test_narrowing_a_string_to_an_enum_is_forbidden() -> None:
    class Old(BaseModel):
        status: str

    class New(BaseModel):
        status: Literal["active", "inactive"]

    path, rule = only(diff(Old, New))
    assert path == "status"
    assert rule.startswith("narrowed to an enum")


class StatusV1(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class StatusV2(enum.StrEnum):
    ACTIVE = "active"


class StatusV3(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    MERGED = "merged"


def test_narrowing_an_enum_is_forbidden() -> None:
    class Old(BaseModel):
        status: StatusV1

    class New(BaseModel):
        status: StatusV2

    path, rule = only(diff(Old, New))
    assert path == "status"
    assert rule.startswith('enum narrowed, values "inactive" removed')


class OpenCoding(BaseModel):
    code: str


class ClosedCoding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str


def test_closing_an_object_is_forbidden() -> None:
    class Old(BaseModel):
        coding: OpenCoding

    class New(BaseModel):
        coding: ClosedCoding

    path, rule = only(diff(Old, New))
    assert (path, rule.split(" (")[0]) == ("coding", "additionalProperties changed to false")


def test_adding_a_field_to_a_closed_object_is_forbidden() -> None:
    class Closed(BaseModel):
        model_config = ConfigDict(extra="forbid")

        code: str
        display: str | None = None

    class Old(BaseModel):
        coding: ClosedCoding

    class New(BaseModel):
        coding: Closed

    path, rule = only(diff(Old, New))
    assert path == "coding.display"
    assert rule.startswith("added to a closed object")


def test_changes_inside_array_items_are_checked() -> None:
    class Old(BaseModel):
        codings: list[PartyV1]

    class New(BaseModel):
        codings: list[PartyV2]

    assert only(diff(Old, New))[0] == "codings[].namespace"

    class OldTags(BaseModel):
        tags: list[str]

    class NewTags(BaseModel):
        tags: list[int]

    path, rule = only(diff(OldTags, NewTags))
    assert (path, rule.split(" from")[0]) == ("tags[]", "type changed")


def test_changes_inside_map_values_are_checked() -> None:
    class Old(BaseModel):
        counts: dict[str, int]

    class New(BaseModel):
        counts: dict[str, str]

    assert only(diff(Old, New))[0] == "counts.*"


def test_changes_deep_inside_defs_are_checked() -> None:
    class C1(BaseModel):
        x: int

    class C2(BaseModel):
        x: int | None = None

    class B1(BaseModel):
        c: C1

    class B2(BaseModel):
        c: C2

    class Old(BaseModel):
        b: list[B1] | None = None

    class New(BaseModel):
        b: list[B2] | None = None

    found = diff(Old, New)
    assert {(i.path, i.rule.split(" (")[0]) for i in found} == {
        ("b[].c.x", "made optional"),
        ("b[].c.x", "made nullable"),
    }


def test_removing_or_adding_a_union_branch_is_forbidden() -> None:
    class Old(BaseModel):
        value: int | str

    class New(BaseModel):
        value: int

    path, rule = only(diff(Old, New))
    assert (path, rule.split(" (")[0]) == ("value", "anyOf branch 'string' removed")

    path, rule = only(diff(New, Old))
    assert (path, rule.split(" (")[0]) == ("value", "anyOf branch 'string' added")


def test_changes_inside_a_union_branch_are_checked() -> None:
    class Old(BaseModel):
        value: int | PartyV1

    class New(BaseModel):
        value: int | PartyV2

    assert only(diff(Old, New))[0] == "value.namespace"


def test_changing_a_constraint_is_forbidden() -> None:
    class Old(BaseModel):
        code: str = Field(max_length=10)

    class New(BaseModel):
        code: str = Field(max_length=5)

    path, rule = only(diff(Old, New))
    assert (path, rule.split(" from")[0]) == ("code", "constraint maxLength changed")


def test_recursive_models_are_compared_without_looping() -> None:
    class NodeV1(BaseModel):
        name: str
        children: list[NodeV1] = []

    class NodeV2(BaseModel):
        name: int
        children: list[NodeV2] = []

    class Old(BaseModel):
        root: NodeV1

    class New(BaseModel):
        root: NodeV2

    assert only(diff(Old, New))[0] == "root.name"
    assert diff(Old, Old) == []


def test_changing_the_topic_or_subject_field_is_forbidden() -> None:
    old = event_schema(EHR_CREATED, EVENT_TYPES[EHR_CREATED])
    new = json.loads(json.dumps(old))
    new["x-hygie"]["topic"] = "hygie.records.v1"
    new["x-hygie"]["subject_field"] = "system_id"
    found = incompatibilities(old, new)
    assert {i.type for i in found} == {EHR_CREATED}
    assert sorted(i.rule.split(" changed")[0] for i in found) == [
        "x-hygie subject_field",
        "x-hygie topic",
    ]
    assert str(found[0]).startswith(f"{EHR_CREATED}: x-hygie")


# --- allowed changes ---------------------------------------------------------------------


def test_adding_optional_fields_is_compatible() -> None:
    class Old(BaseModel):
        a: int

    class New(BaseModel):
        a: int
        b: str | None = None
        c: int = 0
        d: list[PartyV1] = []

    assert diff(Old, New) == []


def test_annotations_and_defaults_may_change() -> None:
    class Old(BaseModel):
        """Old words."""

        a: int = Field(1, description="one")
        party: PartyV1

    class Renamed(BaseModel):  # a different $defs name and title: same shape
        namespace: str = Field(description="where the id is unique")
        id: str

    class New(BaseModel):
        """New words."""

        a: int = Field(2, description="the first", title="A!", examples=[3])
        party: Renamed

    assert diff(Old, New) == []


def test_widening_an_enum_is_compatible() -> None:
    class Old(BaseModel):
        status: StatusV1
        kind: Literal["a"]

    class New(BaseModel):
        status: StatusV3
        kind: Literal["a", "b"]

    assert diff(Old, New) == []


def test_opening_a_closed_object_is_compatible() -> None:
    class Old(BaseModel):
        coding: ClosedCoding

    class New(BaseModel):
        coding: OpenCoding

    assert diff(Old, New) == []


FIELD_TYPES: list[Any] = [int, str, float, bool, UUID, datetime, list[str], dict[str, int], PartyV1]


@st.composite
def extra_fields(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(
        st.sets(st.from_regex(r"\A[a-z][a-z0-9_]{0,11}\Z"), min_size=1, max_size=5).filter(
            lambda s: not s & {"ehr_id", "system_id", "subject"}
        )
    )
    fields: dict[str, Any] = {}
    for name in sorted(names):
        kind = draw(st.sampled_from(FIELD_TYPES))
        fields[name] = (kind | None, None) if draw(st.booleans()) else (list[kind], [])  # type: ignore[valid-type]
    return fields


class Base(BaseModel):
    ehr_id: UUID
    system_id: str
    subject: PartyV1 | None = None


@settings(max_examples=40, deadline=None)
@given(fields=extra_fields())
def test_adding_random_optional_fields_is_always_compatible(fields: dict[str, Any]) -> None:
    new = create_model("New", __base__=Base, **fields)
    assert diff(Base, new) == []
    # and the reverse (removing them) is always caught, field by field
    assert {i.path for i in diff(new, Base)} == set(fields)


# --- the CLI on a copy of schemas/ -------------------------------------------------------


@pytest.fixture
def schemas_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, copy)
    return copy


def edit(path: Path, change: Any) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    change(schema)
    path.write_text(render(schema), encoding="utf-8")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hygie_contracts.schemas", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_check_cli_fails_and_names_the_field_on_a_tampered_copy(schemas_copy: Path) -> None:
    committed = schemas_copy / f"{EHR_CREATED}.json"
    edit(committed, lambda s: s["$defs"]["PartyRef"]["properties"].update(ward={"type": "string"}))

    result = run_cli("check", str(schemas_copy))

    assert result.returncode == 1
    assert (
        f"{EHR_CREATED}: field 'subject.ward': removed (BACKWARD_TRANSITIVE within a major: "
        "fields may only be added, as optional)"
    ) in result.stderr.splitlines()

    before = committed.read_text(encoding="utf-8")
    refused = run_cli("write", str(schemas_copy))
    assert refused.returncode == 1
    assert "subject.ward" in refused.stderr
    assert "new major" in refused.stderr
    assert committed.read_text(encoding="utf-8") == before


def test_check_cli_passes_on_the_committed_schemas(schemas_copy: Path) -> None:
    result = run_cli("check", str(schemas_copy))
    assert result.returncode == 0, result.stderr


class EhrCreatedWithoutNamespace(Event):
    """EhrCreated v1 as someone might break it: the subject lost its namespace."""

    topic: ClassVar[str] = EHR_TOPIC
    subject_field: ClassVar[str] = "ehr_id"

    ehr_id: UUID
    system_id: str
    time_created: datetime
    subject: PartyV2 | None = None
    is_queryable: bool = True
    is_modifiable: bool = True
    committer: str | None = None


def test_an_incompatible_contract_is_refused(
    schemas_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = {**EVENT_TYPES, EHR_CREATED: EhrCreatedWithoutNamespace}
    before = sorted((p.name, p.read_bytes()) for p in schemas_copy.iterdir())

    assert check(schemas_copy, registry=registry) == 1
    assert write(schemas_copy, registry=registry) == 1

    err = capsys.readouterr().err
    assert (
        "hygie.ehr.ehr.created.v1: field 'subject.namespace': removed (BACKWARD_TRANSITIVE within "
        "a major: fields may only be added, as optional)"
    ) in err.splitlines()
    assert sorted((p.name, p.read_bytes()) for p in schemas_copy.iterdir()) == before


def test_a_contract_without_schema_asks_for_make_schemas(
    schemas_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (schemas_copy / f"{EHR_CREATED}.json").unlink()
    assert check(schemas_copy) == 1
    assert f"{EHR_CREATED}: no committed schema" in capsys.readouterr().err

    assert write(schemas_copy) == 0
    assert check(schemas_copy) == 0


def test_a_compatible_difference_says_out_of_date(
    schemas_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    committed = schemas_copy / f"{EHR_CREATED}.json"
    edit(committed, lambda s: s.update(description="an older wording"))
    assert check(schemas_copy) == 1
    assert f"{EHR_CREATED}: {schemas_copy}/ is out of date: run make schemas" in (
        capsys.readouterr().err.splitlines()
    )

    assert write(schemas_copy) == 0
    assert committed.read_bytes() == (SCHEMAS / committed.name).read_bytes()


def test_a_committed_schema_without_contract_is_not_deleted(
    schemas_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = schemas_copy / "hygie.ehr.ehr.deleted.v1.json"
    shutil.copy(schemas_copy / f"{EHR_CREATED}.json", gone)

    assert check(schemas_copy) == 1
    assert write(schemas_copy) == 1
    err = capsys.readouterr().err
    assert "hygie.ehr.ehr.deleted.v1: removing an event type is not allowed" in err
    assert "keep the class" in err
    assert gone.exists()


def test_write_into_an_empty_directory_reproduces_the_committed_files(tmp_path: Path) -> None:
    assert write(tmp_path / "out") == 0
    written = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    committed = {p.name: p.read_bytes() for p in SCHEMAS.glob("*.json")}
    assert written == committed
