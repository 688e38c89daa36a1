"""Facts from PDF bytes: the fast path when the file has the licence shape, else the full one.

Never raises for bad input: a file that cannot be read yields FileFacts with
``format_error`` set, so one bad file never stops a batch.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from verification.cms import SignedCms, digest_ranges, digest_signed_and_whole, parse_cms
from verification.errors import CmsFormatError, VerificationInputError
from verification.facts import FileFacts
from verification.ofd import OfdPlan, extract_ofd_facts, finish_ofd, looks_like_zip, plan_ofd
from verification.pdf.common import signature_facts
from verification.pdf.full import analyse
from verification.pdf.locate import Located, locate
from verification.sm2_batch import SignatureInput

__all__ = ["FactsPlan", "extract_facts", "finish_facts", "plan_facts"]


def extract_facts(
    data: bytes, *, name: str = "", max_size: int = 64 * 1024 * 1024, allow_fast: bool = True,
    file_sm3: bool = False,
) -> FileFacts:
    """Read every signature of one file once. ``allow_fast=False`` forces the full analysis;
    ``file_sm3`` also hashes the file as its last signer left it (:attr:`FileFacts.sm3`)."""
    return finish_facts(plan_facts(data, name=name, max_size=max_size, allow_fast=allow_fast,
                                   file_sm3=file_sm3))


@dataclass(frozen=True, slots=True)
class _FastParts:
    """A licence-shaped PDF parsed and hashed, before any signature is verified."""

    found: Located
    signed: SignedCms
    token: SignedCms | None  # the parsed signature time-stamp, when it parsed
    range_digest: bytes | None  # shared-prefix digests (SM2 licences, file SM3 wanted)
    whole: bytes | None


@dataclass(frozen=True, slots=True)
class FactsPlan:
    """One file between parsing and verification (:func:`plan_facts`): the bulk engine
    gathers the signature inputs of a chunk (:meth:`signature_inputs`), verifies them
    together, then :func:`finish_facts` builds the facts as :func:`extract_facts` would."""

    data: bytes
    base: FileFacts
    max_size: int
    allow_fast: bool
    file_sm3: bool
    fast: _FastParts | None
    ofd: OfdPlan | None = None  # an OFD package (a zip, within the size limit), read

    def signature_inputs(self) -> list[SignatureInput]:
        """(key, algorithm, message, signature) of the verifications the facts will need:
        the CMS signature and its time-stamp token's (signed attributes only); for an
        OFD package each seal signature, its token's and each Sign value's."""
        if self.ofd is not None:
            return self.ofd.signature_inputs()
        out: list[SignatureInput] = []
        if self.fast is None:
            return out
        for cms in (self.fast.signed, self.fast.token):
            found = None if cms is None else cms.signature_input()
            if found is not None:
                out.append(found)
        return out

    @property
    def gathers(self) -> bool:
        """Whether :func:`finish_facts` will ask for verifications a chunk can gather
        (else the file may be finished at once)."""
        return self.fast is not None or (self.ofd is not None and self.ofd.gathers)

    @property
    def held_bytes(self) -> int:
        """Bytes this plan keeps alive until it is finished (the file and what was read
        out of it), for the bulk engine's memory bound."""
        return len(self.data) + (0 if self.ofd is None else self.ofd.held_bytes)


def plan_facts(
    data: bytes, *, name: str = "", max_size: int = 64 * 1024 * 1024, allow_fast: bool = True,
    file_sm3: bool = False,
) -> FactsPlan:
    """The parsing half of :func:`extract_facts` (never raises for bad input)."""
    digest = hashlib.sha256(data).hexdigest()
    base = FileFacts(name=name, size=len(data), sha256=digest, parser="none")
    fast = ofd = None
    if len(data) <= max_size:
        if looks_like_zip(data):  # by content, not by name: an OFD package
            ofd = plan_ofd(data, name=name, sha256=digest)
        elif allow_fast:
            try:
                fast = _plan_fast(data, file_sm3)
            except Exception:  # noqa: BLE001  (any surprise: let the full path judge the file)
                fast = None
    return FactsPlan(data, base, max_size, allow_fast, file_sm3, fast, ofd)


