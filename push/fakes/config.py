"""Runtime settings of a fake: latency and fault-injection rates, settable from the command line
(`--rate-503 0.1`) and at runtime (`POST /_fake/config {"rate_503": 0.1}`) from one dataclass."""

from __future__ import annotations

import argparse
import copy
import dataclasses
import random
import types
import typing
from dataclasses import dataclass
from typing import Any

from push.fakes.http_server import FakeApp, FakeReply, json_reply, run_forever


@dataclass(slots=True)
class CommonFaults:
    """Faults every fake can inject. A rate is the probability (0–1) that one request gets it."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0  # uniform extra latency in [0, jitter_ms)
    rate_503: float = 0.0
    rate_500: float = 0.0
    # Retry-After header (seconds) sent with injected 5xx; none when unset.
    server_retry_after_s: float | None = None
    # The request is never answered: the client's timeout has to fire.
    rate_timeout: float = 0.0

    def response_delay_s(self, rng: random.Random) -> float:
        if self.jitter_ms > 0:
            return (self.latency_ms + rng.random() * self.jitter_ms) / 1000.0
        return self.latency_ms / 1000.0


def server_retry_after(config: CommonFaults) -> tuple[tuple[str, str], ...]:
    """The Retry-After header for an injected 5xx, if the fake is set to send one."""
    if config.server_retry_after_s is None:
        return ()
    return (("Retry-After", str(max(0, round(config.server_retry_after_s)))),)


def pick_fault(rng: random.Random, rates: dict[str, float]) -> str | None:
    """One draw over mutually exclusive faults; `None` means the request goes through."""
    if not any(rates.values()):
        return None
    draw = rng.random()
    for name, rate in rates.items():
        if draw < rate:
            return name
        draw -= rate
    return None


def _field_types(config_cls: type[Any]) -> dict[str, Any]:
    return typing.get_type_hints(config_cls)


def _base_type(annotation: Any) -> tuple[type[Any], bool]:
    """(scalar type, optional?) of a field annotation such as `float | None` or `list[str]`."""
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        non_none = [a for a in args if a is not type(None)]
        return _base_type(non_none[0])[0], True
    origin = typing.get_origin(annotation)
    if origin is list:
        return list, False
    return annotation, False


def add_config_arguments(parser: argparse.ArgumentParser, config_cls: type[Any]) -> None:
    """One `--flag` per field: `rate_503` becomes `--rate-503`; lists are comma separated."""
    defaults = config_cls()
    for item in dataclasses.fields(config_cls):
        scalar, _ = _base_type(_field_types(config_cls)[item.name])
        flag = "--" + item.name.replace("_", "-")
        default = getattr(defaults, item.name)
        if scalar is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        elif scalar is list:
            parser.add_argument(flag, default=",".join(default), help="comma separated", metavar="A,B")
        else:
            parser.add_argument(flag, type=scalar, default=default)


def config_from_arguments(config_cls: type[Any], namespace: argparse.Namespace) -> Any:
    values: dict[str, Any] = {}
    for item in dataclasses.fields(config_cls):
        scalar, _ = _base_type(_field_types(config_cls)[item.name])
        raw = getattr(namespace, item.name)
        values[item.name] = [v for v in raw.split(",") if v] if scalar is list else raw
    return config_cls(**values)


class ConfigUpdateError(ValueError):
    pass


def apply_config_update(config: Any, update: Any) -> None:
    """Validate the whole update first, then apply it: a bad key changes nothing."""
    if not isinstance(update, dict):
        raise ConfigUpdateError("config update must be a JSON object")
    hints = _field_types(type(config))
    checked: dict[str, Any] = {}
    for key, value in update.items():
        if key not in hints:
            raise ConfigUpdateError(f"unknown setting {key!r}; known: {sorted(hints)}")
        scalar, optional = _base_type(hints[key])
        checked[key] = _coerce(key, value, scalar, optional=optional)
    for key, value in checked.items():
        setattr(config, key, value)


def _coerce(key: str, value: Any, scalar: type[Any], *, optional: bool) -> Any:
    if value is None and optional:
        return None
    if scalar is bool and isinstance(value, bool):
        return value
    if scalar is list and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    if scalar in (int, float) and isinstance(value, int | float) and not isinstance(value, bool):
        if key.startswith("rate_") and not 0.0 <= value <= 1.0:
            raise ConfigUpdateError(f"{key} must be between 0 and 1")
        if value < 0:
            raise ConfigUpdateError(f"{key} must not be negative")
        return scalar(value)
    if scalar is str and isinstance(value, str):
        return value
    raise ConfigUpdateError(f"{key} must be {scalar.__name__}, got {value!r}")


def restore_config(config: Any, initial: Any) -> None:
    """Put `config` back to the settings the fake started with (`POST /_fake/reset`)."""
    for item in dataclasses.fields(initial):
        setattr(config, item.name, copy.deepcopy(getattr(initial, item.name)))


def config_as_json(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def config_reply(config: Any) -> FakeReply:
    return json_reply(200, config_as_json(config))


class BuildFake(typing.Protocol):
    def __call__(self, config: Any, /, *, keep_messages: int, seed: int | None) -> FakeApp: ...


def run_fake_cli(argv: list[str] | None, *, prog: str, description: str | None, name: str,
                 default_port: int, config_cls: type[Any], build: BuildFake) -> None:
    """`python -m push.fakes.<provider>`: listen options, every fault knob of `config_cls` as a
    flag, then serve until interrupted (first output line: where it listens)."""
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--keep-messages", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=None)
    add_config_arguments(parser, config_cls)
    args = parser.parse_args(argv)
    fake = build(config_from_arguments(config_cls, args), keep_messages=args.keep_messages,
                 seed=args.seed)
    run_forever(fake, host=args.host, port=args.port, name=name)
