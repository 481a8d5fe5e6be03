"""Token signatures checked in a helper process, a batch per message (docs/adr/0013).

A signature check costs ≈ 30 µs of CPU (RS256, ADR 0014) to ≈ 63 µs (ES256), one of the
largest items of a first page view, and the API's event loop is one thread. The helper process
runs on another core: the API sends the signatures of one loop turn in one frame and gets one
byte per signature back (`1` valid, `0` not). Everything else about a token (format, header,
key, algorithm, claims) is still checked by `core.tokens` in the API process; the helper only
answers "does this signature verify with this key".

Frames on both pipes: a 4-byte big-endian length, then the body. The first frame to the helper
carries the public keys (`[[kid, alg, pem], …]`) and is answered `ready`; then each frame is an
orjson array of `[kid, signing_input, signature_segment]` and is answered in order.

When the helper is missing, dead or slow, `SignatureWorkerUnavailable` tells the caller to check
in-process; a dead helper is restarted after `RESTART_AFTER_S`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import signal
import struct
import sys
from collections import deque
from collections.abc import Sequence
from typing import Any, BinaryIO

import orjson

from core.batching import Batcher

log = logging.getLogger(__name__)

_LENGTH = struct.Struct(">I")
_READY = b"ready"
PublicKey = tuple[str, str, bytes]  # kid, JWS algorithm, SubjectPublicKeyInfo PEM
Check = tuple[str, str, str]  # kid, signing input, signature segment (base64url)


class SignatureWorkerUnavailable(Exception):
    """No answer from the helper: check the signature in this process instead."""


class SignatureWorker:
    """The API side: `await check(kid, signing_input, segment)` → whether the signature is
    valid, answered by the helper process together with every other check of the loop turn."""

    START_TIMEOUT_S = 15.0
    ANSWER_TIMEOUT_S = 2.0  # a helper slower than this is treated as hung and replaced
    RESTART_AFTER_S = 1.0

    def __init__(self, keys: Sequence[PublicKey]) -> None:
        self._keys = list(keys)
        self._process: asyncio.subprocess.Process | None = None
        self._waiting: deque[asyncio.Future[bytes]] = deque()
        self._supervisor: asyncio.Task[None] | None = None
        self._ready: asyncio.Event | None = None
        self._closing = False
        self._batch: Batcher[Check, bool] = Batcher(
            self._check_many, name="tokens.signatures", max_batch=256)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self) -> None:
        """Start the helper and wait until it has loaded the keys."""
        self._closing = False
        self._ready = asyncio.Event()
        self._supervisor = asyncio.create_task(self._supervise(self._ready),
                                               name="signature-worker")
        async with asyncio.timeout(self.START_TIMEOUT_S):
            await self._ready.wait()

    async def close(self) -> None:
        self._closing = True
        process, supervisor = self._process, self._supervisor
        self._supervisor = None
        if process is not None and process.returncode is None and process.stdin is not None:
            process.stdin.close()  # the helper ends on end of input
            try:
                async with asyncio.timeout(2.0):
                    await process.wait()
            except TimeoutError:
                process.kill()
        if supervisor is not None:
            supervisor.cancel()
            await asyncio.wait({supervisor}, timeout=2.0)
        self._fail_waiting()

    async def check(self, kid: str, signing_input: str, segment: str) -> bool:
        if not self.running:
            raise SignatureWorkerUnavailable
        return await self._batch((kid, signing_input, segment))

    async def _check_many(self, checks: Sequence[Check]) -> list[bool]:
        process = self._process
        if process is None or process.returncode is not None or process.stdin is None:
            raise SignatureWorkerUnavailable
        answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting.append(answer)
        body = orjson.dumps(checks)
        process.stdin.write(_LENGTH.pack(len(body)) + body)
        try:
            async with asyncio.timeout(self.ANSWER_TIMEOUT_S):
                await process.stdin.drain()
                reply = await answer
        except TimeoutError:
            log.error("core.signatures.worker_timeout", extra={"checks": len(checks)})
            process.kill()  # answers after this one would be out of step: start afresh
            raise SignatureWorkerUnavailable from None
        except (ConnectionError, BrokenPipeError) as exc:
            raise SignatureWorkerUnavailable from exc
        if len(reply) != len(checks):
            process.kill()
            raise SignatureWorkerUnavailable
        return [byte == 0x31 for byte in reply]

    async def _supervise(self, ready: asyncio.Event) -> None:
        while not self._closing:
            try:
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "core.signatures",
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
                assert process.stdin is not None and process.stdout is not None
                keys = orjson.dumps([[kid, alg, pem.decode()] for kid, alg, pem in self._keys])
                process.stdin.write(_LENGTH.pack(len(keys)) + keys)
                if await _read_frame(process.stdout) != _READY:
                    raise RuntimeError("the signature helper did not start")
                self._process = process
                ready.set()
                log.info("core.signatures.worker_started", extra={"pid": process.pid})
                while (frame := await _read_frame(process.stdout)) is not None:
                    answered = self._waiting.popleft()
                    if not answered.done():  # not given up on (timeout, shutdown)
                        answered.set_result(frame)
                await process.wait()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("core.signatures.worker_failed")
            finally:
                self._process = None
                self._fail_waiting()
            if not self._closing:
                log.error("core.signatures.worker_exited")
                await asyncio.sleep(self.RESTART_AFTER_S)

    def _fail_waiting(self) -> None:
        while self._waiting:
            waiting = self._waiting.popleft()
            if not waiting.done():
                waiting.set_exception(SignatureWorkerUnavailable())


async def _read_frame(stream: asyncio.StreamReader) -> bytes | None:
    try:
        (length,) = _LENGTH.unpack(await stream.readexactly(_LENGTH.size))
        return await stream.readexactly(length)
    except asyncio.IncompleteReadError:
        return None


# -- the helper process ----------------------------------------------------------------------


def _read(stream: BinaryIO) -> bytes | None:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(head)
    body = stream.read(length)
    return body if len(body) == length else None


def _write(stream: BinaryIO, body: bytes) -> None:
    stream.write(_LENGTH.pack(len(body)) + body)
    stream.flush()


def _valid(keys: dict[str, tuple[Any, Any]], check: Any) -> bool:
    try:
        kid, signing_input, segment = check
        algorithm, key = keys[kid]
        signature = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        return bool(algorithm.verify(signing_input.encode(), key, signature))
    except Exception:  # any malformed check is simply not a valid signature
        return False


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    import jwt
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    first = _read(stdin)
    if first is None:
        return
    keys = {kid: (jwt.get_algorithm_by_name(alg), load_pem_public_key(pem.encode()))
            for kid, alg, pem in orjson.loads(first)}
    _write(stdout, _READY)
    while (frame := _read(stdin)) is not None:
        _write(stdout, bytes(0x31 if _valid(keys, check) else 0x30
                             for check in orjson.loads(frame)))


if __name__ == "__main__":
    # The API's process group gets the terminal's Ctrl-C; the API closes our input instead.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(BrokenPipeError):
        serve(sys.stdin.buffer, sys.stdout.buffer)
