"""Coverage-guided fuzzing (atheris/libFuzzer) of the OFD reader: zip, XML, seals, SignedData.

A byte flip in a whole zip mostly breaks its CRC, so inputs are structured:
the first byte picks an entry of a signed base package (``SEALTRUST_FUZZ_OFD``)
and the rest replaces that entry's bytes; selector 255 feeds the input as a
whole package instead. Every input must end in a report that is never
TOTAL_PASSED (the policy trusts no root) and serialises to JSON.

    SEALTRUST_FUZZ_OFD=signed.ofd .venv/bin/python tests/fuzz/fuzz_ofd.py CORPUS_DIR \\
        -runs=100000 -max_len=65536 -timeout=10 -rss_limit_mb=1536

tests/test_fuzz_ofd.py seeds the corpus and runs a bounded campaign in the suite.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import sys
import zipfile

import atheris

with atheris.instrument_imports(include=["verification", "trust"]):
    from trust.indications import Indication
    from verification import VerificationPolicy, verify_pdf

AT = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
POLICY = VerificationPolicy()
_BASE: dict[str, bytes] = {}


def load_base(path: str) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}


def package(data: bytes, base: dict[str, bytes]) -> bytes:
    """The package an input stands for (see the module docstring)."""
    if not data or data[0] == 255:
        return data[1:]
    names = sorted(base)
    target = names[data[0] % len(names)]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name in names:
            z.writestr(name, data[1:] if name == target else base[name])
    return out.getvalue()


def test_one_input(data: bytes) -> None:
    report = verify_pdf(package(data, _BASE), POLICY, AT)
    if report.indication is Indication.TOTAL_PASSED:
        raise AssertionError("a policy without trust anchors passed a file")
    report.to_json()


def main() -> None:
    _BASE.update(load_base(os.environ["SEALTRUST_FUZZ_OFD"]))
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
