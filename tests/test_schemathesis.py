"""Property-based API testing from the OpenAPI spec (schemathesis, in-process ASGI).

Every operation of the published spec gets generated requests, valid and
invalid, sent with a credential of a role that may call it, so protected
routes run their real logic rather than stopping at 401. The checks: no 5xx
and responses that match the documented schema and content type. Examples
per operation are bounded so the whole run stays well under a minute.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from api.app import create_app
from api.settings import Settings
from tests.api_support import Api

MAX_EXAMPLES = 25
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
# The spec needs no deployment: building the app reads nothing from its home.
SPEC = create_app(Settings(home=Path("/nonexistent"))).openapi()
SCHEMA = schemathesis.openapi.from_dict(SPEC)
OPERATIONS = [(method.upper(), path) for path, item in SPEC["paths"].items()
              for method in item if method in {"get", "post", "put", "patch", "delete"}]


@pytest.fixture(scope="module")
def service(api: Api) -> FastAPI:
    """An app on the test deployment with rate limits out of the way."""
    return create_app(Settings(home=api.home, rate_limit_requests=10**9,
                               max_upload_bytes=256 * 1024, request_timeout_s=20))


def role_for(method: str, path: str) -> str:
    """The client (tests.api_support) that is allowed to call an operation."""
    if path.startswith("/v1/verify") or path.endswith(("/redeem", "/fill")):
        return "verifier"
    if path.startswith(("/v1/presentations", "/v1/grants", "/v1/holder", "/v1/wallet")) or (
            path.startswith("/v1/services/") and path.endswith(("/consent", "/grants"))):
        return "holder_app"
    if path.startswith("/v1/licences") and method != "GET":
        return "issuer"
    if method == "GET":
        return "auditor"
    return "seal_admin"


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_has_no_server_errors(method: str, path: str, service: FastAPI,
                                        api: Api) -> None:
    headers = api.headers(role_for(method, path))

    @given(case=SCHEMA[path][method.lower()].as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        case.call_and_validate(app=service, headers=headers, checks=CHECKS)

    run()
