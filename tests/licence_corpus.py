"""Real issued licences in a temporary deployment, and the policies that judge them.

Shared by the licence, CLI, foreign-issuer and API verification tests and the
benchmark: licences come from ``api.issuance.issue_one`` exactly as the
service issues them (SM2 and RSA signatures, B-T time-stamps, bound seal).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
from api.issuance import issue_one
from api.routes.trust import crl_signers, export_crls, export_lists
from api.routes.verification import deployment_policy, licence_index
from signing.departments import add_department, department_certificates
from signing.issue import STATUS_LIST_ID, Signer, signed_validity
from signing.pdf import SealBinding, seal_pdf
from signing.render import render_licence
from signing.seals import make_department_seal
from signing.types import builtin_types
from trust.indications import Indication, SubIndication
from trust.registry.models import Department, Licence
from trust.registry.sealed import licence_record
from verification import VerificationPolicy
from verification.qr import OfflineLists

TYPES = builtin_types()
OTHER_DEPARTMENT = "other-dept"  # department A of the cross-department attacks
OTHER_USCC = "11330100002482077H"


@dataclass(frozen=True)
class Attack:
    """A forged or out-of-date licence and the verdict each policy must give it."""

    name: str
    online: tuple[Indication, SubIndication | None, str]  # indication, sub, deciding check
    offline: tuple[Indication, SubIndication | None, str] | None = None


# The licence-binding attacks (issue 12) and their expected verdicts; the deciding check
# is the first check that fails with the file's indication.
BINDING_ATTACKS: Final = (
    Attack("cross_department",
           (Indication.TOTAL_FAILED, SubIndication.SIG_CONSTRAINTS_FAILURE, "licence_binding"),
           (Indication.TOTAL_FAILED, SubIndication.SIG_CONSTRAINTS_FAILURE, "licence_binding")),
    # Two checks catch it: the first (genuine) signature allows no foreign signature after
    # it (modifications, licence.changes), and the second is bound to the wrong department.
    Attack("second_signature_other_department",
           (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE, "modifications"),
           (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE, "modifications")),
    Attack("re_signed_copy",
           (Indication.TOTAL_FAILED, SubIndication.SIG_CONSTRAINTS_FAILURE, "registered_file"),
           (Indication.TOTAL_PASSED, None, "")),  # offline: the registry is not consulted
    Attack("expired",
           (Indication.TOTAL_FAILED, SubIndication.EXPIRED, "licence_validity"),
           (Indication.TOTAL_FAILED, SubIndication.EXPIRED, "licence_validity")),
    Attack("not_yet_valid",
           (Indication.INDETERMINATE, SubIndication.NOT_YET_VALID, "licence_validity"),
           (Indication.INDETERMINATE, SubIndication.NOT_YET_VALID, "licence_validity")),
)


def dated(type_code: str, number: int, start: date, end: date) -> dict[str, Any]:
    """An example record of ``type_code`` with its validity period replaced."""
    licence_type = TYPES.get(type_code)
    record = licence_type.example(number)
    assert licence_type.validity is not None
    record[licence_type.validity.start] = start.isoformat()
    record[licence_type.validity.end] = end.isoformat()
    return record


@dataclass
class Licences:
    """A deployment and licences issued in it, by name."""

    deployment: Deployment
    pdfs: dict[str, bytes] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def issue(self, name: str, alg: str = "sm2", *, number: int = 1, seal: str | None = None,
              at: datetime | None = None, type_code: str = "BL",
              record: Mapping[str, Any] | None = None, historical: bool = False) -> bytes:
        with self.deployment.registry.session() as s:
            issued = issue_one(self.deployment, s, type_code=type_code,
                               record=record or TYPES.get(type_code).example(number),
                               department=DEMO_DEPARTMENT, alg=alg, seal=seal, at=at,
                               actor="test", historical=historical)
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

    def department(self, code: str = OTHER_DEPARTMENT,
                   uscc: str = OTHER_USCC) -> tuple[Signer, bytes]:
        """Another department's SM2 signer and seal (made once): department A."""
        dep = self.deployment
        with dep.registry.session() as s:
            if s.get(Department, code) is None:
                now = datetime.now(UTC)
                add_department(s, dep.stores, dep.home.pin(), code=code, name="杭州市公安局",
                               uscc=uscc, region="330100", roots=dep.roots(),
                               algorithms=("sm2",), at=now, actor="test")
                make_department_seal(
                    s, department_code=code, maker_key=dep.key("sm2-seal-maker"),
                    maker_cert=dep.certificate("sm2-seal-maker"),
                    signer_certs=department_certificates(s, code),
                    valid_start=now - timedelta(days=1), valid_end=now + timedelta(days=365),
                    at=now, actor="test")
            from trust.registry.models import KeyRecord, SealRecord

            uri = s.query(KeyRecord.uri).filter(KeyRecord.department_code == code).scalar()
            seal = s.query(SealRecord.der).filter(SealRecord.department_code == code).first()
            assert uri is not None and seal is not None
            return dep.signer(uri), bytes(seal[0])

    def own_signer(self) -> tuple[Signer, bytes]:
        """The demo department's SM2 signer and seal: department B, the victim."""
        from trust.registry.models import KeyRecord, SealRecord

        dep = self.deployment
        with dep.registry.session() as s:
            uri = s.query(KeyRecord.uri).filter(
                KeyRecord.department_code == DEMO_DEPARTMENT,
                KeyRecord.algorithm == "sm2").scalar()
            seal = s.query(SealRecord.der).filter(
                SealRecord.department_code == DEMO_DEPARTMENT,
                SealRecord.status == "active").first()
            assert uri is not None and seal is not None
            return dep.signer(uri), bytes(seal[0])

    def sign_as(self, signer: Signer, seal_der: bytes, victim: str, *,
                pdf: bytes | None = None, field_name: str = "Seal",
                licence_id: bool = True) -> bytes:
        """Sign (a fresh rendering of, or incrementally) ``victim``'s licence through the
        library with ``signer`` and its seal, carrying the victim's licence id, status
        index and validity: what a department holding any valid key and seal can make."""
        dep = self.deployment
        with dep.registry.session() as s:
            row = s.get(Licence, self.ids[victim])
            assert row is not None
            index, type_code = row.status_index, row.type_code
            record = dict(licence_record(s, row).holder)  # the one decryption path
        licence_type = TYPES.get(type_code)
        if pdf is None:
            pdf = render_licence(licence_type, record, self.ids[victim], qr_payload="forged",
                                 seal_png=None, issuer_name="forger",
                                 issued_at=datetime.now(UTC), validated=True)
        today = datetime.now(UTC).date()
        binding = SealBinding(
            seal_der, licence_id=self.ids[victim] if licence_id else None,
            status_ref=(STATUS_LIST_ID, index) if licence_id else None,
            validity=signed_validity((today - timedelta(days=1), today + timedelta(days=365))))
        return seal_pdf(pdf, signer.key, signer.chain,
                        timestamper=dep.issuer_context().timestamper_for(signer.key),
                        field_name=field_name, seal=binding)

    def make_attacks(self) -> dict[str, bytes]:
        """The files of :data:`BINDING_ATTACKS`, by name (issues the victims it needs)."""
        today = datetime.now(UTC).date()
        victim = self.issue("victim", "sm2", number=90)
        other, other_seal = self.department()
        own, own_seal = self.own_signer()
        return {
            "cross_department": self.sign_as(other, other_seal, "victim"),
            "second_signature_other_department": self.sign_as(
                other, other_seal, "victim", pdf=victim, field_name="Seal2"),
            "re_signed_copy": self.sign_as(own, own_seal, "victim"),
            "expired": self.issue("expired", "sm2", type_code="APR", historical=True,
                                  record=dated("APR", 91, date(2016, 3, 1), date(2019, 2, 28))),
            "not_yet_valid": self.issue("not_yet_valid", "sm2", type_code="APR",
                                        record=dated("APR", 92, today + timedelta(days=30),
                                                     today + timedelta(days=400))),
        }

    def online(self) -> VerificationPolicy:
        return deployment_policy(self.deployment)

    def offline(self, at: datetime | None = None, *, crls: bool = True) -> VerificationPolicy:
        """The offline policy of a bundle exported at ``at`` (with the CAs' CRLs unless
        ``crls`` is False)."""
        moment = at or datetime.now(UTC)
        signed = export_lists(self.deployment, moment)
        lists = OfflineLists.from_signed(
            signed.trust_list, [signed.anchor], signed.status_lists.values(),
            crls=export_crls(self.deployment, moment).values() if crls else (),
            crl_signers=crl_signers(self.deployment).values())
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


# Changes after signing (issue 12), applied to issued licences: builder -> the kinds
# the report must name. None of them is allowed after a licence's signature.
def licence_changes() -> dict[str, tuple[Callable[[bytes], bytes], tuple[str, ...]]]:
    from tests import pdf_corpus as corpus

    return {
        "metadata_info": (corpus.metadata_info_update, ("info",)),
        "metadata_xmp": (corpus.metadata_xmp_update, ("xmp",)),
        "sneaky_signature_field": (corpus.sneaky_signature_field,
                                   ("signature_appearance", "signature_field")),
        "annotation_overlay": (corpus.incremental_annotation_overlay, ("annotation",)),
    }
