"""Dependencies of the partner routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from gateway.partner.context import PartnerContext
from shared.web.deps import context_dependency

Context = Annotated[PartnerContext, Depends(context_dependency(PartnerContext))]
