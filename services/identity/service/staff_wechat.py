"""A staff member binds their own WeChat, so staff notices reach them as subscribe messages.

The code comes from ``wx.login`` in the mini-program and is exchanged through the same
WeChat client as a resident's login (``jscode2session``). The openid is kept encrypted with a
blind index (one WeChat binds one staff account), apart from the ``openid`` column that logs
residents in: binding never lets anyone into a staff account without its password. Bind and
unbind publish the account's directory entry in their own transaction.
"""

from __future__ import annotations

import uuid

from sqlalchemy.engine import RowMapping

from services.identity.context import IdentityContext
from services.identity.schemas import UserRead
from services.identity.service.accounts import user_view
from services.identity.service.directory import publish_staff
from services.identity.store import accounts as account_store
from services.identity.store import staff as store
from services.identity.wechat import WeChatError, login_problem
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.problems import Conflict, NotFound

log = get_logger(__name__)
STAFF_OPENID = "staff_openid"  # the cipher and blind-index context of a staff openid


async def _staff_locked(uow: UnitOfWork, staff_id: uuid.UUID) -> RowMapping:
    row = await account_store.get_user(uow, staff_id, lock=True)
    if row is None or row["kind"] != "staff":
        raise NotFound("no such staff account", code="staff_not_found")
    return row


async def bind_wechat(
    *, uow: UnitOfWork, ctx: IdentityContext, staff_id: uuid.UUID, code: str
) -> UserRead:
    """Bind the WeChat that signed ``code`` in; binding the same WeChat again changes
    nothing. 409 ``wechat_taken`` when another staff account holds it."""
    try:
        session = await ctx.wechat.code_to_session(code)
    except WeChatError as error:
        log.info("staff_wechat_bind_refused", errcode=error.errcode)
        raise login_problem(error) from None
    index = ctx.pii.blind_index(session.openid, context=STAFF_OPENID)
    async with uow:
        row = await _staff_locked(uow, staff_id)
        if row["staff_openid_index"] == index:
            return user_view(ctx, row)
        bound = await store.bind_openid(
            uow, staff_id, cipher=ctx.pii.encrypt(session.openid, context=STAFF_OPENID),
            index=index,
        )
        if not bound:
            raise Conflict("this WeChat account is bound to another staff account",
                           code="wechat_taken")
        row = await publish_staff(uow, staff_id, cause="wechat_bound")
    log.info("staff_wechat_bound", user_id=str(staff_id))
    return user_view(ctx, row)


async def unbind_wechat(*, uow: UnitOfWork, ctx: IdentityContext, staff_id: uuid.UUID) -> None:
    """Staff notices stop going to WeChat; unbinding an unbound account changes nothing."""
    async with uow:
        row = await _staff_locked(uow, staff_id)
        if row["staff_openid_index"] is None:
            return
        await store.unbind_openid(uow, staff_id)
        await publish_staff(uow, staff_id, cause="wechat_unbound")
    log.info("staff_wechat_unbound", user_id=str(staff_id))


def staff_openid(ctx: IdentityContext, row: RowMapping) -> str | None:
    """The openid a staff account bound (plaintext, for the sender of its notices)."""
    return ctx.pii.decrypt_optional(row["staff_openid_cipher"], context=STAFF_OPENID)
