"""The feedback service's collaborators, built once at start-up and set as
``runtime.context``: its settings and the WeChat client (None: the sandbox of API.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from services.feedback.settings import Settings
from services.feedback.wechat import WeChatSubscribeClient, build_clients
from shared.logs import get_logger

log = get_logger(__name__)


@dataclass
class FeedbackContext:
    settings: Settings
    # None when no WeChat base URL is configured: subscribe messages go to the sandbox table.
    wechat: WeChatSubscribeClient | None = None
    closables: list[httpx.AsyncClient] = field(default_factory=list)

    async def aclose(self) -> None:
        for client in self.closables:
            await client.aclose()


def build_context(settings: Settings) -> FeedbackContext:
    if not settings.wechat_api_base:
        log.warning("wechat_sandbox", detail="EHOME_WECHAT_API_BASE unset: WeChat sandbox "
                    "in use; subscribe messages are recorded in wechat_sandbox_messages, "
                    "not sent")
        return FeedbackContext(settings)
    client, closables = build_clients(
        wechat_base=settings.wechat_api_base,
        identity_base=settings.identity_base_url,
        internal_key=settings.internal_api_key,
        timeout=settings.wechat_timeout_seconds,
    )
    return FeedbackContext(settings, client, closables)
