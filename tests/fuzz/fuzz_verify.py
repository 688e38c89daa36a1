"""Coverage-guided fuzzing (atheris/libFuzzer) of the verifier's PDF and CMS parsing.

Every input must end in a report (never TOTAL_PASSED: the policy trusts no
root) or, for the CMS parser alone, a CmsFormatError; anything else is a
crash libFuzzer reports with the input that caused it. Time and memory are
bounded by libFuzzer's own ``-timeout`` and ``-rss_limit_mb``.

    .venv/bin/python tests/fuzz/fuzz_verify.py CORPUS_DIR -runs=100000 \\
        -max_len=65536 -timeout=10 -rss_limit_mb=1536

tests/test_fuzz_atheris.py seeds the corpus with signed PDFs and a CMS and
runs a bounded campaign in the suite.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import sys

import atheris

with atheris.instrument_imports(include=["verification", "trust"]):
    from trust.indications import Indication
    from verification import VerificationPolicy, verify_pdf
    from verification.cms import parse_cms
    from verification.errors import CmsFormatError
    from verification.pdf.locate import locate

AT = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
POLICY = VerificationPolicy()
logging.getLogger("pyhanko").setLevel(logging.CRITICAL)


def test_one_input(data: bytes) -> None:
    """One input: the whole verification, the fast-path locator and the CMS parser."""
    report = verify_pdf(data, POLICY, AT)
    if report.indication is Indication.TOTAL_PASSED:
        raise AssertionError("a policy without trust anchors passed a file")
    report.to_json()
    locate(data)
    with contextlib.suppress(CmsFormatError):
        parse_cms(data)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
