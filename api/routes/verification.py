"""PDF and OFD verification over HTTP (role verifier): upload files, one report per line.

``POST /v1/verify`` takes one or many files (multipart field ``files``) and
answers NDJSON: one ``sealtrust.verification/1`` report (docs/report-schema.md)
per line, in upload order, each written as soon as it is judged. Size and
file count limits are the service settings ``max_upload_bytes`` and
``max_files_per_request``. :func:`deployment_policy` is also the CLI's, so
``sealtrust verify`` and the API judge a file the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Annotated, Final

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse

from api.auth import Verifier
from api.deployment import Deployment
from api.deps import DeploymentDep, MetricsDep
from trust.errors import InputError
from verification import VerificationPolicy, verify_pdf
from verification.policy import FOREIGN_PADES, SEALTRUST_LICENCE, Recognition
from verification.qr import OfflineLists
from verification.status import ListStatus, RegistryStatus

__all__ = ["app_policy", "deployment_policy", "router"]

router = APIRouter(prefix="/v1/verify", tags=["verification"])
NDJSON: Final = "application/x-ndjson"
ROOT_ROLES: Final = ("sm2-root", "rsa-root")
ISSUING_CA_ROLES: Final = ("sm2-issuing-ca", "rsa-issuing-ca")
_STATUS_LIST_ID: Final = "sl1"  # signing.issue.STATUS_LIST_ID (routes do not import signing)


def deployment_policy(
    deployment: Deployment,
    *,
    offline: OfflineLists | None = None,
    licence_index: dict[str, int] | None = None,
    extra_anchors: Sequence[bytes] = (),
) -> VerificationPolicy:
    """The policy a deployment verifies its licences with.

    Online: the deployment roots (``sm2-root``, ``rsa-root``) with the
    SealTrust licence rule (seal and licence status required), status from
    the registry. Offline: the issuer CAs of the verified trust list, each
    recognised for its listed licence types (SealTrust rule for this
    deployment's issuers, foreign plain PAdES for the others), status from the
    signed status lists. ``extra_anchors`` (``--trust``) are trusted for this
    run as foreign plain PAdES issuers. Later signature fields (the RSA
    signature of a dual-signed licence) are tolerated: ``form_filling``.
    """
    rules: list[tuple[bytes, Recognition]] = [(der, FOREIGN_PADES) for der in extra_anchors]
    # the issuing CAs: OFD seal signatures carry only the signer's certificate
    known = frozenset(deployment.certificate(r).der for r in ISSUING_CA_ROLES
                      if r in deployment.config["keys"])
    if offline is None:
        roots = [deployment.certificate(r).der for r in ROOT_ROLES
                 if r in deployment.config["keys"]]
        rules += [(der, SEALTRUST_LICENCE) for der in roots]
        status = RegistryStatus(deployment.home.database_url())
        return VerificationPolicy(
            trust_anchors=frozenset(der for der, _ in rules), revocation=status,
            licence_status=status, max_modification="form_filling",
            recognitions=VerificationPolicy.issuers(rules), known_intermediates=known)
    own = _own_issuers(deployment)
    rules += recognitions_of(offline, own)
    lists = {issuer: sl for (issuer, list_id), sl in offline.status_lists.items()
             if list_id == _STATUS_LIST_ID}
    source = ListStatus(offline.trust_list, lists, licence_index or {}, crls=offline.crls)
    return VerificationPolicy(
        trust_anchors=frozenset(der for der, _ in rules), revocation=source,
        licence_status=source, max_modification="form_filling",
        recognitions=VerificationPolicy.issuers(rules), known_intermediates=known)


def recognitions_of(offline: OfflineLists, own_issuers: Iterable[str]) -> list[
        tuple[bytes, Recognition]]:
    """(CA, rule) per issuer-ca entry: ours need seal + status, others are foreign PAdES."""
    from trust.trustlist import Role

    own = set(own_issuers)
    out: list[tuple[bytes, Recognition]] = []
    for entry in offline.trust_list.entries:
        if entry.role is not Role.ISSUER_CA:
            continue
        base = SEALTRUST_LICENCE if entry.issuer in own else FOREIGN_PADES
        out.append((entry.certificate, Recognition(
            f"{base.name}:{entry.issuer}", frozenset(entry.licence_types), base.require_seal,
            base.require_licence_status, base.check_revocation, base.embedded_revocation)))
    return out


def _own_issuers(deployment: Deployment) -> list[str]:
    from sqlalchemy import select

    from trust.registry.models import Department

    with deployment.registry.session() as session:
        return [u for u in session.execute(select(Department.uscc)).scalars() if u]


def licence_index(deployment: Deployment) -> dict[str, int]:
    """Licence id -> status index from the registry (offline runs next to a deployment)."""
    from sqlalchemy import select

    from trust.registry.models import Licence

    with deployment.registry.session() as session:
        return {i: int(n) for i, n in session.execute(select(Licence.id, Licence.status_index))}


def app_policy(request: Request, deployment: Deployment) -> VerificationPolicy:
    """The deployment's policy, built once per app (its caches stay warm across requests)."""
    cached: VerificationPolicy | None = getattr(request.app.state, "verification_policy", None)
    if cached is None:
        cached = deployment_policy(deployment)
        request.app.state.verification_policy = cached
    return cached


@router.post("", operation_id="verify_pdfs", response_class=StreamingResponse,
             responses={200: {"content": {NDJSON: {}}}})
async def verify(
    request: Request,
    deployment: DeploymentDep,
    metrics: MetricsDep,
    _principal: Verifier,
    files: Annotated[list[UploadFile], File(description="PDF or OFD files")],
    at: Annotated[datetime | None, Query(description="ISO 8601 validation time")] = None,
) -> StreamingResponse:
    """Verify each uploaded PDF or OFD; one JSON report per line (NDJSON), in upload order."""
    settings = request.app.state.settings
    if len(files) > settings.max_files_per_request:
        raise InputError(f"at most {settings.max_files_per_request} files per request",
                         code="verification.too_many_files")
    if at is not None and (at.tzinfo is None or at.utcoffset() is None):
        raise InputError("at must carry a timezone offset", code="verification.naive_time")
    policy = app_policy(request, deployment)
    limit = int(settings.max_upload_bytes)
    uploads = []
    for upload in files:
        data = await upload.read(limit + 1)
        uploads.append((upload.filename or "", data))

    sized = _sized(policy, limit)  # a larger upload is reported as too large, per file

    def lines() -> Iterator[bytes]:
        for name, data in uploads:
            report = verify_pdf(data, sized, at, name=name)
            metrics.count_verification(
                "ofd" if report.facts.parser == "ofd" else "pdf", report.indication.value)
            yield report.to_json_line()

    return StreamingResponse(lines(), media_type=NDJSON)


def _sized(policy: VerificationPolicy, limit: int) -> VerificationPolicy:
    from dataclasses import replace

    return policy if policy.max_file_size <= limit else replace(policy, max_file_size=limit)


PUBLIC_MAX_BYTES: Final = 16 * 1024 * 1024


@router.post("/file", operation_id="verify_file_public")
def verify_file_public(
    request: Request,
    deployment: DeploymentDep,
    metrics: MetricsDep,
    file: Annotated[UploadFile, File(description="one PDF or OFD licence")],
) -> JSONResponse:
    """Public (the verification page): verify one PDF or OFD file; its report as JSON.

    Anyone holding a licence file may check it, as anyone may scan its QR code.
    Threats: load from anonymous callers — one file per request, at most 16 MiB
    (or the service's upload limit if lower), rate-limited per client like the
    QR routes (settings.rate_limit_paths), and verification itself is bounded in
    time and memory per file; the report says nothing the file does not carry
    besides its status.
    """
    limit = min(int(request.app.state.settings.max_upload_bytes), PUBLIC_MAX_BYTES)
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"file larger than {limit} bytes; 文件超过 {limit} 字节",
                         code="verification.too_large")
    report = verify_pdf(data, app_policy(request, deployment), name=file.filename or "")
    metrics.count_verification("ofd" if report.facts.parser == "ofd" else "pdf",
                                report.indication.value)
    return JSONResponse(report.to_dict())
