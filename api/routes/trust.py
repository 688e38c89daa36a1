"""Public trust material: certificates, the signed trust list and status lists.

The lists are what an offline 亮证 verifier downloads (formats in
docs/qr-format.md). They are signed on demand and cached in-process for a
minute, so a burst of downloads costs one signature; the database remains the
authority and a revocation shows up in the next list within that minute.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from api.deployment import Deployment
from api.deps import DeploymentDep, Now
from api.schemas import CertificateOut
from trust.errors import NotFoundError
from trust.pki import Certificate
from trust.registry.statuslist import DEFAULT_LIST_ID, SignedLists, sign_lists

router = APIRouter(prefix="/v1/trust", tags=["trust"])
COSE_MEDIA_TYPE: Final = "application/cose; cose-type=\"cose-sign1\""
LIST_CACHE_S: Final = 60.0
OPERATOR_ROLE: Final = "sm2-list-signer"  # signs the trust list (key roles)
STATUS_SIGNER_ROLE: Final = "sm2-list-signer"
ANCHOR_ROLE: Final = "sm2-root"  # what relying parties pin; its key stays offline
_lock = threading.Lock()


class StatusListRef(BaseModel):
    issuer: str
    list_id: str
    url: str


def export_lists(deployment: Deployment, now: datetime) -> SignedLists:
    """Sign the trust list and every issuer's status list with the list signer.

    The list signer's certificate rides in the trust list, so a verifier that
    pins the SM2 root (``ANCHOR_ROLE``) checks it was issued by that root and
    carries the list-signing purpose; the root key is not needed online.
    """
    operator = (deployment.key(OPERATOR_ROLE), deployment.certificate(OPERATOR_ROLE).der)
    status = (deployment.key(STATUS_SIGNER_ROLE), deployment.certificate(STATUS_SIGNER_ROLE).der)
    with deployment.registry.session() as session:
        return sign_lists(session, at=now, operator=operator, status_signer=status,
                          anchor=deployment.certificate(ANCHOR_ROLE).der)


def export_crls(deployment: Deployment, now: datetime) -> dict[str, bytes]:
    """Every CA the service publishes a CRL for (roots and issuing CAs) and its CRL as of
    ``now``: the offline bundle's ``crl/<role>.crl``, so an offline verifier covers every
    certificate below the roots (``verification.revocation``). A root's CRL is signed by
    its list signer on its behalf (:meth:`Deployment.sign_crl`), so no root key is used."""
    with deployment.registry.session() as session:
        return {role: deployment.sign_crl(session, role, now)
                for role in deployment.crl_ca_roles()}


def crl_signers(deployment: Deployment) -> dict[str, bytes]:
    """The certificates that sign the roots' CRLs on their behalf (the list signers), by
    role: an offline verifier needs them beside the CRLs (``crl/<role>.pem``)."""
    roles = {ca.replace("-root", "-list-signer") for ca in deployment.crl_ca_roles()
             if ca.endswith("-root")}
    return {role: deployment.certificate(role).der for role in sorted(roles)
            if role in deployment.config["keys"]}


def _cached_lists(request: Request, now: datetime) -> SignedLists:
    state = request.app.state
    with _lock:
        cached: tuple[float, SignedLists] | None = getattr(state, "signed_lists", None)
        if cached is None or time.monotonic() > cached[0]:
            cached = (time.monotonic() + LIST_CACHE_S, export_lists(state.deployment, now))
            state.signed_lists = cached
        return cached[1]


@router.get("/certificates", operation_id="trust_certificates")
def certificates(deployment: DeploymentDep) -> list[CertificateOut]:
    """Every root and working certificate of the deployment, PEM-encoded."""
    out = []
    for record in deployment.certificates():
        cert = Certificate.from_der(record.der)
        out.append(CertificateOut(role=record.role, subject=record.subject,
                                  fingerprint_sha256=record.fingerprint, is_ca=record.is_ca,
                                  not_before=record.not_before, not_after=record.not_after,
                                  pem=cert.to_pem()))
    return out


@router.get("/trust-list", operation_id="trust_list",
            responses={200: {"content": {COSE_MEDIA_TYPE: {}}}})
def trust_list(request: Request, now: Now) -> Response:
    """The signed trust list (COSE_Sign1); pin the operator certificate (``/anchor.pem``)."""
    return Response(_cached_lists(request, now).trust_list, media_type=COSE_MEDIA_TYPE)


@router.get("/anchor.pem", operation_id="trust_list_anchor", response_class=Response,
            responses={200: {"content": {"application/x-pem-file": {}}}})
def anchor(deployment: DeploymentDep) -> Response:
    """The trust anchor (the SM2 root) of the lists; fetch it once, out of band, and pin it."""
    return Response(deployment.certificate(ANCHOR_ROLE).to_pem(),
                    media_type="application/x-pem-file")


@router.get("/status-lists", operation_id="status_lists")
def status_lists(request: Request, now: Now) -> list[StatusListRef]:
    """Where to fetch each issuer's signed status list."""
    return [StatusListRef(issuer=issuer, list_id=DEFAULT_LIST_ID,
                          url=f"/v1/trust/status-lists/{issuer}")
            for issuer in sorted(_cached_lists(request, now).status_lists)]


@router.get("/status-lists/{issuer}", operation_id="status_list",
            responses={200: {"content": {COSE_MEDIA_TYPE: {}}}})
def status_list(issuer: str, request: Request, now: Now) -> Response:
    """One issuer's signed, compressed status bitstring with its issue time."""
    signed = _cached_lists(request, now).status_lists.get(issuer)
    if signed is None:
        raise NotFoundError(f"no status list for issuer {issuer!r}", code="status.not_found")
    return Response(signed, media_type=COSE_MEDIA_TYPE)


CRL_MEDIA_TYPE: Final = "application/pkix-crl"


@router.get("/crl/{ca}", operation_id="trust_crl", response_class=Response,
            responses={200: {"content": {CRL_MEDIA_TYPE: {}}}})
def certificate_revocation_list(ca: str, request: Request, now: Now) -> Response:
    """A CA's X.509 v2 CRL (DER); at most a minute old.

    ``ca``: ``sm2-root``, ``rsa-root`` (signed by the root's list signer, a
    delegated CRL signer: the root key stays offline) or ``sm2-issuing-ca``,
    ``rsa-issuing-ca`` (signed by the issuing CA). The URL is the CRL
    distribution point of the certificates each CA issues. Signed on demand
    and cached per process like the lists above.
    """
    deployment: Deployment = request.app.state.deployment
    if ca not in deployment.crl_ca_roles():
        raise NotFoundError(f"no CA {ca[:32]!r}; one of {', '.join(deployment.crl_ca_roles())}",
                            code="crl.not_found")
    with _lock:
        cache: dict[str, tuple[float, bytes]] = getattr(request.app.state, "crls", {})
        hit = cache.get(ca)
        if hit is None or time.monotonic() > hit[0]:
            with deployment.registry.session() as session:
                der = deployment.sign_crl(session, ca, now)
            hit = cache[ca] = (time.monotonic() + LIST_CACHE_S, der)
            request.app.state.crls = cache
    return Response(hit[1], media_type=CRL_MEDIA_TYPE)
