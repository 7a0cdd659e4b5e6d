"""HTTP routes of the events service, under /api/v1/events."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse

from services.events import service
from services.events.domain import Action, Status
from services.events.schemas import (
    AttachmentRead,
    CategoryTree,
    CategoryUpsert,
    EventCreate,
    EventCreated,
    EventPage,
    EventRead,
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
from services.events.settings import Settings
from services.events.storage import AttachmentStorage
from shared.auth import CurrentPrincipal, Principal, Role, require_roles
from shared.problems import PayloadTooLarge
from shared.web.deps import IdempotencyKey, Runtime, Uow

router = APIRouter(prefix="/api/v1/events", tags=["events"])
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


def _clock(runtime: Runtime) -> service.Clock:
    return runtime.state.get("clock", service.utc_now)


def _settings(request: Request) -> Settings:
    return request.app.state.settings


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
async def upload(file: UploadFile, request: Request, uow: Uow, runtime: Runtime,
                 principal: CurrentPrincipal) -> AttachmentRead:
    """Upload a photo or short video; reference its id when reporting or submitting a result."""
    settings = _settings(request)
    limit = max(settings.max_image_bytes, settings.max_video_bytes)
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge("attachment too large", code="attachment_too_large")
    storage: AttachmentStorage = runtime.state["storage"]
    stored = await service.upload_attachment(
        uow, principal=principal, data=data, storage=storage,
        max_image_bytes=settings.max_image_bytes, max_video_bytes=settings.max_video_bytes,
        now=_clock(runtime)(),
    )
    return AttachmentRead(**stored)


@router.post("", status_code=201, response_model=EventCreated)
async def report(body: EventCreate, request: Request, uow: Uow, runtime: Runtime,
                 principal: CurrentPrincipal, key: IdempotencyKey = None) -> Any:
    """Report an event (resident, or grid worker for a patrol finding or on a resident's
    behalf). A retry with the same Idempotency-Key answers the same case."""
    settings = _settings(request)
    status, answer = await service.report_event(
        uow, principal=principal, cmd=body, idempotency_key=key, clock=_clock(runtime),
        case_prefix=settings.case_prefix,
        duplicate_window=timedelta(hours=settings.duplicate_window_hours),
        pii=runtime.state["pii"], reporter_seal=runtime.state["reporter_seal"],
    )
    return JSONResponse(answer, status_code=status)


@router.get("", response_model=EventPage)
async def list_events(
    uow: Uow, runtime: Runtime, principal: CurrentPrincipal,
    status: Status | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    q: Annotated[Text | None, Query(min_length=2, max_length=100)] = None,
) -> EventPage:
    """The caller's own reports (resident) or the cases in the caller's scope (staff);
    ``q``: only those whose description or address contains these words (phone and ID numbers
    are stored masked, so they find nothing)."""
    return await service.list_events(uow, principal=principal, status=status, cursor=cursor,
                                     limit=limit, pii=runtime.state["pii"], words=q)


@router.get("/{event_id}", response_model=EventRead)
async def get_event(event_id: uuid.UUID, uow: Uow, runtime: Runtime,
                    principal: CurrentPrincipal) -> EventRead:
    return await service.get_event(uow, principal=principal, event_id=event_id,
                                   pii=runtime.state["pii"])


@router.get("/{event_id}/timeline", response_model=Timeline)
async def timeline(event_id: uuid.UUID, uow: Uow, principal: CurrentPrincipal) -> Timeline:
    return await service.get_timeline(uow, principal=principal, event_id=event_id)


@router.post("/{event_id}/reporter-reveal", response_model=ReporterRevealed)
async def reveal(event_id: uuid.UUID, body: ReasonIn, uow: Uow, runtime: Runtime,
                 principal: CurrentPrincipal) -> ReporterRevealed:
    """Reveal who reported a sensitive case (supervisors, admins); audited with the reason."""
    return await service.reveal_reporter(uow, principal=principal, event_id=event_id,
                                         reason=body.reason, now=_clock(runtime)())


@router.post("/{event_id}/original-text", response_model=OriginalText)
async def original_text(event_id: uuid.UUID, uow: Uow, runtime: Runtime,
                        principal: CurrentPrincipal, body: OriginalTextIn | None = None
                        ) -> OriginalText:
    """The case's texts as typed: phone and ID numbers are stored and shown masked everywhere
    else. The reporter reads their own; staff who see the case give a reason (a sensitive
    tip's: supervisors and admins). Every read is audited."""
    return await service.reveal_original_text(
        uow, principal=principal, event_id=event_id, reason=body.reason if body else None,
        pii=runtime.state["pii"], now=_clock(runtime)(),
    )


async def _act(uow: Any, runtime: Any, principal: Principal, event_id: uuid.UUID,
               action: Action, **kw: Any) -> StatusRead:
    return await service.take_action(uow, principal=principal, event_id=event_id, action=action,
                                     clock=_clock(runtime), pii=runtime.state["pii"], **kw)


@router.post("/{event_id}/accept", response_model=StatusRead)
async def accept(event_id: uuid.UUID, uow: Uow, runtime: Runtime, principal: CurrentPrincipal,
                 body: NoteIn | None = None) -> StatusRead:
    """The assigned unit accepts (签收) the case."""
    return await _act(uow, runtime, principal, event_id, Action.ACCEPT,
                      note=body.note if body else None)


@router.post("/{event_id}/return", response_model=StatusRead)
async def return_case(event_id: uuid.UUID, body: ReasonIn, uow: Uow, runtime: Runtime,
                      principal: CurrentPrincipal) -> StatusRead:
    """The assigned unit returns (回退) the case with a reason; the dispatcher arbitrates."""
    return await _act(uow, runtime, principal, event_id, Action.RETURN, reason=body.reason)


@router.post("/{event_id}/start", response_model=StatusRead)
async def start(event_id: uuid.UUID, uow: Uow, runtime: Runtime, principal: CurrentPrincipal,
                body: NoteIn | None = None) -> StatusRead:
    return await _act(uow, runtime, principal, event_id, Action.START,
                      note=body.note if body else None)


@router.post("/{event_id}/result", response_model=StatusRead)
async def submit_result(event_id: uuid.UUID, body: ResultIn, uow: Uow, runtime: Runtime,
                        principal: CurrentPrincipal) -> StatusRead:
    """The (lead) unit submits the handling result (反馈), once assisting units answered."""
    return await _act(uow, runtime, principal, event_id, Action.SUBMIT_RESULT,
                      result=body.result, attachments=body.attachments)


@router.post("/{event_id}/verify", response_model=StatusRead)
async def verify(event_id: uuid.UUID, body: VerifyIn, uow: Uow, runtime: Runtime,
                 principal: CurrentPrincipal) -> StatusRead:
    """On-site check (核查) by a grid worker or dispatcher: a pass closes the case, a failure
    sends it back into handling with a new deadline."""
    return await _act(uow, runtime, principal, event_id, Action.VERIFY, passed=body.passed,
                      note=body.note)


@router.post("/{event_id}/reject", response_model=StatusRead)
async def reject(event_id: uuid.UUID, body: ReasonIn, uow: Uow, runtime: Runtime,
                 principal: CurrentPrincipal) -> StatusRead:
    """The dispatcher refuses an invalid report (不予受理)."""
    return await _act(uow, runtime, principal, event_id, Action.REJECT, reason=body.reason)
