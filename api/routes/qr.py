"""亮证 verification over HTTP: QR text or image -> verdict with masked claims (public).

Online by default (live status); ``?offline=true`` judges with the status
lists as an offline verifier would have downloaded them. The public checks
never spend a presentation code (a bystander scanning first must not burn the
holder's code); ``/v1/qr/redeem`` is the counter's authenticated check that
spends it, once across every node sharing the database. Rate limiting
is middleware's job (another layer), not this router's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.auth import Verifier
from api.deps import MetricsDep, Now
from api.sm2_batcher import SignatureBatcher
from trust.errors import InputError
from trust.qrimage import read_qr, to_png, to_svg
from trust.token import TokenResult, decode_token
from trust.token.codec import MAX_TOKEN_CHARS
from verification.qr import QrVerifier, result_view

router = APIRouter(prefix="/v1/qr", tags=["qr"])
MAX_IMAGE_BYTES: Final = 20 * 1024 * 1024


async def qr_verifier(request: Request) -> QrVerifier:
    """One verifier per app (its trust-list cache is per process)."""
    state = request.app.state
    verifier: QrVerifier | None = getattr(state, "qr_verifier", None)
    if verifier is None:
        verifier = QrVerifier(state.deployment.registry)
        state.qr_verifier = verifier
    return verifier


VerifierDep = Annotated[QrVerifier, Depends(qr_verifier)]
Offline = Annotated[bool, Query(description="judge with the downloaded lists only")]


class VerifyIn(BaseModel):
    token: str = Field(min_length=1, max_length=MAX_TOKEN_CHARS)


class CheckOut(BaseModel):
    name: str
    passed: bool
    indication: str
    sub_indication: str | None
    detail: str


class ListsOut(BaseModel):
    trust_list_age_s: int | None
    status_list_age_s: int | None


class VerifyOut(BaseModel):
    """The verdict (ETSI vocabulary, as for PDFs), bilingual message, masked claims."""

    indication: str
    sub_indication: str | None
    passed: bool
    message_zh: str
    message_en: str
    claims: dict[str, Any] | None
    checks: list[CheckOut]
    lists: ListsOut
    expires_at: str | None
    signer: str | None
    online: bool


class DecodeOut(BaseModel):
    text: str


async def _image_bytes(image: UploadFile) -> bytes:
    data = await image.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise InputError(f"image larger than {MAX_IMAGE_BYTES} bytes", code="qr.image_too_large")
    return data


async def _batched(verifier: QrVerifier, batcher: SignatureBatcher, text: str, now: datetime,
                   offline: bool) -> TokenResult:
    """The check with its SM2 verification batched with concurrent requests' (crypto_mb)."""
    pending = verifier.pending(text, now, online=not offline)
    if isinstance(pending, TokenResult):  # a format failure: nothing to verify
        return pending
    if pending is None:  # the trust list needs the database
        return await run_in_threadpool(verifier.verify, text, now, online=not offline)
    items = pending.items()
    verdicts = dict(zip(items, await batcher.verify(list(items.values())), strict=True))
    result = verifier.finish_cached(pending, verdicts, now) if offline else None
    if result is None:
        result = await run_in_threadpool(verifier.finish, pending, verdicts, now,
                                         online=not offline)
    return result


@router.post("/verify", operation_id="qr_verify")
async def verify(request: Request, body: VerifyIn, verifier: VerifierDep, metrics: MetricsDep,
                 now: Now, offline: Offline = False) -> VerifyOut:
    """Verify QR text (public; never spends the code). Bad tokens give a FORMAT_FAILURE
    verdict, not an HTTP error.

    The hot path of the service: an offline check from the cached lists is pure CPU
    (~0.2 ms) and runs on the event loop, sparing two thread hand-offs per request.
    """
    # Threat: a slow or hung database stalling the event loop, and with it every request
    # of this worker and their 503 timeouts: only the I/O-free cached check runs here;
    # whatever needs the database (online status, a list to rebuild) runs in a thread.
    batcher: SignatureBatcher | None = getattr(request.app.state, "sm2_batcher", None)
    result = (await _batched(verifier, batcher, body.token, now, offline)
              if batcher is not None
              else verifier.verify_cached(body.token, now) if offline else None)
    if result is None:
        result = await run_in_threadpool(verifier.verify, body.token, now, online=not offline)
    metrics.count_verification("qr", result.indication.value)
    return VerifyOut.model_validate(result_view(result))


@router.post("/redeem", operation_id="qr_redeem")
def redeem(body: VerifyIn, verifier: VerifierDep, metrics: MetricsDep, now: Now,
           principal: Verifier) -> VerifyOut:
    """A counter's check that spends the code: passes once per code, across every node.

    Authenticated (role ``verifier``), so only counters can use a code up;
    a second redemption is INDETERMINATE with a "refresh" message.
    """
    result = verifier.verify(body.token, now, online=True, redeem=True)
    metrics.count_verification("qr", result.indication.value)
    return VerifyOut.model_validate(result_view(result))


@router.post("/verify-image", operation_id="qr_verify_image")
async def verify_image(verifier: VerifierDep, metrics: MetricsDep, now: Now,
                       image: Annotated[UploadFile, File()],
                       offline: Offline = False) -> VerifyOut:
    """Read the QR from an uploaded picture (PNG, JPEG) and verify it."""
    data = await _image_bytes(image)
    result = verifier.verify_image(data, now, online=not offline)
    metrics.count_verification("qr", result.indication.value)
    return VerifyOut.model_validate(result_view(result))


@router.post("/decode-image", operation_id="qr_decode_image")
async def decode_image(image: Annotated[UploadFile, File()]) -> DecodeOut:
    """Only read the symbol (camera frames of the page); 422 ``qr.image`` when none is found."""
    return DecodeOut(text=read_qr(await _image_bytes(image)))


@router.get("/render", operation_id="qr_render",
            responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}})
def render(text: Annotated[str, Query(max_length=MAX_TOKEN_CHARS)],
           format: Literal["png", "svg"] = "png") -> Response:
    """A QR image of a SealTrust token (nothing else: this is not a general QR service)."""
    decode_token(text)  # raises token.* (422) for anything that is not a well-formed token
    if format == "svg":
        return Response(to_svg(text), media_type="image/svg+xml")
    return Response(to_png(text, box_size=6), media_type="image/png")
