"""``POST /v1/verify``: role verifier, NDJSON streaming, file count and size limits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.api_support import Api, build_api
from tests.licence_corpus import Licences, open_licences
from tests.pdf_corpus import flip_inside


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, Licences]]:
    root = tmp_path_factory.mktemp("api-verify") / "home"
    for api in build_api(root):
        for licences in open_licences(root):  # init is idempotent: same deployment
            licences.issue("sm2", "sm2", number=1)
            licences.issue("rsa", "rsa", number=2)
            yield api, licences


def _post(api: Api, who: str, files: list[tuple[str, bytes]]) -> httpx.Response:
    response: httpx.Response = api.client.post(
        "/v1/verify", headers=api.headers(who),
        files=[("files", (n, d, "application/pdf")) for n, d in files])
    return response


def test_verifier_gets_one_report_per_line_in_upload_order(api: tuple[Api, Licences]) -> None:
    client, lic = api
    files = [("a.pdf", lic.pdfs["sm2"]), ("b.pdf", lic.pdfs["rsa"]),
             ("bad.pdf", flip_inside(lic.pdfs["sm2"])), ("junk.pdf", b"junk")]
    response = _post(client, "verifier", files)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(x) for x in response.text.splitlines()]
    assert [r["file"]["name"] for r in lines] == ["a.pdf", "b.pdf", "bad.pdf", "junk.pdf"]
    assert [r["indication"] for r in lines] == ["TOTAL_PASSED", "TOTAL_PASSED", "TOTAL_FAILED",
                                                "TOTAL_FAILED"]
    assert lines[0]["signatures"][0]["licence"]["id"] == lic.ids["sm2"]
    assert lines[3]["sub_indication"] == "FORMAT_FAILURE"


def test_other_roles_and_anonymous_are_refused(api: tuple[Api, Licences]) -> None:
    client, lic = api
    refused = _post(client, "issuer", [("a.pdf", lic.pdfs["sm2"])])
    assert refused.status_code == 403
    anonymous = client.client.post("/v1/verify", files=[("files", ("a.pdf", b"x"))])
    assert anonymous.status_code == 401


def test_naive_validation_time_is_refused(api: tuple[Api, Licences]) -> None:
    client, lic = api
    response = client.client.post("/v1/verify?at=2026-01-01T00:00:00",
                                  headers=client.headers("verifier"),
                                  files=[("files", ("a.pdf", lic.pdfs["sm2"]))])
    assert response.status_code == 422


def test_file_count_and_size_limits_come_from_the_settings(
    api: tuple[Api, Licences], tmp_path: Path
) -> None:
    client, lic = api
    settings = Settings(home=client.home, max_files_per_request=2,
                        max_upload_bytes=len(lic.pdfs["sm2"]) + 4096)
    with TestClient(create_app(settings)) as small:
        headers = client.headers("verifier")
        three = [("files", (f"{i}.pdf", b"%PDF-", "application/pdf")) for i in range(3)]
        assert small.post("/v1/verify", headers=headers, files=three).status_code == 422
        big = [("files", ("big.pdf", lic.pdfs["rsa"] + b" " * 8192, "application/pdf"))]
        response = small.post("/v1/verify", headers=headers, files=big)
        assert response.status_code in (200, 413)
        if response.status_code == 200:  # under the body limit but over the per-file one
            report = json.loads(response.text.splitlines()[0])
            assert report["sub_indication"] == "FORMAT_FAILURE"
