"""The report's JSON text (verification/report_json.py): each distinct certificate and seal
is base64-encoded once per process, and the text stays exactly what ``json.dumps`` of
``to_dict()`` gives, for genuine licences, attacks and unreadable files alike."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests import pdf_corpus as corpus
from tests.licence_corpus import Licences, open_licences
from verification import FileReport, report_json, verify_files


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Licences, list[Path]]]:
    root = tmp_path_factory.mktemp("reportjson")
    for lic in open_licences(root / "home"):
        files = {f"sm2_{i}": lic.issue(f"sm2_{i}", "sm2", number=i + 1) for i in range(3)}
        files["rsa"] = lic.issue("rsa", "rsa", number=20)
        files["dual"] = lic.issue("dual", "sm2+rsa", number=21)
        files.update(lic.make_attacks())
        files.update({f"tampered_{k}": attack(files["sm2_0"])
                      for k, attack in corpus.ATTACKS.items()})
        paths = []
        for name, data in files.items():
            path = root / f"{name}.pdf"
            path.write_bytes(data)
            paths.append(path)
        paths.append(root / "missing.pdf")
        yield lic, paths


def _plain(report: FileReport) -> str:
    return json.dumps(report.to_dict(), ensure_ascii=False, sort_keys=True)


def test_the_text_is_json_dumps_of_the_dict(reports: tuple[Licences, list[Path]]) -> None:
    lic, paths = reports
    done = list(verify_files(paths, lic.online(), chunk=8))
    assert len(done) == len(paths)
    assert any(r.passed for r in done) and not all(r.passed for r in done)
    for _ in range(2):  # the second time every value comes from the memo
        for report in done:
            assert report.to_json() == _plain(report), report.facts.name
    report_json.forget()  # and after the memo was emptied (its bound)
    assert all(r.to_json() == _plain(r) for r in done)


def test_a_bulk_run_encodes_each_seal_and_certificate_once(
    reports: tuple[Licences, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old writer base64-encoded the ~14 KB seal picture and every certificate of
    every report again (this fails on it: one encoding per report and value)."""
    lic, paths = reports
    genuine = [p for p in paths if p.stem.startswith("sm2_")]
    done = list(verify_files(genuine, lic.online()))
    assert all(r.passed for r in done)
    report_json.forget()
    encoded: list[bytes] = []
    real = base64.b64encode

    def counting(data: Any, *args: Any) -> bytes:
        encoded.append(bytes(data))
        return real(data, *args)

    monkeypatch.setattr(base64, "b64encode", counting)
    lines = [r.to_json() for r in done]
    seal = done[0].signatures[0].facts.seal_der
    assert seal is not None and len(seal) > 1000
    assert encoded.count(seal) == 1  # not once per report
    assert len(encoded) == len(set(encoded))  # nothing encoded twice
    monkeypatch.undo()
    assert lines == [_plain(r) for r in done]
    facts = json.loads(lines[-1])["signatures"][0]["facts"]
    assert base64.b64decode(facts["seal_der"]) == seal


def test_text_that_looks_like_a_placeholder_is_left_as_it_is(
    reports: tuple[Licences, list[Path]],
) -> None:
    """A field name spelling a placeholder (here even with this process's nonce, which a
    file cannot know) is never replaced by a certificate or seal."""
    lic, paths = reports
    (report,) = verify_files(paths[:1], lic.online())
    sig = report.signatures[0]
    for name in (f"{report_json._NONCE}1#", f"{report_json._NONCE}999999#",
                 "blob-00000000000000000000000000000000-1#"):
        forged = replace(report, signatures=(
            replace(sig, facts=replace(sig.facts, field_name=name)),))
        text = forged.to_json()
        assert text == _plain(forged)
        assert json.loads(text)["signatures"][0]["field"] == name


def test_the_memo_stays_bounded() -> None:
    huge = bytes(report_json._MAX_BLOB + 1)
    text = report_json.dumps_with_blobs(lambda blob: {"crl": blob(huge)})
    assert json.loads(text)["crl"] == base64.b64encode(huge).decode()
    assert huge not in report_json._blobs  # encoded in place, not remembered
    report_json.forget()
    for i in range(report_json._MAX_ENTRIES + 10):
        report_json._remembered(i.to_bytes(4, "big") * 20)
    assert len(report_json._blobs) <= report_json._MAX_ENTRIES
    big = bytes(report_json._MAX_BYTES // 2 + 1)
    report_json._remembered(big)
    report_json._remembered(big[:-1])
    assert report_json._held <= report_json._MAX_BYTES


def test_the_ndjson_line_is_the_text_in_utf8(reports: tuple[Licences, list[Path]]) -> None:
    lic, paths = reports
    for report in verify_files(paths, lic.online(), chunk=8):
        line = report.to_json_line()
        assert line == (_plain(report) + "\n").encode("utf-8"), report.facts.name
        assert line.count(b"\n") == 1
