"""``POST /fhir/$translate-batch``: many codes to standard OMOP concepts in one call
(the OMOP projection's client; models in ``hygie_contracts.terminology``)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from hygie_contracts.terminology import TranslateBatchRequest

from ...service.translate import translate_batch
from .common import Reader, catalog
from .params import bad_request

__all__ = ["router"]

router = APIRouter(prefix="/fhir", tags=["batch"])


@router.post("/$translate-batch")
async def translate_many(request: Request, principal: Reader) -> Response:
    try:
        body = TranslateBatchRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise bad_request(f"{where}: {err['msg']}", parameter=where) from None
    async with catalog(request, request.query_params.get("release")) as cat:
        result = await translate_batch(cat, body)
    return Response(orjson.dumps(result), media_type="application/json")
