"""SQL of the hot paths (commit and read of a composition), in asyncpg's ``$n`` form: run
on the unit of work's asyncpg connection as prepared statements, cached per connection."""

from __future__ import annotations

__all__ = ["CREATE_COMPOSITION", "EHR_WITH_TEMPLATE", "READ_VERSION"]

#: A new composition in one statement: its contribution (unless it belongs to a larger
#: one), head, version 1 and archetype-root entries, written only if the EHR exists, is
#: modifiable and the template's stored hash is still the one ($15) the composition was
#: validated against — so the commit path needs no read first. ``ON CONFLICT`` tells a
#: taken id (created 0) without a savepoint; foreign keys are checked at the statement's
#: end. One row: created (0/1), and the EHR's modifiable flag and subject (NULL when the
#: EHR or the template hash did not match: nothing was written).
CREATE_COMPOSITION = """
WITH ok AS (
  SELECT e.is_modifiable, e.subject_namespace, e.subject_id FROM ehr e
  WHERE e.ehr_id = $2::uuid
    AND (SELECT t.sha256 FROM template t WHERE t.template_id = $10::text) = $15::text
), c AS (
  INSERT INTO contribution (contribution_id, ehr_id, system_id, time_committed, committer,
                            change_type, description)
  SELECT $1::uuid, $2::uuid, $3::text, $4::timestamptz, $5::text::jsonb, $6::text, $7::text
  FROM ok WHERE $8::boolean AND ok.is_modifiable
), vo AS (
  INSERT INTO versioned_object (vo_id, ehr_id, kind, time_created, latest_version, template_id)
  SELECT $9::uuid, $2::uuid, 'COMPOSITION', $4::timestamptz, 1, $10::text
  FROM ok WHERE ok.is_modifiable
  ON CONFLICT (vo_id) DO NOTHING
  RETURNING vo_id
), ov AS (
  INSERT INTO object_version (vo_id, version, ehr_id, contribution_id, time_committed,
                              committer, change_type, description, lifecycle_state,
                              template_id, archetype_node_id, data)
  SELECT vo_id, 1, $2::uuid, $1::uuid, $4::timestamptz, $5::text::jsonb, $6::text, $7::text,
         $11::text, $10::text, $12::text, $13::text::jsonb
  FROM vo
  RETURNING vo_id
), en AS (
  INSERT INTO entry (vo_id, version, ord, ehr_id, template_id, archetype_id, rm_type, path,
                     json_path)
  SELECT ov.vo_id, 1, x.ord, $2::uuid, $10::text, x.archetype_id, x.rm_type, x.path,
         x.json_path
  FROM ov, jsonb_to_recordset($14::text::jsonb)
       AS x(ord smallint, archetype_id text, rm_type text, path text, json_path text[])
)
SELECT (SELECT count(*) FROM vo) AS created, ok.is_modifiable, ok.subject_namespace,
       ok.subject_id
FROM (SELECT 1) AS one LEFT JOIN ok ON true
"""

#: A version of a versioned object of an EHR with what the read checks, in one round
#: trip: whether the EHR exists (and its subject), whether the object is of that EHR and
#: kind, and the version asked for ($4), current at a time ($5) or the latest.
READ_VERSION = """
SELECT e.ehr_id IS NOT NULL AS ehr_found, e.subject_namespace, e.subject_id,
       vo.vo_id IS NOT NULL AS object_found, vo.latest_version,
       v.vo_id, v.version, v.ehr_id, v.contribution_id, v.time_committed,
       v.committer::text AS committer, v.change_type, v.description, v.lifecycle_state,
       v.template_id, v.data::text AS data
FROM (SELECT $1::uuid AS ehr_id) k
LEFT JOIN ehr e ON e.ehr_id = k.ehr_id
LEFT JOIN versioned_object vo ON vo.vo_id = $2::uuid AND vo.ehr_id = k.ehr_id
                              AND vo.kind = $3::text
LEFT JOIN LATERAL (
  SELECT * FROM object_version ov
  WHERE ov.vo_id = vo.vo_id
    AND CASE WHEN $5::timestamptz IS NULL
             THEN ov.version = coalesce($4::int, vo.latest_version)
             ELSE ov.time_committed <= $5::timestamptz END
  ORDER BY ov.version DESC LIMIT 1
) v ON true
"""

#: The EHR and the stored hash of a template (the commit path validates against it).
EHR_WITH_TEMPLATE = """
SELECT e.*, (SELECT t.sha256 FROM template t WHERE t.template_id = $2::text)
            AS template_sha256
FROM ehr e WHERE e.ehr_id = $1::uuid
"""
