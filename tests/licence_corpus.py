"""Real issued licences in a temporary deployment, and the policies that judge them.

Shared by the licence, CLI, foreign-issuer and API verification tests and the
benchmark: licences come from ``api.issuance.issue_one`` exactly as the
service issues them (SM2 and RSA signatures, B-T time-stamps, bound seal).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
from api.issuance import issue_one
from api.routes.trust import export_crls, export_lists
from api.routes.verification import deployment_policy, licence_index
from signing.departments import department_certificates
from signing.seals import make_department_seal
from signing.types import builtin_types
from verification import VerificationPolicy
from verification.qr import OfflineLists

TYPES = builtin_types()


@dataclass
class Licences:
    """A deployment and licences issued in it, by name."""

    deployment: Deployment
    pdfs: dict[str, bytes] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def issue(self, name: str, alg: str = "sm2", *, number: int = 1, seal: str | None = None,
              at: datetime | None = None, type_code: str = "BL") -> bytes:
        with self.deployment.registry.session() as s:
            issued = issue_one(self.deployment, s, type_code=type_code,
                               record=TYPES.get(type_code).example(number),
                               department=DEMO_DEPARTMENT, alg=alg, seal=seal, at=at,
                               actor="test")
        self.pdfs[name], self.ids[name] = issued.pdf, issued.licence_id
        return issued.pdf

    def new_seal(self, start: datetime, end: datetime) -> str:
        dep = self.deployment
        with dep.registry.session() as s:
            seal = make_department_seal(
                s, department_code=DEMO_DEPARTMENT, maker_key=dep.key("sm2-seal-maker"),
                maker_cert=dep.certificate("sm2-seal-maker"),
                signer_certs=department_certificates(s, DEMO_DEPARTMENT), valid_start=start,
                valid_end=end, at=datetime.now(UTC), actor="test")
            return seal.es_id

    def online(self) -> VerificationPolicy:
        return deployment_policy(self.deployment)

    def offline(self, at: datetime | None = None, *, crls: bool = True) -> VerificationPolicy:
        """The offline policy of a bundle exported at ``at`` (with the CAs' CRLs unless
        ``crls`` is False)."""
        moment = at or datetime.now(UTC)
        signed = export_lists(self.deployment, moment)
        lists = OfflineLists.from_signed(
            signed.trust_list, [signed.anchor], signed.status_lists.values(),
            crls=export_crls(self.deployment, moment).values() if crls else ())
        return deployment_policy(self.deployment, offline=lists,
                                 licence_index=licence_index(self.deployment))


def open_licences(root: Path) -> Iterator[Licences]:
    """A fresh deployment under ``root`` (yielded, then closed)."""
    init_deployment(root)
    home = Home(root)
    deployment = Deployment(home, load_config(home))
    try:
        yield Licences(deployment)
    finally:
        deployment.close()


def later(days: float) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)
