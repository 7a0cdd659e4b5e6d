"""Request and response shapes of the events API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from services.events.messages import choice_options
from shared.validation import StorableText

Urgency = Literal["urgent", "normal", "low"]

Text = StorableText  # what PostgreSQL can store (no NUL)
# Photos and videos one report or one result names: part of the published request schema
# (maxItems), so a longer list is a 422 validation_error before any handler runs.
MAX_ATTACHMENTS = 9


class BaseSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChoiceOption(BaseSchema):
    code: Text = Field(min_length=1, max_length=60)  # what a report's ``fields`` carries
    label: Text = Field(min_length=1, max_length=60)  # what the resident reads


class TemplateFieldSchema(BaseSchema):
    """``choices`` stay the codes a report sends (as before); ``options`` pair each code with
    its label. Either may be given: the other is filled in (a label defaults to the catalog's,
    then to the code), and given both, they must name the same codes in the same order."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    label: Text = Field(min_length=1, max_length=60)
    type: Literal["text", "number", "choice", "date", "phone"]
    required: bool = False
    choices: list[Text] = []
    options: list[ChoiceOption] = []

    @model_validator(mode="after")
    def _codes_and_labels(self) -> TemplateFieldSchema:
        if not self.options:
            # Built, not validated: a code stored before options existed may be any length.
            self.options = [ChoiceOption.model_construct(code=o["code"], label=o["label"])
                            for o in choice_options(self.key, self.choices)]
        elif not self.choices:
            self.choices = [o.code for o in self.options]
        elif self.choices != [o.code for o in self.options]:
            raise ValueError("choices and options name different codes")
        return self


class CategoryRead(BaseSchema):
    code: str
    name: str
    parent_code: str | None
    major_risk: str
    default_urgency: Urgency
    sensitive: bool
    verified_only: bool
    template: list[TemplateFieldSchema]
    sort: int = 0  # read back so an admin's edit (a PUT of the whole category) keeps the order
    children: list[CategoryRead] = []


class CategoryTree(BaseSchema):
    items: list[CategoryRead]


class CategoryUpsert(BaseSchema):
    name: Text = Field(min_length=1, max_length=100)
    parent_code: Text | None = Field(None, max_length=64)
    default_urgency: Urgency = "normal"
    sensitive: bool = False
    verified_only: bool = False
    template: list[TemplateFieldSchema] = []
    active: bool = True
    sort: int = Field(0, ge=-(2**31), lt=2**31)


class Location(BaseSchema):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class EventCreate(BaseSchema):
    category_code: Text = Field(min_length=1, max_length=64)
    description: Text = Field(min_length=2, max_length=2000)
    region_code: str = Field(min_length=6, max_length=15)
    address: Text | None = Field(None, max_length=300)
    location: Location | None = None
    fields: dict[str, Any] | None = None
    attachments: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)
    urgency: Urgency | None = None
    on_behalf: bool = False  # a grid worker entering a resident's report


class EventCreated(BaseSchema):
    id: uuid.UUID
    case_no: str
    status: str
    possible_duplicate_of: uuid.UUID | None = None


class AssigneeRead(BaseSchema):
    unit_id: uuid.UUID
    name: str | None
    level: str | None


class EventRead(BaseSchema):
    id: uuid.UUID
    case_no: str
    status: str
    category_code: str
    major_risk: str
    urgency: Urgency
    sensitive: bool
    # Free texts (description, address, text fields, result) show phone and ID numbers masked;
    # the typed originals: POST /api/v1/events/{id}/original-text (audited).
    description: str
    region_code: str
    address: str | None
    location: Location | None
    fields: dict[str, Any]
    attachments: list[uuid.UUID]
    reporter_id: uuid.UUID | None  # hidden from handlers on sensitive cases
    channel: str
    assignee: AssigneeRead | None
    co_handling_units: list[uuid.UUID]
    open_subtasks: int
    accept_by: datetime | None
    resolve_by: datetime | None
    result: str | None
    rating: str | None
    possible_duplicate_of: uuid.UUID | None
    reported_at: datetime
    closed_at: datetime | None
    closed_loop_complete: bool


class EventPage(BaseSchema):
    items: list[EventRead]
    next_cursor: str | None


class TimelineStep(BaseSchema):
    at: datetime
    action: str  # the code; ``title`` is what a resident reads for it
    title: str = ""
    status_label: str | None = None
    actor_role: str
    actor_unit: str | None
    note: str | None
    status: str | None
    actor_id: uuid.UUID | None = None  # staff only; residents see roles and units


