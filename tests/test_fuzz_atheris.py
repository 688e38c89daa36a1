"""A bounded atheris campaign over the verifier (tests/fuzz/fuzz_verify.py) in the suite.

Seeds: a signed PDF (pyHanko, RSA), the same file truncated, and its CMS.
libFuzzer enforces a per-input time limit and a memory limit; any crash,
timeout or out-of-memory exits non-zero with the reproducing input saved.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

from tests import pdf_corpus as corpus
from tests.support import require

HARNESS = Path(__file__).parent / "fuzz" / "fuzz_verify.py"
_CONTENTS = re.compile(rb"/Contents\s*<([0-9A-Fa-f]+)>")


def test_atheris_campaign_over_pdf_and_cms_parsing(tmp_path: Path) -> None:
    require(importlib.util.find_spec("atheris") is not None, "atheris (pip, test extra)")
    signed = corpus.sign_rsa(corpus.plain_pdf(), corpus.make_rsa_pki())
    seeds = tmp_path / "corpus"
    seeds.mkdir()
    (seeds / "signed.pdf").write_bytes(signed)
    (seeds / "truncated.pdf").write_bytes(signed[: len(signed) // 2])
    match = _CONTENTS.search(signed)
    assert match is not None
    (seeds / "cms.der").write_bytes(bytes.fromhex(match[1].decode()).rstrip(b"\0"))
    artifacts = tmp_path / "crashes"
    artifacts.mkdir()
    run = subprocess.run(
        [sys.executable, str(HARNESS), str(seeds), "-runs=20000", "-seed=7",
         f"-max_len={max(32768, len(signed))}", "-timeout=10", "-rss_limit_mb=2048",
         f"-artifact_prefix={artifacts}/"],
        capture_output=True, text=True, timeout=900, cwd=Path(__file__).parents[1])
    tail = run.stderr[-3000:]
    assert run.returncode == 0, tail
    assert "Done 20000 runs" in run.stderr, tail
    assert not list(artifacts.iterdir()), tail
