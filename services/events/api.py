"""HTTP routes of the events service, under /api/v1/events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse

from services.events import service
from services.events.context import EventsContext
from services.events.domain import Action, Status
from services.events.schemas import (
    AttachmentRead,
    CategoryTree,
    CategoryUpsert,
    EventCreate,
    EventCreated,
    EventPage,
    EventRead,
    EventSearch,
    EventSearchPage,
    NoteIn,
    OriginalText,
    OriginalTextIn,
    ReasonIn,
    ReporterRevealed,
    ResultIn,
    StatusRead,
    Text,
    Timeline,
    VerifyIn,
)
from services.events.service import attachments, export
from services.events.service import search as search_service
from services.events.service.media import Variant, entity_tag, range_to_serve
from services.events.storage import CHUNK_BYTES, SNIFFED
from shared.auth import CurrentPrincipal, Principal, Role, require_roles
from shared.db.uow import UnitOfWork
from shared.web.deps import IdempotencyKey, Uow, context_dependency

router = APIRouter(prefix="/api/v1/events", tags=["events"])
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
Context = Annotated[EventsContext, Depends(context_dependency(EventsContext))]


@router.get("/categories", response_model=CategoryTree)
async def categories(uow: Uow) -> CategoryTree:
    """The category tree (five major risks and subcategories) with template fields. Public."""
    return CategoryTree(items=await service.category_tree(uow))


@router.put("/categories/{code}", status_code=204)
async def put_category(code: Annotated[Text, Path(min_length=1, max_length=64)],
                       body: CategoryUpsert, uow: Uow, _: Admin) -> None:
    """Add or change a category (admins)."""
    await service.upsert_category(uow, code=code, cmd=body)


@router.post("/attachments", status_code=201, response_model=AttachmentRead)
async def upload(file: UploadFile, uow: Uow, ctx: Context, principal: CurrentPrincipal,
                 key: IdempotencyKey = None) -> AttachmentRead:
    """Upload a photo or short video; reference its id when reporting or submitting a result.
    A retry with the same Idempotency-Key and the same bytes answers the first attachment."""
    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await file.read(CHUNK_BYTES):
            yield chunk

    settings = ctx.settings
    stored = await attachments.upload_attachment(
        uow, principal=principal, chunks=chunks(), storage=ctx.storage,
        max_image_bytes=settings.max_image_bytes, max_video_bytes=settings.max_video_bytes,
        now=ctx.clock(), idempotency_key=key,
    )
    return AttachmentRead(**stored)


RangeHeader = Annotated[str | None, Header(alias="Range")]
IfRangeHeader = Annotated[str | None, Header(alias="If-Range")]
_MEDIA = {media: {"schema": {"type": "string", "format": "binary"}} for media in SNIFFED}
_BODY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": _MEDIA, "description": "The whole body"},
    206: {"content": _MEDIA, "description": "The requested byte range (see Content-Range)"},
    416: {"description": "The range starts past the end (Content-Range: bytes */total)"},
}
_SIGNED_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_BODY_RESPONSES,
    403: {"description": "The link is not valid (changed after it was signed)"},
    410: {"description": "The link has expired"},
}


def _streamed(body: attachments.AttachmentBody, tag: str) -> StreamingResponse:
    span = body.span
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(span.length), "ETag": tag,
               "Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"}
    if span.partial:
        headers["Content-Range"] = span.content_range
    return StreamingResponse(body.chunks, status_code=206 if span.partial else 200,
                             media_type=body.content_type, headers=headers)


@router.get("/attachments/signed/{attachment_id}", response_class=StreamingResponse,
            responses=_SIGNED_RESPONSES)
async def read_signed_attachment(
    attachment_id: uuid.UUID, uow: Uow, ctx: Context, expires: int, signature: str,
    variant: Variant = Variant.ORIGINAL, range_header: RangeHeader = None,
    if_range: IfRangeHeader = None,
) -> StreamingResponse:
    """An attachment through a link from ``POST .../link``: no token needed (a ``<video>`` or
    ``<img>`` tag loads it), Range supported; 403 when tampered with, 410 once expired."""
    tag = entity_tag(attachment_id, variant)
    return _streamed(await attachments.read_signed(
        uow, attachment_id=attachment_id, variant=variant, expires=expires,
        signature=signature, key=ctx.settings.attachment_link_key(), now=ctx.clock(),
        range_header=range_to_serve(range_header, if_range, tag), storage=ctx.storage,
    ), tag)


@router.get("/attachments/{attachment_id}", response_class=StreamingResponse,
            responses=_BODY_RESPONSES)
async def read_attachment(attachment_id: uuid.UUID, uow: Uow, ctx: Context,
                          principal: CurrentPrincipal, range_header: RangeHeader = None,
                          if_range: IfRangeHeader = None) -> StreamingResponse:
    """The attachment's bytes (HTTP Range supported): for its uploader, and, once it belongs
    to a case, for whoever sees the case. 404 otherwise."""
    tag = entity_tag(attachment_id, Variant.ORIGINAL)
    return _streamed(await attachments.read_attachment(
        uow, principal=principal, attachment_id=attachment_id, variant=Variant.ORIGINAL,
        range_header=range_to_serve(range_header, if_range, tag), storage=ctx.storage,
    ), tag)


@router.get("/attachments/{attachment_id}/thumbnail", response_class=StreamingResponse,
            responses=_BODY_RESPONSES)
async def read_thumbnail(attachment_id: uuid.UUID, uow: Uow, ctx: Context,
                         principal: CurrentPrincipal, range_header: RangeHeader = None,
                         if_range: IfRangeHeader = None) -> StreamingResponse:
    """A photo's thumbnail: a JPEG at most 320 px on its longer side, EXIF removed."""
    tag = entity_tag(attachment_id, Variant.THUMBNAIL)
    return _streamed(await attachments.read_attachment(
        uow, principal=principal, attachment_id=attachment_id, variant=Variant.THUMBNAIL,
        range_header=range_to_serve(range_header, if_range, tag), storage=ctx.storage,
    ), tag)


