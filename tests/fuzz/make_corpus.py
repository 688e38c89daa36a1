"""Write the kept fuzzing corpus (tests/fuzz/corpus/): small inputs worth replaying forever.

    PYTHONPATH=. .venv/bin/python tests/fuzz/make_corpus.py

Each file is either a seed the random seeds of the suite cannot give (an SM2-signed
licence-shaped PDF) or the minimised form of an input that once found a bug; the
README beside the files says which bug. The files are committed; rerunning this
script makes new keys, so only rerun it to add a file.
"""

from __future__ import annotations

from pathlib import Path

from tests import pdf_corpus as corpus

OUT = Path(__file__).parent / "corpus"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    sm2 = corpus.sign_sm2(corpus.plain_pdf(), corpus.make_sm2_pki())
    (OUT / "sm2_signed.pdf").write_bytes(sm2)
    # aeca309: a /T with a raw line break comes back from pyHanko as bytes; report.to_json
    # raised TypeError. Same length as the genuine file, so only the name differs.
    edited = sm2.replace(b"/T (Sig1)", b"/T (S\nig)", 1)
    assert edited != sm2 and len(edited) == len(sm2)
    (OUT / "sm2_field_name_linebreak.pdf").write_bytes(edited)


if __name__ == "__main__":
    main()
