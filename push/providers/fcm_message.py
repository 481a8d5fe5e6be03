"""FCM messages encoded once per notice by firebase-admin, with the device token spliced in per
send, and the 4096-byte payload limit enforced by shortening title/body safely."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import orjson
from firebase_admin import messaging

MAX_PAYLOAD_BYTES = 4096
ELLIPSIS = "…"
# Stands in for the target while firebase-admin validates and encodes the message; chosen so it
# cannot occur in text a publisher writes.
_TARGET_PLACEHOLDER = "entpage-target-placeholder-4c1f0f3b9e"
_TARGETS = ("token", "fid", "topic", "condition")


class PayloadTooLargeError(ValueError):
    """The message exceeds the FCM payload limit even with an empty title and body."""


def encode_message(message: messaging.Message) -> dict[str, Any]:
    """firebase-admin's own wire encoding (and validation) of a message."""
    encoded: dict[str, Any] = messaging._MessagingService.encode_message(message)
    return encoded


def payload_size(message: messaging.Message) -> int:
    """Bytes FCM counts against the limit: the encoded message without its target."""
    return _payload_size(_encoded_without_target(message))


def _encoded_without_target(message: messaging.Message) -> dict[str, Any]:
    if any(getattr(message, target) is not None for target in _TARGETS):
        encoded = encode_message(message)
    else:
        placeholder = copy.copy(message)
        # firebase-admin 7 deprecates `token` in favour of `fid`; older releases only know `token`.
        target = "fid" if hasattr(placeholder, "fid") else "token"
        setattr(placeholder, target, _TARGET_PLACEHOLDER)
        encoded = encode_message(placeholder)
    return {key: value for key, value in encoded.items() if key not in _TARGETS}


def _payload_size(encoded_without_target: dict[str, Any]) -> int:
    return len(orjson.dumps(encoded_without_target))


def truncate_utf8(text: str, max_bytes: int, *, ellipsis: str = ELLIPSIS) -> str:
    """`text` if it fits in `max_bytes` of UTF-8, else its longest prefix that fits together with
    `ellipsis`. Never splits a multi-byte character."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    budget = max_bytes - len(ellipsis.encode("utf-8"))
    if budget <= 0:
        return ""
    # 'ignore' drops only the incomplete character left at the cut.
    kept = encoded[:budget].decode("utf-8", "ignore")
    return kept.rstrip("\u200d") + ellipsis  # no dangling zero-width joiner before the ellipsis


def fit_to_payload_limit(
    message: messaging.Message, *, limit_bytes: int = MAX_PAYLOAD_BYTES
) -> messaging.Message:
    """A copy of `message` whose notification body (then title) is shortened with an ellipsis
    until the encoded payload fits in `limit_bytes`; `message` itself when it already fits."""
    size = payload_size(message)
    if size <= limit_bytes:
        return message
    notification = message.notification
    if notification is None:
        raise PayloadTooLargeError(f"payload is {size} bytes without a notification to shorten")
    title: str = notification.title or ""
    body: str = notification.body or ""
    fitted = copy.copy(message)
    # JSON escaping makes a character cost at least its UTF-8 bytes, so cutting the overflow in
    # UTF-8 bytes shrinks the payload by at least that much; a few rounds cover escaped text.
    for _ in range(8):
        overflow = size - limit_bytes
        if overflow <= 0:
            return fitted
        if body:
            body = truncate_utf8(body, max(0, len(body.encode("utf-8")) - overflow))
        elif title:
            title = truncate_utf8(title, max(0, len(title.encode("utf-8")) - overflow))
        else:
            break
        fitted.notification = messaging.Notification(
            title=title or None, body=body or None, image=notification.image
        )
        size = payload_size(fitted)
    if size <= limit_bytes:
        return fitted
    raise PayloadTooLargeError(
        f"payload is {size} bytes (limit {limit_bytes}) even after shortening title and body"
    )


@dataclass(frozen=True, slots=True)
class FcmMessageTemplate:
    """The HTTP v1 request body for one notice, encoded once; only the device token differs per
    send, so each send costs a bytes join instead of a run of firebase-admin's encoder."""

    head: bytes  # b'{"message":{...,"token":'
    tail: bytes  # b'}}' (or b'},"validate_only":true}')
    payload_bytes: int

    @classmethod
    def from_message(cls, message: messaging.Message, *, validate_only: bool = False) -> FcmMessageTemplate:
        """`message` must not name a target (token/fid/topic/condition): each send supplies one.
        Raises PayloadTooLargeError when it exceeds the limit: call `fit_to_payload_limit`."""
        if any(getattr(message, target) is not None for target in _TARGETS):
            raise ValueError("a template message must not carry a target; tokens come per send")
        encoded = _encoded_without_target(message)
        size = _payload_size(encoded)
        if size > MAX_PAYLOAD_BYTES:
            raise PayloadTooLargeError(f"payload is {size} bytes (limit {MAX_PAYLOAD_BYTES})")
        envelope: dict[str, Any] = {"message": {**encoded, "token": _TARGET_PLACEHOLDER}}
        if validate_only:
            envelope["validate_only"] = True
        encoded_envelope = orjson.dumps(envelope)
        placeholder = orjson.dumps(_TARGET_PLACEHOLDER)
        if encoded_envelope.count(placeholder) != 1:
            raise ValueError("message text must not contain the target placeholder")
        head, _, tail = encoded_envelope.partition(placeholder)
        return cls(head=head, tail=tail, payload_bytes=size)

    def body_for(self, token: str) -> bytes:
        return b"".join((self.head, orjson.dumps(token), self.tail))