def finish_facts(plan: FactsPlan) -> FileFacts:
    """The verifying half of :func:`extract_facts`: the facts of a planned file."""
    facts = _extract(plan)
    if not plan.file_sm3 or facts.format_error is not None or facts.sm3 is not None:
        return facts
    return replace(facts, sm3=signed_file_sm3(plan.data, facts))


def signed_file_sm3(data: bytes, facts: FileFacts) -> str | None:
    """SM3 of the bytes up to the end of the last signature's revision (the end of its
    second byte range): the whole file as issued, even after later DSS or document
    time-stamp updates. None when no signature has a well-formed byte range."""
    if facts.parser == "ofd":  # an OFD package has no revisions: the registered file is all of it
        return digest_ranges(data, ((0, len(data)),), "sm3").hex()
    ends = [s.byte_range[2] + s.byte_range[3] for s in facts.signatures
            if s.kind == "signature" and s.structure_error is None and len(s.byte_range) == 4]
    if not ends or max(ends) > len(data):
        return None
    return digest_ranges(data, ((0, max(ends)),), "sm3").hex()


def _extract(plan: FactsPlan) -> FileFacts:
    data, base, max_size = plan.data, plan.base, plan.max_size
    if len(data) > max_size:
        return _failed(base, f"file of {len(data)} bytes exceeds the {max_size}-byte limit")
    if plan.ofd is not None:
        return finish_ofd(plan.ofd)
    if looks_like_zip(data):  # (a plan made by hand without its OFD half)
        return extract_ofd_facts(data, name=base.name, sha256=base.sha256)
    if plan.fast is not None:
        try:
            fast = _fast(data, base, plan.fast)
        except Exception:  # noqa: BLE001  (any surprise: let the full path judge the file)
            fast = None
        if fast is not None:
            return fast
    try:
        revisions, signatures = analyse(data)
    except VerificationInputError as exc:
        return _failed(base, exc.message)
    except Exception as exc:  # noqa: BLE001  (a broken file must not stop the batch)
        return _failed(base, f"unreadable PDF: {type(exc).__name__}: {exc}"[:500])
    return FileFacts(
        name=base.name,
        size=len(data),
        sha256=base.sha256,
        parser="full",
        revisions=revisions,
        signatures=signatures,
    )


def _plan_fast(data: bytes, file_sm3: bool) -> _FastParts | None:
    found = locate(data)
    if found is None:
        return None
    try:
        signed = parse_cms(found.contents)
    except CmsFormatError:
        return None  # let the full path describe it
    range_digest = whole = None
    if file_sm3 and signed.range_digest_algorithm == "sm3":
        # an SM2 licence: its signed ranges and the registered-file SM3 share the prefix
        _, b, c, d = found.byte_range
        try:
            range_digest, whole = digest_signed_and_whole(data, b, c, d, "sm3")
        except CmsFormatError:
            range_digest = whole = None  # hashed (and judged) the usual way later
    token = None
    if signed.timestamp_token is not None:
        try:
            token = parse_cms(signed.timestamp_token, timestamp=True)
        except CmsFormatError:
            token = None  # token_facts parses it again and words the error
    return _FastParts(found, signed, token, range_digest, whole)


def _fast(data: bytes, base: FileFacts, parts: _FastParts) -> FileFacts:
    found, signed, whole = parts.found, parts.signed, parts.whole
    facts = signature_facts(
        data,
        byte_range=found.byte_range,
        signed=signed,
        field_name=found.field_name,
        subfilter=found.subfilter,
        claimed_time=found.claimed_time,
        coverage="entire_file",
        signed_revision=found.revisions - 1,
        revisions_after=0,
        modification_level="none",
        range_digest=parts.range_digest,
        parsed_token=parts.token,
    )
    return FileFacts(
        name=base.name,
        size=base.size,
        sha256=base.sha256,
        parser="fast",
        revisions=found.revisions,
        signatures=(facts,),
        # as signed_file_sm3 would give it: the end of a well-formed signature's ranges
        sm3=None if whole is None or facts.structure_error is not None
        or facts.kind != "signature" else whole.hex(),
    )


def _failed(base: FileFacts, reason: str) -> FileFacts:
    return FileFacts(
        name=base.name, size=base.size, sha256=base.sha256, parser=base.parser, format_error=reason
    )
