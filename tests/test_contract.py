"""Contract checks (issue 14, item 4): schemathesis generates requests from /api/openapi.json for every operation
and checks each answer against the document — no 5xx, every status code documented, every body matching its
documented schema and content type, and every 4xx in the one error shape — once as an admin, once as a resident.

Bounded for `make test`: a fixed seed (Hypothesis derandomized), no shrinking, a few valid and a few invalid
requests per operation (ZB_CONTRACT_EXAMPLES, 3 of each). The operations are walked in the test itself with
Hypothesis' `@given` over each operation's strategy: schemathesis' lazy pytest loader does not run on pytest 9.2
(it sets `request.node._nodeid`, which pytest 9.2 no longer has).
"""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode

EXAMPLES = int(os.environ.get("ZB_CONTRACT_EXAMPLES", "3"))
ERROR_KEYS = {"code", "message", "errors", "request_id"}
# Operations that end the caller's own session would turn the rest of that run into 401s.
SESSION_ENDERS = {"/api/v1/auth/logout"}


def one_error_shape(ctx, response, case):
    """Every 4xx and 5xx body is {"code", "message", "errors", "request_id"} (docs/errors.md)."""
    if response.status_code < 400:
        return None
    body = response.json()
    if not isinstance(body, dict) or set(body) != ERROR_KEYS or not isinstance(body["errors"], list):
        raise AssertionError(f"{response.status_code} outside the one error shape: {response.text[:300]}")
    if not body["message"] or not isinstance(body["code"], str):
        raise AssertionError(f"an error without code or message: {body}")
    return None


CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.checks.status_code_conformance,
          schemathesis.checks.content_type_conformance, schemathesis.checks.response_schema_conformance,
          one_error_shape]


def contract_failures(app, headers) -> list[str]:
    """Every operation, EXAMPLES valid and EXAMPLES invalid requests each; what broke the contract, one line each."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app,
                                            config=SchemathesisConfig.from_dict({"seed": 20261127}))
    failures: list[str] = []
    seen: set[str] = set()

    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in SESSION_ENDERS:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            def run(case):
                response = case.call(headers={**headers, "Accept-Language": "en"})
                try:
                    case.validate_response(response, checks=CHECKS)
                except AssertionError as exc:    # schemathesis' failures are AssertionErrors
                    line = f"{operation.label} ({mode}): {str(exc).strip().splitlines()[0][:200]}"
                    if line not in seen:
                        seen.add(line)
                        failures.append(f"{line}\n    {case.as_curl_command()[:400]}")
            try:
                run()
            except Unsatisfiable:       # nothing to make invalid (no parameters, no body)
                pass
    return failures


@pytest.mark.timeout(600)     # every operation of the API, twice: ~1 min alone, more on a busy machine
def test_the_api_keeps_its_contract_for_an_admin(app, client, admin_headers):
    failures = contract_failures(app, admin_headers)
    assert not failures, "\n".join(failures)


@pytest.mark.timeout(600)     # every operation of the API, twice: ~1 min alone, more on a busy machine
def test_the_api_keeps_its_contract_for_a_resident(app, client, resident_headers):
    failures = contract_failures(app, resident_headers)
    assert not failures, "\n".join(failures)