class Timeline(BaseSchema):
    items: list[TimelineStep]


class ReasonIn(BaseSchema):
    reason: Text = Field(min_length=2, max_length=1000)


class NoteIn(BaseSchema):
    note: Text | None = Field(None, max_length=1000)


class ResultIn(BaseSchema):
    result: Text = Field(min_length=2, max_length=4000)
    attachments: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


class VerifyIn(BaseSchema):
    passed: bool
    note: Text | None = Field(None, max_length=1000)
    # On-site photos the checker took (uploaded first, like a result's).
    attachments: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


class StatusRead(BaseSchema):
    id: uuid.UUID
    case_no: str
    status: str


class AttachmentRead(BaseSchema):
    id: uuid.UUID
    content_type: str
    size: int


class ReporterRevealed(BaseSchema):
    event_id: uuid.UUID
    reporter_id: uuid.UUID
    audit_recorded: bool = True


class OriginalTextIn(BaseSchema):
    # Staff say why; the reporter reading their own report need not.
    reason: Text | None = Field(None, min_length=2, max_length=1000)


class OriginalNote(BaseSchema):
    step: int
    at: datetime
    action: str
    note: str


class OriginalText(BaseSchema):
    """A case's free texts as typed, phone and ID numbers unmasked: ``fields`` and ``notes``
    hold only the template values and timeline notes that had a number masked."""

    event_id: uuid.UUID
    description: str
    address: str | None
    fields: dict[str, str]
    result: str | None
    notes: list[OriginalNote]
    audit_recorded: bool = True


# -- staff case search ---------------------------------------------------------------------------

Channel = Literal["resident", "grid_worker", "partner"]
Rating = Literal["satisfied", "basically_satisfied", "dissatisfied"]
CaseStatus = Literal["reported", "rejected", "dispatched", "accepted", "in_progress",
                     "result_submitted", "verified", "closed", "rated", "returned"]


class EventSearch(BaseSchema):
    """Staff filters of ``GET /api/v1/events/search`` and its exports; all optional, combined
    with AND; a list filter (repeat the parameter) matches any of its values."""

    case_no: Text | None = Field(None, min_length=1, max_length=32,
                                 description="the case number, exactly")
    q: Text | None = Field(None, min_length=2, max_length=100,
                           description="a substring of the description or address (masked "
                                       "texts: phone and ID numbers find nothing)")
    category: Text | None = Field(None, min_length=1, max_length=64,
                                  description="a category code: it and its subcategories")
    region: str | None = Field(None, pattern=r"^[0-9]{6}([0-9]{3}){0,3}$",
                               description="a region code: it and the regions inside it")
    unit: uuid.UUID | None = Field(None, description="the unit that holds the case now")
    assisting_unit: uuid.UUID | None = Field(None, description="a co-handling unit")
    status: list[CaseStatus] = Field(default_factory=list, max_length=10)
    overdue: bool | None = Field(None, description="still with a unit and past its deadline "
                                                   "now (true), or not (false)")
    supervised: bool | None = Field(None, description="under a manual supervision (督办) "
                                                      "awaiting its reply (true), or not")
    handled_before: bool | None = Field(
        None, description="cases my unit handled before (true): a unit of the caller held "
                          "them and they have since left it (escalated, transferred, returned "
                          "or moved up by a timer), whoever holds them now; the unit keeps "
                          "reading them but acts on nothing. false: all other cases")
    urgency: list[Urgency] = Field(default_factory=list, max_length=3)
    rating: list[Rating] = Field(default_factory=list, max_length=3)
    source: list[Channel] = Field(default_factory=list, max_length=3,
                                  description="how it was reported: resident (mini-program), "
                                              "grid_worker, partner (partner app)")
    reported_from: AwareDatetime | None = None
    reported_to: AwareDatetime | None = Field(None, description="exclusive")
    closed_from: AwareDatetime | None = None
    closed_to: AwareDatetime | None = Field(None, description="exclusive")
    sort: Literal["reported", "deadline", "changed"] = Field(
        "reported", description="reported, changed: newest first; deadline: soonest first, "
                                "only cases that have one")


class EventSearchPage(EventSearch):
    cursor: str | None = None
    limit: int = Field(20, ge=1, le=100)
