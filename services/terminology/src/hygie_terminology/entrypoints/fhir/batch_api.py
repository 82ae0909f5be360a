"""``POST /fhir/$translate-batch``: many codes to standard OMOP concepts in one call
(the OMOP projection's client; models in ``hygie_contracts.terminology``)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from hygie_contracts.terminology import TranslateBatchRequest

from ...service.translate import BatchRequest, translate_batch
from .common import Reader, catalog
from .params import bad_request

__all__ = ["parse_batch", "router"]

router = APIRouter(prefix="/fhir", tags=["batch"])

_MAX_CODES = TranslateBatchRequest.model_fields["codes"].metadata[0].max_length


def _columns(data: Any) -> BatchRequest | None:
    """The request as columns when it is plainly valid (strings, at most 10,000 codes),
    else None: the contract's model then decides and words the error. Building 10,000
    frozen models cost more than the whole translation."""
    if not isinstance(data, dict) or not isinstance(codes := data.get("codes"), list):
        return None
    value_maps = data.get("include_value_maps", False)
    if len(codes) > _MAX_CODES or not isinstance(value_maps, bool):
        return None
    systems, values = [], []
    for item in codes:
        if not isinstance(item, dict):
            return None
        system, code = item.get("system"), item.get("code")
        if type(system) is not str or type(code) is not str or not system or not code:
            return None
        systems.append(system)
        values.append(code)
    return BatchRequest(systems, values, include_value_maps=value_maps)


def parse_batch(body: bytes) -> BatchRequest:
    """A :class:`TranslateBatchRequest` body as columns; ValidationError when invalid."""
    try:
        fast = _columns(orjson.loads(body))
    except orjson.JSONDecodeError:
        fast = None
    if fast is not None:
        return fast
    request = TranslateBatchRequest.model_validate_json(body)
    return BatchRequest(
        [c.system for c in request.codes],
        [c.code for c in request.codes],
        include_value_maps=request.include_value_maps,
    )


@router.post("/$translate-batch")
async def translate_many(request: Request, principal: Reader) -> Response:
    try:
        body = parse_batch(await request.body())
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise bad_request(f"{where}: {err['msg']}", parameter=where) from None
    async with catalog(request, request.query_params.get("release")) as cat:
        result = await translate_batch(cat, body)
    return Response(result, media_type="application/json")
