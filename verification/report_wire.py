"""The reports of a bulk chunk as one message from a worker process to the parent.

A worker's reports are pickled by it and unpickled by the parent, and the parent shares
the machine's cores with the workers, so both ends of the message are on the bulk path.
Pickle's own handling of our frozen slots dataclasses costs a Python loop over
``dataclasses.fields`` per object at each end (~50 objects per licence); here each of
them travels as its class and a tuple of its field values, read by one C attrgetter and
rebuilt by the class's own ``__init__`` (which also re-runs its invariant checks).

Within one message every distinct DER value travels once: a department's licences all
carry the same certificates and seal (~14 KB with its picture), sliced from each file
anew. Equal values are sent as one object, and pickle's memo writes the second and
later ones as back-references, so the parent also holds one copy per chunk. The table
of values lives only while one message is written, so memory stays bounded by the
chunk the worker already holds.

Reports are equal field by field before and after (their JSON byte for byte); only
object identity changes. The message comes from our own forked worker, never from a
file or the network: it is trusted as the executor's own pickles are.
"""

from __future__ import annotations

import copyreg
import io
import pickle
from collections.abc import Callable
from dataclasses import fields
from operator import attrgetter
from typing import Any

from trust.indications import Check
from verification.facts import FileFacts, SignatureFacts
from verification.report import FileReport, SignatureReport

__all__ = ["pack_reports", "unpack_reports"]

_Reduced = tuple[Callable[..., Any], tuple[Any, ...]]

# the fields of SignatureFacts that hold DER values (one, or a tuple of them)
_DER_ONE = frozenset({"signer_cert", "seal_der", "tsa_cert"})
_DER_MANY = frozenset({"certificates", "tsa_certificates", "revocation_crls",
                       "revocation_ocsps"})


def _plain(cls: type) -> Callable[[Any], _Reduced]:
    names = [f.name for f in fields(cls)]
    values = attrgetter(*names)
    if len(names) == 1:  # (attrgetter of one name gives the value, not a tuple)
        return lambda obj: (cls, (values(obj),))
    return lambda obj: (cls, values(obj))


class _Writer(pickle.Pickler):
    """A pickler for one message: the five report classes by value, DER values shared."""

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._der: dict[bytes, bytes] = {}
        self._checks: dict[Check, Check] = {}
        table = copyreg.dispatch_table.copy()
        table.update(_PLAIN)
        table[SignatureFacts] = self._signature
        table[SignatureReport] = self._signature_report
        self.dispatch_table = table

    def forget(self) -> None:
        """Drop the message's values at once (the table refers back to this pickler: a
        cycle the collector would otherwise free only at its next pass)."""
        self._der.clear()
        self._checks.clear()
        self.dispatch_table = {}

    def _one(self, value: bytes) -> bytes:
        return self._der.setdefault(value, value)

    def _many(self, values: tuple[bytes, ...]) -> tuple[bytes, ...]:
        return tuple(self._der.setdefault(v, v) for v in values)

    def _signature(self, sig: SignatureFacts) -> _Reduced:
        values = list(_SIGNATURE_VALUES(sig))
        for i in _DER_ONE_AT:
            if values[i] is not None:
                values[i] = self._one(values[i])
        for i in _DER_MANY_AT:
            if values[i]:
                values[i] = self._many(values[i])
        return SignatureFacts, tuple(values)

    def _signature_report(self, report: SignatureReport) -> _Reduced:
        values = list(_REPORT_VALUES(report))
        checks: tuple[Check, ...] = values[_CHECKS_AT]
        values[_CHECKS_AT] = tuple(self._checks.setdefault(c, c) for c in checks)  # (frozen)
        values[_CHAIN_AT] = self._many(values[_CHAIN_AT])
        return SignatureReport, tuple(values)


_PLAIN: dict[type, Callable[[Any], _Reduced]] = {
    cls: _plain(cls) for cls in (FileReport, FileFacts, Check)}
_SIGNATURE_NAMES = tuple(f.name for f in fields(SignatureFacts))
_SIGNATURE_VALUES = attrgetter(*_SIGNATURE_NAMES)
_DER_ONE_AT = tuple(i for i, n in enumerate(_SIGNATURE_NAMES) if n in _DER_ONE)
_DER_MANY_AT = tuple(i for i, n in enumerate(_SIGNATURE_NAMES) if n in _DER_MANY)
_REPORT_NAMES = tuple(f.name for f in fields(SignatureReport))
_REPORT_VALUES = attrgetter(*_REPORT_NAMES)
_CHECKS_AT = _REPORT_NAMES.index("checks")
_CHAIN_AT = _REPORT_NAMES.index("chain")


def pack_reports(reports: list[FileReport]) -> bytes:
    """One message holding ``reports`` (in the worker)."""
    out = io.BytesIO()
    writer = _Writer(out)
    try:
        writer.dump(reports)
    finally:
        writer.forget()
    return out.getvalue()


def unpack_reports(message: bytes) -> list[FileReport]:
    """The reports of a :func:`pack_reports` message (in the parent)."""
    # (S301: the message is our own forked worker's, as the executor's pickles are)
    reports: list[FileReport] = pickle.loads(message)  # noqa: S301
    return reports
