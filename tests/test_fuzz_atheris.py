"""Fuzzing in the suite: the kept corpus replayed, then a bounded atheris campaign.

Seeds: an RSA-signed PDF made here, the same file truncated, its CMS, the SM2-signed
PDF and its CMS from the kept corpus (tests/fuzz/corpus/, SM2 branches the RSA seeds
never reach), and every input that once found a bug (README there). libFuzzer enforces
a per-input time limit and a memory limit; any crash, timeout or out-of-memory exits
non-zero with the reproducing input saved. There are no OFD seeds: this codebase has
no OFD reader yet.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import pdf_corpus as corpus
from tests.support import require
from trust.indications import Indication
from verification import VerificationPolicy, extract_facts, judge, verify_pdf
from verification.cms import parse_cms
from verification.errors import CmsFormatError
from verification.pdf.locate import locate

HARNESS = Path(__file__).parent / "fuzz" / "fuzz_verify.py"
KEPT = sorted((Path(__file__).parent / "fuzz" / "corpus").glob("*.pdf"))
_CONTENTS = re.compile(rb"/Contents\s*<([0-9A-Fa-f]+)>")


def _cms(pdf: bytes) -> bytes:
    match = _CONTENTS.search(pdf)
    assert match is not None
    return bytes.fromhex(match[1].decode()).rstrip(b"\0")


def test_kept_corpus_has_sm2_and_regressions() -> None:
    names = {p.name for p in KEPT}
    assert {"sm2_signed.pdf", "sm2_field_name_linebreak.pdf"} <= names
    assert all(p.stat().st_size < 64 * 1024 for p in KEPT)  # small files only


@pytest.mark.parametrize("path", KEPT, ids=lambda p: p.name)
def test_kept_corpus_replays_cleanly(path: Path) -> None:
    """The harness's own checks, without atheris: a report that serialises, never PASSED
    without trust anchors, and only CmsFormatError from the CMS parser."""
    data = path.read_bytes()
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    report = verify_pdf(data, VerificationPolicy(), at)
    assert report.indication is not Indication.TOTAL_PASSED
    report.to_json()
    # The full (pyHanko) path too, which the fast path spares these well-formed files.
    full = judge(extract_facts(data, allow_fast=False), VerificationPolicy(), at)
    assert full.facts.parser == "full"
    assert full.indication is not Indication.TOTAL_PASSED
    full.to_json()
    locate(data)
    parse_cms(_cms(data))  # the kept files carry a well-formed CMS
    with contextlib.suppress(CmsFormatError):
        parse_cms(data)


def test_atheris_campaign_over_pdf_and_cms_parsing(tmp_path: Path) -> None:
    require(importlib.util.find_spec("atheris") is not None, "atheris (pip, test extra)")
    signed = corpus.sign_rsa(corpus.plain_pdf(), corpus.make_rsa_pki())
    seeds = tmp_path / "corpus"
    seeds.mkdir()
    (seeds / "signed.pdf").write_bytes(signed)
    (seeds / "truncated.pdf").write_bytes(signed[: len(signed) // 2])
    (seeds / "cms.der").write_bytes(_cms(signed))
    for kept in KEPT:
        (seeds / kept.name).write_bytes(kept.read_bytes())
        (seeds / f"{kept.stem}.cms.der").write_bytes(_cms(kept.read_bytes()))
    artifacts = tmp_path / "crashes"
    artifacts.mkdir()
    run = subprocess.run(
        [sys.executable, str(HARNESS), str(seeds), "-runs=20000", "-seed=7",
         f"-max_len={max(32768, len(signed))}", "-timeout=10", "-rss_limit_mb=2048",
         f"-artifact_prefix={artifacts}/"],
        capture_output=True, text=True, timeout=900, cwd=Path(__file__).parents[1],
        # the parsers' source: atheris guides by coverage of Python code, which a
        # mypyc-compiled module does not report (the kept corpus above replays on the build)
        env=dict(os.environ, SEALTRUST_NATIVE="off"))
    tail = run.stderr[-3000:]
    assert run.returncode == 0, tail
    assert "Done 20000 runs" in run.stderr, tail
    assert not list(artifacts.iterdir()), tail
