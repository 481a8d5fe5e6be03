"""The signature helper process (core.signatures, docs/adr/0013): it gives the same answers as
checking in the API process, batches a loop turn's checks, and a dead helper costs nobody a
request: the API checks in-process until the helper is back."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from core.errors import Unauthenticated
from core.signatures import SignatureWorker, SignatureWorkerUnavailable
from core.tokens import TokenService, get_tokens
from tests.token_helpers import token_service


@pytest.fixture
async def worker(client: httpx.AsyncClient) -> AsyncIterator[SignatureWorker]:
    tokens = get_tokens()
    started = SignatureWorker(tokens.public_keys())
    await started.start()
    tokens.signature_worker = started
    try:
        yield started
    finally:
        tokens.signature_worker = None
        await started.close()


def _forged(token: str) -> str:
    header, payload, signature = token.split(".")
    flipped = ("A" if signature[10] != "A" else "B")
    return f"{header}.{payload}.{signature[:10]}{flipped}{signature[11:]}"


async def test_the_helper_answers_a_batch_as_the_api_process_would(
        worker: SignatureWorker) -> None:
    tokens = get_tokens()
    issued = [tokens.issue(subject=f"person:{n}", kind="person")[0] for n in range(60)]
    checks = [token if n % 2 else _forged(token) for n, token in enumerate(issued)]
    answers = await asyncio.gather(*(
        worker.check(tokens.kid, *token.rsplit(".", 1)) for token in checks))
    assert answers == [n % 2 == 1 for n in range(60)]
    # Keys it does not know and signatures that are not base64 are invalid, not an error.
    header_and_payload, signature = issued[0].rsplit(".", 1)
    assert await worker.check("no-such-kid", header_and_payload, signature) is False
    assert await worker.check(tokens.kid, header_and_payload, "x") is False


async def test_tokens_checked_through_the_helper_keep_every_refusal(
        worker: SignatureWorker) -> None:
    tokens = get_tokens()
    token, _ = tokens.issue(subject="person:7", kind="person")
    assert (await tokens.verify_async(token))["sub"] == "person:7"
    with pytest.raises(Unauthenticated, match="invalid"):
        await tokens.verify_async(_forged(tokens.issue(subject="person:8", kind="person")[0]))
    expired, _ = tokens.issue(subject="person:9", kind="person", ttl_s=-60)
    with pytest.raises(Unauthenticated, match="expired"):
        await tokens.verify_async(expired)


async def test_pages_are_served_while_the_helper_is_down_and_after_it_is_back(
        worker: SignatureWorker, client: httpx.AsyncClient) -> None:
    tokens: TokenService = get_tokens()
    process = worker._process
    assert process is not None
    os.kill(process.pid, signal.SIGKILL)
    await process.wait()
    # Down: the check fails over to this process, with the same answers.
    token, _ = tokens.issue(subject="person:11", kind="person")
    assert (await tokens.verify_async(token))["sub"] == "person:11"
    with pytest.raises(Unauthenticated, match="invalid"):
        await tokens.verify_async(_forged(tokens.issue(subject="person:12", kind="person")[0]))
    with pytest.raises(SignatureWorkerUnavailable):
        await worker.check(tokens.kid, *token.rsplit(".", 1))
    # Back within its restart delay, as a new process.
    for _ in range(100):
        if worker.running:
            break
        await asyncio.sleep(0.05)
    assert worker.running and worker._process is not None
    assert worker._process.pid != process.pid
    assert await worker.check(tokens.kid, *token.rsplit(".", 1)) is True


async def test_closing_ends_the_helper(client: httpx.AsyncClient) -> None:
    started = SignatureWorker(get_tokens().public_keys())
    await started.start()
    process = started._process
    assert process is not None
    await started.close()
    assert process.returncode is not None
    assert not started.running
    with pytest.raises(SignatureWorkerUnavailable):
        await started.check("kid", "a.b", "c")


async def test_one_helper_checks_rs256_and_es256_tokens_in_one_batch(tmp_path: Path) -> None:
    """During a move from ES256 to RS256 (docs/adr/0014) both kinds of token arrive together."""
    rsa_tokens, ec_tokens = (token_service(tmp_path / algorithm, jwt_algorithm=algorithm)
                             for algorithm in ("RS256", "ES256"))
    helper = SignatureWorker([*rsa_tokens.public_keys(), *ec_tokens.public_keys()])
    await helper.start()
    try:
        checks = []
        for tokens in (rsa_tokens, ec_tokens):
            token, _ = tokens.issue(subject="person:1", kind="person")
            checks += [(tokens.kid, token), (tokens.kid, _forged(token))]
        answers = await asyncio.gather(*(helper.check(kid, *token.rsplit(".", 1))
                                         for kid, token in checks))
        assert answers == [True, False, True, False]
    finally:
        await helper.close()
