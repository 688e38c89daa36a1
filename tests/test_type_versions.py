"""Type versions: a deployment's higher version overrides a shipped type, and every
licence records the version it was issued under (PDF, OFD, batch, API, CLI)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
from api.issuance import issue_one
from signing.types import LicenceTypeDefinitionError, builtin_types, load_registry
from tests.api_support import Api, build_api
from trust.errors import ConflictError
from trust.registry.models import Licence

DEFINITIONS = Path(__file__).parent.parent / "signing" / "types" / "definitions"


def _override(types_dir: Path, code: str, version: int, title: str) -> None:
    """A province's revision of a shipped type: same code, new title, given version."""
    types_dir.mkdir(parents=True, exist_ok=True)
    definition = json.loads((DEFINITIONS / f"{code}.type.json").read_text())
    definition["version"] = version
    definition["layout"]["title"]["text"] = title
    (types_dir / f"{code}.type.json").write_text(json.dumps(definition, ensure_ascii=False))
    (types_dir / f"{code}.schema.json").write_text(
        (DEFINITIONS / f"{code}.schema.json").read_text())


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("versions") / "home"
    init_deployment(root)
    _override(root / "types", "RIC", 3, "居民身份证（第三版）")
    home = Home(root)
    dep = Deployment(home, load_config(home))
    yield dep
    dep.close()


def _version_of(dep: Deployment, licence_id: str) -> int | None:
    with dep.registry.session() as s:
        row = s.get(Licence, licence_id)
        assert row is not None
        return row.type_version


def test_a_higher_version_overrides_and_a_lower_one_is_refused(tmp_path: Path) -> None:
    _override(tmp_path / "higher", "RIC", 2, "居民身份证（修订）")
    registry = load_registry(tmp_path / "higher")
    assert registry.get("RIC").version == 2
    assert registry.get("RIC").layout.title.text == "居民身份证（修订）"
    assert len(registry) == len(builtin_types())
    _override(tmp_path / "same", "RIC", builtin_types().get("RIC").version, "同版本")
    with pytest.raises(LicenceTypeDefinitionError, match="does not supersede version 1"):
        load_registry(tmp_path / "same")


@pytest.mark.parametrize("file_format", ["pdf", "ofd"])
def test_issuance_records_the_type_version(deployment: Deployment, file_format: str) -> None:
    with deployment.registry.session() as s:
        ric = issue_one(deployment, s, type_code="RIC", record=builtin_types().get("RIC").example(4),
                        department=DEMO_DEPARTMENT, actor="test", file_format=file_format)
        bl = issue_one(deployment, s, type_code="BL", record=builtin_types().get("BL").example(4),
                       department=DEMO_DEPARTMENT, actor="test", file_format=file_format)
        s.commit()
    assert _version_of(deployment, ric.licence_id) == 3  # the deployment's override
    assert _version_of(deployment, bl.licence_id) == 1  # the shipped definition
    if file_format == "pdf":  # the override's layout is what was rendered
        pdf = deployment.home.root / "ric.pdf"
        pdf.write_bytes(ric.pdf)
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert "第三版" in text


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True,
                          text=True, timeout=300, check=False)


