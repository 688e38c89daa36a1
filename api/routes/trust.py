"""Public trust material: the deployment's certificates (no credentials needed)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import DeploymentDep
from api.schemas import CertificateOut
from trust.pki import Certificate

router = APIRouter(prefix="/v1/trust", tags=["trust"])


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
