"""A bounded atheris campaign over the OFD reader (tests/fuzz/fuzz_ofd.py) in the suite.

Seeds: every entry of a genuine OFD signed here (XML, the V4 seal signature,
Seal.esl) and the whole package. libFuzzer enforces per-input time and memory
limits; any crash, timeout or out-of-memory exits non-zero with the input saved.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.ofd_corpus import SealSpec, add_signature, content_entries, zip_package
from tests.seal_certs import issue
from tests.support import require
from trust.indications import Indication, SubIndication
from trust.seal import SealPicture, make_seal
from verification import VerificationPolicy, verify_pdf

HARNESS = Path(__file__).parent / "fuzz" / "fuzz_ofd.py"
KEPT = sorted((Path(__file__).parent / "fuzz" / "corpus").glob("*.ofd"))
REPLAY_AT = datetime(2026, 12, 2, tzinfo=UTC)


def test_kept_ofd_corpus_is_there() -> None:
    assert {"sm2_signed.ofd", "ofd_path_traversal.ofd", "ofd_case_shadow.ofd"} <= {
        p.name for p in KEPT}
    assert all(p.stat().st_size < 64 * 1024 for p in KEPT)


@pytest.mark.parametrize("path", KEPT, ids=lambda p: p.name)
def test_kept_ofd_corpus_replays(path: Path) -> None:
    """Without trust anchors the genuine file is INDETERMINATE (never PASSED, never FAILED);
    the hostile packages are a typed format failure before any signature is read."""
    report = verify_pdf(path.read_bytes(), VerificationPolicy(), REPLAY_AT, name=path.name)
    report.to_json()
    if path.name == "sm2_signed.ofd":
        assert report.facts.parser == "ofd"
        assert (report.indication, report.sub_indication) == (
            Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    else:
        assert (report.indication, report.sub_indication) == (
            Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
        assert report.facts.parser == "none"


def _signed_ofd() -> bytes:
    now = datetime.now(UTC)
    maker = issue("Fuzz Seal Maker", ca=True)
    signer = issue("Fuzz Signer", issuer=maker)
    seal = make_seal(es_id="11010500000009", seal_type=1, name="测试印章",
                     certificates=[signer.cert], created=now, valid_start=now,
                     valid_end=now.replace(year=now.year + 1),
                     picture=SealPicture("png", b"\x89PNG\r\n\x1a\n", 40, 40),
                     maker_key=maker.key, maker_cert=maker.cert)
    entries = content_entries()
    add_signature(entries, SealSpec(key=signer.key, cert=signer.cert, seal_der=seal, at=now))
    return zip_package(entries)


def test_atheris_campaign_over_the_ofd_reader(tmp_path: Path) -> None:
    require(importlib.util.find_spec("atheris") is not None, "atheris (pip, test extra)")
    base = tmp_path / "base.ofd"
    base.write_bytes(_signed_ofd())
    seeds = tmp_path / "corpus"
    seeds.mkdir()
    import zipfile

    with zipfile.ZipFile(base) as z:
        names = sorted(i.filename for i in z.infolist() if not i.is_dir())
        for index, name in enumerate(names):
            (seeds / f"entry{index}").write_bytes(bytes([index]) + z.read(name))
    (seeds / "whole").write_bytes(b"\xff" + base.read_bytes())
    for kept in KEPT:
        (seeds / kept.name).write_bytes(b"\xff" + kept.read_bytes())
    artifacts = tmp_path / "crashes"
    artifacts.mkdir()
    run = subprocess.run(
        [sys.executable, str(HARNESS), str(seeds), "-runs=8000", "-seed=11",
         "-max_len=65536", "-timeout=10", "-rss_limit_mb=2048",
         f"-artifact_prefix={artifacts}/"],
        capture_output=True, text=True, timeout=900, cwd=Path(__file__).parents[1],
        env={**os.environ, "SEALTRUST_FUZZ_OFD": str(base)})
    tail = run.stderr[-3000:]
    assert run.returncode == 0, tail
    assert "Done 8000 runs" in run.stderr, tail
    assert not list(artifacts.iterdir()), tail