@router.post("/attachments/{attachment_id}/link", response_model=attachments.AttachmentLink)
async def attachment_link(attachment_id: uuid.UUID, uow: Uow, ctx: Context,
                          principal: CurrentPrincipal, variant: Variant = Variant.ORIGINAL
                          ) -> attachments.AttachmentLink:
    """A short-lived signed link (path and query, relative to the API host) to the
    attachment or its thumbnail, for tags that cannot send a token."""
    return await attachments.sign_link(
        uow, principal=principal, attachment_id=attachment_id, variant=variant,
        key=ctx.settings.attachment_link_key(), now=ctx.clock(),
        lifetime=timedelta(seconds=ctx.settings.attachment_url_seconds),
    )


@router.post("", status_code=201, response_model=EventCreated)
async def report(body: EventCreate, uow: Uow, ctx: Context, principal: CurrentPrincipal,
                 key: IdempotencyKey = None) -> Any:
    """Report an event (resident, or grid worker for a patrol finding or on a resident's
    behalf). A retry with the same Idempotency-Key answers the same case."""
    status, answer = await service.report_event(
        uow, principal=principal, cmd=body, idempotency_key=key, clock=ctx.clock,
        case_prefix=ctx.settings.case_prefix,
        duplicate_window=timedelta(hours=ctx.settings.duplicate_window_hours),
        pii=ctx.pii, reporter_seal=ctx.reporter_seal,
    )
    return JSONResponse(answer, status_code=status)


@router.get("", response_model=EventPage)
async def list_events(
    uow: Uow, ctx: Context, principal: CurrentPrincipal,
    status: Status | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    q: Annotated[Text | None, Query(min_length=2, max_length=100)] = None,
    handled_before: Annotated[bool | None, Query(
        description=EventSearch.model_fields["handled_before"].description)] = None,
) -> EventPage:
    """The caller's own reports (resident) or the cases in the caller's scope (staff: those
    of their regions, and those their units hold, assist or handled before); ``q``: only
    those whose description or address contains these words (phone and ID numbers are stored
    masked, so they find nothing); ``handled_before``: as in the search."""
    return await service.list_events(uow, principal=principal, status=status, cursor=cursor,
                                     limit=limit, pii=ctx.pii, words=q,
                                     handled_before=handled_before)


@router.get("/search", response_model=EventPage)
async def search_events(search: Annotated[EventSearchPage, Query()], uow: Uow, ctx: Context,
                        principal: CurrentPrincipal) -> EventPage:
    """Staff case search, within the caller's scope (region roles: their regions; unit roles:
    cases their units hold or assist, and those they handled before, read only; admins: all).
    Filters combine with AND; ``q`` is a substring of the description or address (two
    characters or more, indexed). Keyset pages: pass ``next_cursor`` back with the same
    filters."""
    return await search_service.search_events(
        uow, principal=principal, search=search, cursor=search.cursor, limit=search.limit,
        now=ctx.clock(), pii=ctx.pii)


@router.get("/search/export.csv", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                             "description": "UTF-8 CSV with a header row, streamed"}})
async def export_events(search: Annotated[EventSearch, Query()], uow: Uow, ctx: Context,
                        principal: CurrentPrincipal) -> StreamingResponse:
    """The same search, every matching case (no paging) as CSV, streamed as it is read."""
    body = export.export_csv(uow, principal=principal, search=search, now=ctx.clock())
    return StreamingResponse(body, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="cases.csv"',
        "Cache-Control": "no-store"})


@router.get("/search/export.xlsx", response_class=StreamingResponse,
            responses={200: {"content": {export.XLSX_MEDIA_TYPE: {
                "schema": {"type": "string", "format": "binary"}}},
                "description": "One worksheet with a header row"}})
async def export_events_xlsx(search: Annotated[EventSearch, Query()], uow: Uow, ctx: Context,
                             principal: CurrentPrincipal) -> StreamingResponse:
    """The same search as an Excel workbook (written to a temporary file as rows come, then
    sent)."""
    body = export.export_xlsx(uow, principal=principal, search=search, now=ctx.clock())
    return StreamingResponse(body, media_type=export.XLSX_MEDIA_TYPE, headers={
        "Content-Disposition": 'attachment; filename="cases.xlsx"',
        "Cache-Control": "no-store"})


