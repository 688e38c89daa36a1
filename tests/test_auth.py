"""Credentials and separation of duties at the model level (routes test them over HTTP)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.auth import AuthError, ForbiddenError, Role, authenticate, create_client, disable_client
from trust.errors import InputError
from trust.registry import Registry, migrate
from trust.registry.models import ApiClient, Department


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    migrate(url)
    reg = Registry(url)
    with reg.session() as s:
        s.add(Department(code="amr", name="市场监督管理局", uscc="11100000000000001X"))
        s.add(Department(code="psb", name="公安局", uscc="11100000000000002X"))
    return reg


def test_credential_round_trip_and_only_digest_stored(registry: Registry) -> None:
    with registry.session() as s:
        client, credential = create_client(s, "counter 1", frozenset({Role.VERIFIER}))
    secret = credential.split("_", 2)[2]
    with registry.session() as s:
        principal = authenticate(s, credential)
        assert principal.roles == {Role.VERIFIER}
        stored = s.get(ApiClient, client.id)
        assert stored is not None
        assert secret not in repr(stored.__dict__)
        assert stored.secret_sha256 != secret


@pytest.mark.parametrize("mangle", [
    lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"),
    lambda c: "st_ffffffffffffffff_" + c.split("_", 2)[2],
    lambda c: c.replace("st_", "xx_", 1),
    lambda c: "",
    lambda c: "st__",
])
def test_bad_credentials_are_refused(registry: Registry, mangle) -> None:
    with registry.session() as s:
        _, credential = create_client(s, "app", frozenset({Role.HOLDER_APP}))
    with registry.session() as s, pytest.raises(AuthError):
        authenticate(s, mangle(credential))


def test_disabled_client_is_refused(registry: Registry) -> None:
    with registry.session() as s:
        client, credential = create_client(s, "app", frozenset({Role.HOLDER_APP}))
    with registry.session() as s:
        disable_client(s, client.id)
    with registry.session() as s, pytest.raises(AuthError):
        authenticate(s, credential)


@pytest.mark.parametrize(("roles", "dept"), [
    ({Role.SEAL_ADMIN, Role.ISSUER}, "amr"),
    ({Role.AUDITOR, Role.VERIFIER}, None),
    ({Role.ISSUER}, None),
    (set(), None),
])
def test_separation_of_duties_at_creation(registry: Registry, roles, dept) -> None:
    with registry.session() as s, pytest.raises(InputError):
        create_client(s, "x", frozenset(roles), dept)


def test_department_scope(registry: Registry) -> None:
    with registry.session() as s:
        _, credential = create_client(s, "amr issuer", frozenset({Role.ISSUER}), "amr")
    with registry.session() as s:
        principal = authenticate(s, credential)
    principal.require_department("amr")
    with pytest.raises(ForbiddenError):
        principal.require_department("psb")
