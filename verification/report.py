"""Frozen verification results: a bottom line, the per-check facts, JSON and a summary.

The JSON form is documented in docs/report-schema.md and validated against
verification/report.schema.json; it embeds the facts, so a stored report can
be re-judged with :func:`verification.judge` under another policy or time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from trust.indications import Check, Indication, SubIndication
from verification.certinfo import cert_info, sha256_hex
from verification.facts import FileFacts, SignatureFacts
from verification.report_json import dumps_with_blobs, line_with_blobs

__all__ = ["SCHEMA_VERSION", "FileReport", "SignatureReport"]

SCHEMA_VERSION: Final = "sealtrust.verification/1"

_ZH_INDICATION: Final = {
    Indication.TOTAL_PASSED: "验证通过",
    Indication.TOTAL_FAILED: "验证失败",
    Indication.INDETERMINATE: "无法确定",
}
_EN_INDICATION: Final = {
    Indication.TOTAL_PASSED: "valid",
    Indication.TOTAL_FAILED: "INVALID",
    Indication.INDETERMINATE: "indeterminate",
}
_ZH_SUB: Final = {
    SubIndication.FORMAT_FAILURE: "文件或签名格式错误",
    SubIndication.HASH_FAILURE: "签名后文档被修改",
    SubIndication.SIG_CRYPTO_FAILURE: "签名值验证失败",
    SubIndication.REVOKED: "证书已吊销",
    SubIndication.NO_CERTIFICATE_CHAIN_FOUND: "找不到可信证书链",
    SubIndication.OUT_OF_BOUNDS_NO_POE: "证书不在有效期内",
    SubIndication.TRY_LATER: "证书状态暂不可得",
    SubIndication.CRYPTO_CONSTRAINTS_FAILURE: "不支持的算法",
    SubIndication.EXPIRED: "证书已过期",
    SubIndication.NOT_YET_VALID: "证书尚未生效",
    SubIndication.CHAIN_CONSTRAINTS_FAILURE: "证书链约束不满足",
    SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE: "证书链错误",
    SubIndication.REVOKED_NO_POE: "证书已吊销（无存在性证明）",
    SubIndication.REVOKED_CA_NO_POE: "上级证书已吊销",
    SubIndication.SIGNED_DATA_NOT_FOUND: "找不到被签数据",
    SubIndication.SIG_CONSTRAINTS_FAILURE: "不满足签章约束（印章或证照状态）",
    SubIndication.TIMESTAMP_ORDER_FAILURE: "时间戳晚于验证时间",
    SubIndication.NO_POE: "无存在性证明",
    SubIndication.REVOCATION_OUT_OF_BOUNDS_NO_POE: "吊销信息已过期或尚未生效",
}
# Licence checks whose sub-indication alone would read as a certificate problem.
_BY_CHECK: Final = {
    ("licence_validity", SubIndication.EXPIRED): ("证照已过期", "licence expired"),
    ("licence_validity", SubIndication.NOT_YET_VALID): ("证照尚未生效", "licence not yet valid"),
    ("licence_validity", SubIndication.SIG_CONSTRAINTS_FAILURE):
        ("证照未签入有效期", "no signed validity period"),
    ("licence_binding", SubIndication.SIG_CONSTRAINTS_FAILURE):
        ("签署部门与发证机关不一致", "signer is not the licence's issuing department"),
    ("registered_file", SubIndication.SIG_CONSTRAINTS_FAILURE):
        ("不是登记的证照文件", "not the registered file"),
}


def _subject(der: bytes) -> str:
    return cert_info(der).subject


@dataclass(frozen=True, slots=True)
class SignatureReport:
    """One signature: its facts, every check run on it, and its own bottom line."""

    facts: SignatureFacts
    checks: tuple[Check, ...]
    indication: Indication
    sub_indication: SubIndication | None
    chain: tuple[bytes, ...] = ()

    def to_dict(self, blob: Callable[[bytes], str] | None = None) -> dict[str, Any]:
        """The JSON form; ``blob`` writes each DER value of the facts (default: base64)."""
        f = self.facts
        return {
            "field": f.field_name,
            "kind": f.kind,
            "indication": self.indication.value,
            "sub_indication": None if self.sub_indication is None else self.sub_indication.value,
            "checks": [
                {
                    "name": c.name,
                    "indication": c.indication.value,
                    "sub_indication": None if c.sub_indication is None else c.sub_indication.value,
                    "detail": c.detail,
                }
                for c in self.checks
            ],
            "signer": f.signer_subject,
            "issuer": f.signer_issuer,
            "serial": f.signer_serial,
            "chain": [
                {"subject": _subject(d), "sha256": sha256_hex(d)}
                for d in self.chain
            ],
            "algorithm": {"digest": f.digest_algorithm, "signature": f.signature_algorithm},
            "subfilter": f.subfilter,
            "signing_time": None if f.signing_time is None else f.signing_time.isoformat(),
            "timestamp_time": None if f.timestamp_time is None else f.timestamp_time.isoformat(),
            "seal": f.seal,
            "licence": {"id": f.licence_id, "type": f.licence_type,
                        "valid_from": None if f.valid_from is None else f.valid_from.isoformat(),
                        "valid_until": None if f.valid_until is None
                        else f.valid_until.isoformat()},
            "facts": f.to_dict(blob),
        }


@dataclass(frozen=True, slots=True)
class FileReport:
    """The verdict on one file at one time under one policy."""

    facts: FileFacts
    at: datetime
    indication: Indication
    sub_indication: SubIndication | None
    signatures: tuple[SignatureReport, ...]
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.indication is Indication.TOTAL_PASSED

    def _deciding_check(self) -> tuple[str, str] | None:
        """Words for the check that decided the verdict, when it is a licence check."""
        for sig in self.signatures:
            for check in sig.checks:
                if check.indication is self.indication and check.sub_indication is not None:
                    return _BY_CHECK.get((check.name, check.sub_indication))
        return None

    def to_dict(self, blob: Callable[[bytes], str] | None = None) -> dict[str, Any]:
        """The JSON form; ``blob`` writes each DER value of the facts (default: base64)."""
        f = self.facts
        return {
            "schema": SCHEMA_VERSION,
            "file": {
                "name": f.name,
                "size": f.size,
                "sha256": f.sha256,
                "parser": f.parser,
                "revisions": f.revisions,
                "sm3": f.sm3,
            },
            "validation_time": self.at.isoformat(),
            "indication": self.indication.value,
            "sub_indication": None if self.sub_indication is None else self.sub_indication.value,
            "detail": self.detail,
            "signatures": [s.to_dict(blob) for s in self.signatures],
            "summary": {"zh": self.summary("zh"), "en": self.summary("en")},
        }

    def to_json(self) -> str:
        """``json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)``, with each
        distinct certificate and seal base64-encoded once per process."""
        return dumps_with_blobs(self.to_dict)

    def to_json_line(self) -> bytes:
        """:meth:`to_json` as one UTF-8 NDJSON line, newline included (bulk output)."""
        return line_with_blobs(self.to_dict)

    def summary(self, lang: str = "zh") -> str:
        """One line for people: the bottom line, why, and who signed."""
        if lang not in ("zh", "en"):
            raise ValueError("lang must be 'zh' or 'en'")
        sub = self.sub_indication
        why = self._deciding_check()
        signers = "; ".join(s.facts.signer_subject or "?" for s in self.signatures)
        licence = next((s.facts.licence_id for s in self.signatures if s.facts.licence_id), None)
        if lang == "zh":
            text = f"{self.facts.name or '文件'}：{_ZH_INDICATION[self.indication]}"
            if why is not None:
                text += f"（{why[0]}）"
            elif sub is not None:
                text += f"（{_ZH_SUB.get(sub, sub.value)}）"
            if licence:
                text += f"，证照 {licence}"
            text += f"，签名 {len(self.signatures)} 个"
            return (
                text
                + (f"，签署者：{signers}" if signers else "")
                + (f"。{self.detail}" if self.detail else "")
            )
        text = f"{self.facts.name or 'file'}: {_EN_INDICATION[self.indication]}"
        if sub is not None:
            text += f" ({sub.value}" + (f": {why[1]})" if why is not None else ")")
        if licence:
            text += f", licence {licence}"
        text += f", {len(self.signatures)} signature(s)"
        return (
            text
            + (f", signed by {signers}" if signers else "")
            + (f". {self.detail}" if self.detail else "")
        )
