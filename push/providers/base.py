"""What one attempt to hand a message to an outside push provider came to.

Every provider (FCM, WeChat subscription messages) reports each recipient's attempt as a
`SendOutcome`, so the delivery worker decides what to do next (mark sent, schedule a retry,
deactivate the device, give up) without knowing any provider's wire protocol.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, TypeVar


class SendStatus(enum.StrEnum):
    SENT = "sent"
    # Transient: try the same recipient again, no sooner than `retry_after_s` when given.
    RETRY = "retry"
    # The device token / openid is gone for good: deactivate it, never send to it again.
    DEAD_TOKEN = "dead_token"
    # The provider refused this message permanently (bad payload, bad template): do not retry.
    REJECTED = "rejected"
    # WeChat: the user refused, or has no one-time consent left for this template.
    CONSENT_REFUSED = "consent_refused"


@dataclass(frozen=True, slots=True)
class SendOutcome:
    status: SendStatus
    provider_message_id: str | None = None
    # The provider's own code: FCM errorCode/status ("UNREGISTERED"), WeChat errcode ("43101").
    error_code: str | None = None
    error_message: str | None = None
    retry_after_s: float | None = None
    # The typed error behind a failure: a firebase_admin.exceptions.FirebaseError for FCM, a
    # WeChatApiError (carrying errcode) for WeChat. Kept for logs and for callers that need detail.
    cause: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.status is SendStatus.SENT

    @classmethod
    def sent(cls, provider_message_id: str) -> SendOutcome:
        return cls(SendStatus.SENT, provider_message_id=provider_message_id)

    @classmethod
    def failed(
        cls,
        status: SendStatus,
        *,
        error_code: str | None,
        error_message: str | None,
        cause: Exception | None = None,
        retry_after_s: float | None = None,
    ) -> SendOutcome:
        return cls(
            status,
            error_code=error_code,
            error_message=error_message,
            retry_after_s=retry_after_s,
            cause=cause,
        )


TemplateT_contra = TypeVar("TemplateT_contra", contravariant=True)


class PushProvider(Protocol[TemplateT_contra]):
    """One outside provider. A template is the message prepared once per notice (already encoded
    and validated); recipients are device tokens (FCM) or openids (WeChat). The result has one
    outcome per recipient, in the same order."""

    channel: str

    async def send_batch(
        self, template: TemplateT_contra, recipients: Sequence[str]
    ) -> list[SendOutcome]: ...

    async def aclose(self) -> None: ...


class ClosingClient:
    """`async with client: …` closes the client (its pooled connections) at the end."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        raise NotImplementedError