def test_cli_batch_and_show_carry_the_type_version(deployment: Deployment,
                                                    tmp_path: Path) -> None:
    home = str(deployment.home.root)
    records = tmp_path / "ric.jsonl"
    records.write_text("".join(json.dumps(builtin_types().get("RIC").example(50 + i),
                                          ensure_ascii=False) + "\n" for i in range(2)))
    batch = _cli("issue-batch", str(records), "--type", "RIC", "--out-dir", str(tmp_path / "out"),
                 "--home", home, "--json")
    assert batch.returncode == 0, batch.stderr
    issued = [json.loads(line) for line in (tmp_path / "out" / "issued.jsonl").read_text()
              .splitlines()]
    assert issued and all(_version_of(deployment, i["licence_id"]) == 3 for i in issued)
    shown = _cli("licence", "show", issued[0]["licence_id"], "--home", home, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["type_version"] == 3
    listed = _cli("types", "list", "--home", home, "--json")
    ric = next(r for r in json.loads(listed.stdout) if r["code"] == "RIC")
    assert ric["version"] == 3


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("versions-api") / "home"
    _override(root / "types", "BL", 2, "营业执照（新版）")
    yield from build_api(root)


def test_api_issue_single_and_batch_record_the_type_version(api: Api) -> None:
    bl = builtin_types().get("BL")
    made = api.client.post("/v1/licences", json={"type": "BL", "record": bl.example(9)},
                           headers=api.headers("issuer"))
    assert made.status_code == 201, made.text
    shown = api.client.get(f"/v1/licences/{made.json()['licence_id']}",
                           headers=api.headers("auditor"))
    assert shown.status_code == 200 and shown.json()["type_version"] == 2
    job = api.client.post("/v1/licences/batch",
                          json={"type": "SSC", "records": [builtin_types().get("SSC").example(1)]},
                          headers=api.headers("issuer"))
    assert job.status_code == 202, job.text
    deadline = time.monotonic() + 60
    while True:
        state = api.client.get(f"/v1/licences/batch/{job.json()['job_id']}",
                               headers=api.headers("issuer")).json()
        if state["state"] in {"done", "failed"} or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert state["state"] == "done", state
    licence_id = state["results"][0]["licence_id"]
    shown = api.client.get(f"/v1/licences/{licence_id}", headers=api.headers("auditor"))
    assert shown.json()["type_version"] == 1


def _revise(types_dir: Path, code: str, version: int, *, drop_mask: str | None = None,
            rename: tuple[str, str] | None = None) -> None:
    """A province's revision that stops masking a field or renames one (schema, labels,
    mask, holder field and template layout follow the new name)."""
    types_dir.mkdir(parents=True, exist_ok=True)
    definition = json.loads((DEFINITIONS / f"{code}.type.json").read_text())
    schema = json.loads((DEFINITIONS / f"{code}.schema.json").read_text())
    definition["version"] = version
    if drop_mask is not None:
        del definition["mask"][drop_mask]
    if rename is not None:
        old, new = rename

        def swap(name: str) -> str:
            return new if name == old else name

        schema["properties"] = {swap(k): v for k, v in schema["properties"].items()}
        schema["required"] = [swap(k) for k in schema.get("required", [])]
        definition["labels"] = {swap(k): v for k, v in definition["labels"].items()}
        definition["mask"] = {swap(k): v for k, v in definition["mask"].items()}
        definition["holder_field"] = swap(definition["holder_field"])
        definition["layout"]["fields"] = [swap(k) for k in definition["layout"]["fields"]]
    (types_dir / f"{code}.type.json").write_text(json.dumps(definition, ensure_ascii=False))
    (types_dir / f"{code}.schema.json").write_text(json.dumps(schema, ensure_ascii=False))


def test_public_masking_follows_the_version_a_record_was_issued_under(tmp_path: Path) -> None:
    _revise(tmp_path / "types", "DL", 2, drop_mask="address")
    registry = load_registry(tmp_path / "types")
    record = builtin_types().get("DL").example(3)
    address = record["address"]
    old = registry.masked("DL", 1, record)  # issued under the shipped version 1
    assert old["address"] == "*" * len(address)
    assert registry.masked("DL", 2, record)["address"] == address  # the revision's own rule
    # A licence from before versions were recorded: every version's masks apply.
    assert registry.masked("DL", None, record)["address"] == "*" * len(address)
    # A field no known version declares (the issuing version is gone) is masked whole.
    stray = registry.masked("DL", 7, {**record, "stray_field": "机密内容"})
    assert stray["stray_field"] == "****" and stray["address"] == "*" * len(address)
    assert old["license_number"].endswith(record["license_number"][-4:])
    assert old["license_number"] != record["license_number"]


def test_presentation_and_case_lookup_of_a_licence_issued_before_a_revision(
        tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from api.cases import case_view
    from signing.presentation import issue_presentation
    from trust.registry.models import Case
    from trust.token import decode_token

    root = tmp_path / "home"
    init_deployment(root)
    home = Home(root)
    dep = Deployment(home, load_config(home))
    adc = builtin_types().get("ADC")
    record = adc.example(2)
    try:
        with dep.registry.session() as s:
            made = issue_one(dep, s, type_code="ADC", record=record,
                             department=DEMO_DEPARTMENT, actor="test")
            s.commit()
    finally:
        dep.close()
    # The province renames the holder's name field and stops masking the adoptee's name.
    _revise(root / "types", "ADC", 2, rename=("name", "holder_name"))
    definition = json.loads((root / "types" / "ADC.type.json").read_text())
    del definition["mask"]["adoptee_name"]
    (root / "types" / "ADC.type.json").write_text(json.dumps(definition, ensure_ascii=False))
    dep = Deployment(home, load_config(home))
    try:
        assert dep.issuer_context().types.get("ADC").version == 2
        with dep.registry.session() as s:
            shown = issue_presentation(s, dep.issuer_context(), made.licence_id,
                                       at=datetime.now(UTC))
            claims = decode_token(shown.token).claims
            assert claims.holder_name[0] == record["name"][0] and "*" in claims.holder_name
            case = Case(case_code="X" * 20, service_code="S", state="issued",
                        holder_ref="h", approved_at=datetime.now(UTC),
                        accepted_at=datetime.now(UTC),
                        licence_ids={"ids": [made.licence_id]})
            public = case_view(dep, s, case, full=False)["licences"][0]["record"]
            assert public["adoptee_name"] != record["adoptee_name"]
            assert "*" in public["adoptee_name"] and "*" in public["name"]
            # A version this deployment no longer knows: a typed refusal, not a KeyError.
            row = s.get(Licence, made.licence_id)
            assert row is not None
            row.type_version = 5
            s.flush()
            with pytest.raises(ConflictError) as refused:
                issue_presentation(s, dep.issuer_context(), made.licence_id,
                                   at=datetime.now(UTC))
            assert refused.value.code == "presentation.type_version_unknown"
            s.rollback()
    finally:
        dep.close()
