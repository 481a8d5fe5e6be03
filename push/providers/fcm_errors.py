"""FCM failures as firebase-admin exceptions, and those exceptions as delivery outcomes.

The HTTP-to-exception step reuses firebase-admin's own parsing (`_utils._parse_platform_error`,
`_MessagingService._build_fcm_error`, the status-code tables), so the fast client and the stock
`send_each` path raise the very same types. The exception-to-outcome step is the one place that
decides retry / dead token / rejected; it looks only at exception types, never at HTTP statuses.
"""

from __future__ import annotations

from firebase_admin import _utils, exceptions, messaging

from push.providers.base import SendOutcome, SendStatus

# DESIGN.md: after QUOTA_EXCEEDED back off at least 60 s, whatever Retry-After says.
QUOTA_BACKOFF_FLOOR_S = 60.0
_NOT_A_VALID_TOKEN = "not a valid fcm registration token"

_FCM_ERROR_CODES: tuple[tuple[type[exceptions.FirebaseError], str], ...] = (
    (messaging.UnregisteredError, "UNREGISTERED"),
    (messaging.SenderIdMismatchError, "SENDER_ID_MISMATCH"),
    (messaging.QuotaExceededError, "QUOTA_EXCEEDED"),
    (messaging.ThirdPartyAuthError, "THIRD_PARTY_AUTH_ERROR"),
)
# Worth another try later: the provider or the path to it failed, not the message.
_TRANSIENT: tuple[type[exceptions.FirebaseError], ...] = (
    exceptions.UnavailableError,
    exceptions.InternalError,
    exceptions.DeadlineExceededError,
    exceptions.UnknownError,
    exceptions.AbortedError,
    exceptions.CancelledError,
    exceptions.UnauthenticatedError,  # our credential; ThirdPartyAuthError is handled first
)


def firebase_error_from_response(status: int, body: bytes) -> exceptions.FirebaseError:
    """The exception firebase-admin raises for this FCM v1 error response."""
    error_dict, message = _utils._parse_platform_error(body.decode("utf-8", "replace"), status)
    fcm_error_type = messaging._MessagingService._build_fcm_error(error_dict)
    if fcm_error_type is None:
        platform_code = error_dict.get("status") or _utils._http_status_to_error_code(status)
        fcm_error_type = _utils._error_code_to_exception_type(platform_code)
    error: exceptions.FirebaseError = fcm_error_type(message)
    return error


def timeout_error(cause: BaseException) -> exceptions.FirebaseError:
    error: exceptions.FirebaseError = exceptions.DeadlineExceededError(
        f"Timed out while sending to FCM: {cause!r}", cause=cause
    )
    return error


def connection_error(cause: BaseException) -> exceptions.FirebaseError:
    error: exceptions.FirebaseError = exceptions.UnavailableError(
        f"Failed to reach FCM: {cause!r}", cause=cause
    )
    return error


def fcm_error_code(error: exceptions.FirebaseError) -> str:
    """FCM's errorCode where FCM gave one, else the platform code (INVALID_ARGUMENT, …)."""
    for error_type, code in _FCM_ERROR_CODES:
        if isinstance(error, error_type):
            return code
    return str(error.code)


def outcome_for_error(error: exceptions.FirebaseError, *, retry_after_s: float | None = None) -> SendOutcome:
    """DESIGN.md's FCM rules. `retry_after_s` is the server's Retry-After, when it sent one."""
    code = fcm_error_code(error)
    message = str(error)

    def outcome(status: SendStatus, retry_after: float | None = None) -> SendOutcome:
        return SendOutcome.failed(
            status, error_code=code, error_message=message, cause=error, retry_after_s=retry_after
        )

    if isinstance(error, messaging.UnregisteredError | messaging.SenderIdMismatchError):
        return outcome(SendStatus.DEAD_TOKEN)
    if isinstance(error, exceptions.ResourceExhaustedError):  # QuotaExceededError and plain 429
        return outcome(SendStatus.RETRY, max(retry_after_s or 0.0, QUOTA_BACKOFF_FLOOR_S))
    if isinstance(error, exceptions.InvalidArgumentError):
        if _NOT_A_VALID_TOKEN in message.lower():
            return outcome(SendStatus.DEAD_TOKEN)
        return outcome(SendStatus.REJECTED)
    if isinstance(error, messaging.ThirdPartyAuthError):
        # APNs/web-push credentials of the project are wrong: no retry helps until fixed.
        return outcome(SendStatus.REJECTED)
    if isinstance(error, _TRANSIENT):
        return outcome(SendStatus.RETRY, retry_after_s)
    return outcome(SendStatus.REJECTED)
