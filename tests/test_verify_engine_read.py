"""How the bulk engine reads each file (verification/engine.py ``_plan_one``): one open,
one stat, one read; every file it cannot read is a per-file FORMAT_FAILURE with the
reason, and the batch goes on."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from tests import pdf_corpus as corpus
from trust.indications import Indication, SubIndication
from verification import VerificationPolicy, verify_files

AT = datetime(2026, 6, 1, tzinfo=UTC)


def test_unreadable_files_are_format_failures_with_their_reason(tmp_path: Path) -> None:
    pki = corpus.make_sm2_pki()
    signed = corpus.sign_sm2(corpus.plain_pdf(), pki)
    policy = VerificationPolicy(trust_anchors=frozenset({pki.root_der}))
    small = replace(policy, max_file_size=len(signed) - 1)
    (tmp_path / "ok.pdf").write_bytes(signed)
    (tmp_path / "empty.pdf").write_bytes(b"")
    (tmp_path / "folder.pdf").mkdir()
    names = ["ok.pdf", "empty.pdf", "folder.pdf", "missing.pdf"]
    paths = [tmp_path / n for n in names]
    reports = {Path(r.facts.name).name: r for r in verify_files(paths, policy, at=AT)}
    assert set(reports) == set(names)
    assert reports["ok.pdf"].facts.size == len(signed)
    assert reports["ok.pdf"].facts.parser == "fast"
    for name, reason in (("folder.pdf", "cannot read file: Is a directory"),
                         ("missing.pdf", "cannot read file: No such file or directory")):
        assert reports[name].sub_indication is SubIndication.FORMAT_FAILURE
        assert reports[name].facts.format_error == reason
    assert reports["empty.pdf"].indication is Indication.TOTAL_FAILED
    (big,) = verify_files(paths[:1], small, at=AT)
    assert big.sub_indication is SubIndication.FORMAT_FAILURE
    assert big.facts.format_error == (f"file of {len(signed)} bytes exceeds the "
                                      f"{len(signed) - 1}-byte limit")
    assert big.facts.size == len(signed)
