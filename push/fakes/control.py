"""The control API every fake serves under `/_fake/`: read and change fault settings, read counts
and recent messages, reset, revoke issued access tokens. Never delayed nor fault-injected."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from push.fakes.config import ConfigUpdateError, apply_config_update, config_reply
from push.fakes.http_server import FakeReply, FakeRequest, json_reply
from push.fakes.recorder import Recorder

CONTROL_PREFIX = "/_fake/"
_DEFAULT_RECENT_LIMIT = 50


def handle_control(
    request: FakeRequest,
    *,
    config: Any,
    recorder: Recorder,
    reset: Callable[[], None],
    revoke_tokens: Callable[[], int],
) -> FakeReply:
    action = request.path[len(CONTROL_PREFIX) :]
    if (request.method, action) == ("GET", "config"):
        return config_reply(config)
    if (request.method, action) == ("POST", "config"):
        try:
            apply_config_update(config, orjson.loads(request.body or b"{}"))
        except (ConfigUpdateError, orjson.JSONDecodeError) as error:
            return json_reply(400, {"error": str(error)})
        return config_reply(config)
    if (request.method, action) == ("GET", "stats"):
        return json_reply(200, recorder.stats())
    if (request.method, action) == ("GET", "messages"):
        raw_limit = request.query().get("limit", str(_DEFAULT_RECENT_LIMIT))
        if not raw_limit.isdigit():
            return json_reply(400, {"error": "limit must be a non-negative integer"})
        return json_reply(200, {"messages": recorder.recent(int(raw_limit))})
    if (request.method, action) == ("POST", "reset"):
        reset()
        return json_reply(200, {"reset": True})
    if (request.method, action) == ("POST", "revoke_tokens"):
        return json_reply(200, {"revoked": revoke_tokens()})
    return json_reply(404, {"error": f"no control action {request.method} {request.path}"})
