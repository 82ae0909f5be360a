"""ITS-REST definition endpoints: ADL 1.4 operational templates (ADL2 answers 501)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from hygie_platform.http import Problem

from ...service.errors import TemplateConflict, TemplateInvalid
from ...service.formats import example_composition, web_template_of
from ...service.templates import get_template, list_templates, upload_template
from .common import MAX_BODY, Reader, Writer, json_response, mapped_errors, prefer, uow
from .formats import media_type, output_format

router = APIRouter(prefix="/openehr/v1/definition", tags=["Definition"])


@router.post("/template/adl1.4", status_code=201)
async def post_template(request: Request, principal: Writer) -> Response:
    """Upload an OPT (XML). Identical re-upload: 201 again, nothing changes; a different
    template with the same id: 409 (unless overwrite is configured and it is unused)."""
    body = await request.body()
    if len(body) > MAX_BODY:
        raise Problem(413, "body-too-large", f"the template exceeds {MAX_BODY} bytes")
    with mapped_errors():
        try:
            async with uow(request)() as u:
                opt, _ = await upload_template(
                    u,
                    body=body,
                    cache=request.app.state.templates,
                    uploaded_by=principal.subject,
                    allow_overwrite=request.app.state.template_overwrite,
                )
        except TemplateInvalid as exc:
            raise Problem(400, "invalid-template", str(exc)) from None
        except TemplateConflict as exc:
            raise Problem(409, "template-exists", str(exc)) from None
    location = str(request.url_for("get_template_adl14", template_id=opt.template_id))
    headers = {"Location": location, "ETag": f'"{opt.template_id}"'}
    if prefer(request) == "representation":
        return Response(body, status_code=201, headers=headers, media_type="application/xml")
    if prefer(request) == "identifier":
        return json_response({"template_id": opt.template_id}, status=201, headers=headers)
    return Response(status_code=201, headers=headers)


@router.get("/template/adl1.4")
async def get_templates(request: Request, principal: Reader) -> Response:
    async with uow(request)() as u:
        templates = await list_templates(u)
    return json_response(
        [
            {
                "template_id": t.template_id,
                "concept": t.concept,
                "archetype_id": t.archetype_id,
                "version": t.uid or "",
                "created_timestamp": t.created_at.isoformat(),
            }
            for t in templates
        ]
    )


@router.get("/template/adl1.4/{template_id}", name="get_template_adl14")
async def get_template_adl14(template_id: str, request: Request, principal: Reader) -> Response:
    """The OPT as uploaded (XML), or its web template (``Accept: application/openehr.wt+json``)."""
    accept = request.headers.get("accept", "application/xml")
    if "openehr.wt" in accept or ("application/json" in accept and "xml" not in accept):
        with mapped_errors():
            async with uow(request)() as u:
                wt = await web_template_of(
                    u, cache=request.app.state.templates, template_id=template_id
                )
        response = json_response(wt)
        response.headers["Content-Type"] = "application/openehr.wt+json"
        return response
    with mapped_errors():
        async with uow(request)() as u:
            stored = await get_template(u, template_id)
    return Response(
        stored.opt or "", media_type="application/xml", headers={"ETag": f'"{stored.sha256}"'}
    )


@router.get("/template/adl1.4/{template_id}/example")
async def get_template_example(template_id: str, request: Request, principal: Reader) -> Response:
    """An example composition of the template: canonical JSON, or FLAT/STRUCTURED by Accept
    or ``format=``."""
    fmt = output_format(request)
    with mapped_errors():
        async with uow(request)() as u:
            body = await example_composition(
                u, cache=request.app.state.templates, template_id=template_id, fmt=fmt
            )
    response = json_response(body)
    response.headers["Content-Type"] = media_type(fmt)
    return response


# Answered (501) but not advertised: one function under two methods would give the OpenAPI
# document duplicate operation ids.
@router.api_route("/template/adl2", methods=["GET", "POST"], include_in_schema=False)
@router.api_route("/template/adl2/{rest:path}", methods=["GET", "POST"], include_in_schema=False)
async def adl2(request: Request, principal: Reader) -> Response:
    raise Problem(501, "not-implemented", "ADL 2 templates are not supported; use adl1.4")
