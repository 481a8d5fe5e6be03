"""Payloads of the push endpoints, parsed into frozen dataclasses (every problem reported with
its path, unknown fields refused)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.validation import Reader
from push.models import APP_PLATFORMS, CHANNELS, CONSENT_RESULTS, PUSH_KINDS

# FCM registration tokens are URL-safe base64 plus ':' ('-' and '_' too); be liberal in length.
FCM_TOKEN = re.compile(r"[A-Za-z0-9_:\-.]{16,512}")
INSTALLATION_ID = re.compile(r"[A-Za-z0-9_\-.:]{1,64}")
APP_VERSION = re.compile(r"[0-9A-Za-z.+\-_]{1,32}")
LOCALE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")
TEMPLATE_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


@dataclass(frozen=True, slots=True)
class DeviceInput:
    token: str
    platform: str
    app_version: str | None
    locale: str
    installation_id: str | None
    replaces: str | None


def parse_device(payload: Any) -> DeviceInput:
    r = Reader(payload)
    r.reject_unknown({"channel", "token", "platform", "app_version", "locale",
                      "installation_id", "replaces"})
    r.choice("channel", ("fcm",), required=False)  # mini-programs register via /v1/me/wechat
    token = r.string("token", max_length=512, pattern=FCM_TOKEN)
    platform = r.choice("platform", APP_PLATFORMS)
    app_version = r.string("app_version", required=False, max_length=32, pattern=APP_VERSION)
    locale = r.string("locale", required=False, max_length=10, pattern=LOCALE) or "zh-Hans"
    installation_id = r.string("installation_id", required=False, max_length=64,
                               pattern=INSTALLATION_ID)
    replaces = r.string("replaces", required=False, max_length=512, pattern=FCM_TOKEN)
    if replaces is not None and replaces == token:
        r.fail("replaces", "must differ from token")
    r.raise_if_failed()
    assert token and platform
    return DeviceInput(token, platform, app_version, locale, installation_id, replaces)


@dataclass(frozen=True, slots=True)
class UnregisterInput:
    token: str


def parse_unregister(payload: Any) -> UnregisterInput:
    r = Reader(payload)
    r.reject_unknown({"token"})
    token = r.string("token", max_length=512, pattern=FCM_TOKEN)
    r.raise_if_failed()
    assert token
    return UnregisterInput(token)


def parse_wechat_code(payload: Any) -> str:
    r = Reader(payload)
    r.reject_unknown({"code"})
    code = r.string("code", max_length=128)
    r.raise_if_failed()
    assert code
    return code


@dataclass(frozen=True, slots=True)
class ConsentInput:
    results: dict[str, str]  # template id → accept | reject | ban
    device_id: int | None


def parse_consents(payload: Any) -> ConsentInput:
    """The object `wx.requestSubscribeMessage` resolves with, under `results`:
    `{"results": {"<template id>": "accept" | "reject" | "ban", "errMsg": "…:ok"}}`."""
    r = Reader(payload)
    r.reject_unknown({"results", "device_id"})
    device_id = r.integer("device_id", required=False, minimum=1)
    raw = r.payload.get("results")
    results: dict[str, str] = {}
    if not isinstance(raw, dict) or not raw:
        r.fail("results", "must be a non-empty object of template id → result", "type")
    else:
        for template_id, result in raw.items():
            if template_id == "errMsg":  # wx.requestSubscribeMessage's own status line
                continue
            if not TEMPLATE_ID.fullmatch(str(template_id)):
                r.fail(f"results/{template_id}", "is not a template id", "format")
            elif result not in CONSENT_RESULTS:
                r.fail(f"results/{template_id}", f"must be one of: {', '.join(CONSENT_RESULTS)}",
                       "choice")
            else:
                results[str(template_id)] = str(result)
        if not results and not r.problems:
            r.fail("results", "names no template", "required")
        if len(raw) > 20:
            r.fail("results", "must have at most 20 templates", "too-long")
    r.raise_if_failed()
    return ConsentInput(results, device_id)


@dataclass(frozen=True, slots=True)
class QuietHoursInput:
    start_minute: int
    end_minute: int
    timezone: str


@dataclass(frozen=True, slots=True)
class PreferencesInput:
    switches: tuple[tuple[str, str, bool], ...]
    quiet_hours: QuietHoursInput | None
    quiet_hours_given: bool


def _minutes(r: Reader, name: str) -> int | None:
    value = r.string(name, max_length=5, pattern=HHMM)
    if value is None:
        return None
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def parse_preferences(payload: Any) -> PreferencesInput:
    r = Reader(payload)
    r.reject_unknown({"preferences", "quiet_hours"})
    switches: list[tuple[str, str, bool]] = []
    seen: set[tuple[str, str]] = set()
    for item in r.objects("preferences", max_items=len(PUSH_KINDS) * len(CHANNELS)):
        item.reject_unknown({"kind", "channel", "enabled"})
        kind = item.choice("kind", PUSH_KINDS)
        channel = item.choice("channel", CHANNELS)
        enabled = item.boolean("enabled", required=True)
        if kind and channel:
            if (kind, channel) in seen:
                item.fail("kind", "is listed twice for this channel", "duplicate")
            seen.add((kind, channel))
            switches.append((kind, channel, enabled))
    quiet: QuietHoursInput | None = None
    given = r.has("quiet_hours")
    if given and r.payload.get("quiet_hours") is not None:
        q = Reader(r.payload["quiet_hours"], path="quiet_hours", problems=r.problems)
        q.reject_unknown({"start", "end", "timezone"})
        start, end = _minutes(q, "start"), _minutes(q, "end")
        timezone = q.string("timezone", required=False, max_length=40) or "Asia/Shanghai"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            q.fail("timezone", "is not an IANA time zone", "format")
        if start is not None and end is not None and start == end:
            q.fail("end", "must differ from start (omit quiet_hours to turn them off)")
        if start is not None and end is not None:
            quiet = QuietHoursInput(start, end, timezone)
    r.raise_if_failed()
    return PreferencesInput(tuple(switches), quiet, given)