@router.get("/{event_id}", response_model=EventRead)
async def get_event(event_id: uuid.UUID, uow: Uow, ctx: Context,
                    principal: CurrentPrincipal) -> EventRead:
    """One case. On a sensitive tip its lead and assisting units, supervisors of its region and
    admins read its texts and numbers as typed (audited); everyone else sees them masked."""
    return await service.get_event(uow, principal=principal, event_id=event_id, pii=ctx.pii,
                                   now=ctx.clock())


@router.get("/{event_id}/timeline", response_model=Timeline)
async def timeline(event_id: uuid.UUID, uow: Uow, principal: CurrentPrincipal) -> Timeline:
    return await service.get_timeline(uow, principal=principal, event_id=event_id)


@router.post("/{event_id}/reporter-reveal", response_model=ReporterRevealed)
async def reveal(event_id: uuid.UUID, body: ReasonIn, uow: Uow, ctx: Context,
                 principal: CurrentPrincipal) -> ReporterRevealed:
    """Reveal who reported a sensitive case (supervisors, admins); audited with the reason."""
    return await service.reveal_reporter(uow, principal=principal, event_id=event_id,
                                         reason=body.reason, now=ctx.clock())


@router.post("/{event_id}/original-text", response_model=OriginalText)
async def original_text(event_id: uuid.UUID, uow: Uow, ctx: Context,
                        principal: CurrentPrincipal, body: OriginalTextIn | None = None
                        ) -> OriginalText:
    """The case's texts as typed: phone and ID numbers are stored and shown masked everywhere
    else. The reporter reads their own; staff who see the case give a reason (a sensitive
    tip's: its lead and assisting units, supervisors of its region, admins). Every read is
    audited."""
    return await service.reveal_original_text(
        uow, principal=principal, event_id=event_id, reason=body.reason if body else None,
        pii=ctx.pii, now=ctx.clock(),
    )


@dataclass(frozen=True)
class _Actor:
    """What every case action route needs, the Idempotency-Key included: the header is
    declared here once, so every action — those to come too — is retry-safe."""

    uow: UnitOfWork
    ctx: EventsContext
    principal: Principal
    key: str | None

    async def act(self, event_id: uuid.UUID, action: Action, **kw: Any) -> StatusRead:
        return await service.take_action(
            self.uow, principal=self.principal, event_id=event_id, action=action,
            clock=self.ctx.clock, pii=self.ctx.pii, idempotency_key=self.key, **kw)


async def _actor(uow: Uow, ctx: Context, principal: CurrentPrincipal,
                 key: IdempotencyKey = None) -> _Actor:
    return _Actor(uow=uow, ctx=ctx, principal=principal, key=key)


Acting = Annotated[_Actor, Depends(_actor)]


# Actions whose body is only an optional note or a required reason share one route shape:
# registered by these two helpers so the shape lives once.
def _noted_action(path: str, action: Action, *, name: str, doc: str | None = None) -> None:
    async def route(event_id: uuid.UUID, acting: Acting,
                    body: NoteIn | None = None) -> StatusRead:
        return await acting.act(event_id, action, note=body.note if body else None)

    route.__doc__ = doc
    router.add_api_route(path, route, methods=["POST"], response_model=StatusRead, name=name)


def _reasoned_action(path: str, action: Action, *, name: str, doc: str) -> None:
    async def route(event_id: uuid.UUID, body: ReasonIn, acting: Acting) -> StatusRead:
        return await acting.act(event_id, action, reason=body.reason)

    route.__doc__ = doc
    router.add_api_route(path, route, methods=["POST"], response_model=StatusRead, name=name)


_noted_action("/{event_id}/accept", Action.ACCEPT, name="accept",
              doc="The assigned unit accepts (签收) the case.")
_reasoned_action("/{event_id}/return", Action.RETURN, name="return_case",
                 doc="The assigned unit returns (回退) the case with a reason; the dispatcher "
                     "arbitrates.")
_noted_action("/{event_id}/start", Action.START, name="start")


@router.post("/{event_id}/result", response_model=StatusRead)
async def submit_result(event_id: uuid.UUID, body: ResultIn, acting: Acting) -> StatusRead:
    """The (lead) unit submits the handling result (反馈), once assisting units answered."""
    return await acting.act(event_id, Action.SUBMIT_RESULT, result=body.result,
                            attachments=body.attachments)


@router.post("/{event_id}/verify", response_model=StatusRead)
async def verify(event_id: uuid.UUID, body: VerifyIn, acting: Acting) -> StatusRead:
    """On-site check (核查) by a grid worker or dispatcher: a pass closes the case, a failure
    sends it back into handling with a new deadline. Photos taken on site join the case's."""
    return await acting.act(event_id, Action.VERIFY, passed=body.passed, note=body.note,
                            attachments=body.attachments)


_reasoned_action("/{event_id}/reject", Action.REJECT, name="reject",
                 doc="The dispatcher refuses an invalid report (不予受理).")
