"""Every operation of the document, fuzzed from the document itself (schemathesis): whatever a client sends, the
answer is one the document promises, in JSON with a message, and never a 500. Signed in as a resident who has a
ticket, so the operations on a ticket reach their rules, not only the sign-in check."""

from __future__ import annotations

from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from tests.api.conftest import sign_in

EXAMPLES = 40
SIGN_IN = ("/session", "/session/web")


def test_no_request_gets_a_server_error_or_an_undocumented_answer(app: Flask, demo: None, tencent: Any) -> None:
    phone = sign_in(app.test_client(), tencent, "mp-fuzz")
    phone.report("幸福小区3栋楼道灯坏了")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    tried = []
    for found in schema.get_all_operations():
        operation = found.ok()
        fuzz(operation, {} if operation.path in SIGN_IN else {"Authorization": f"Bearer {phone.token}"})
        tried.append(f"{operation.method.upper()} {operation.path}")
    assert len(tried) == sum(len(methods) for methods in schema.raw_schema["paths"].values())


def fuzz(operation: Any, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True
    )
    def run(case: Any) -> None:
        # A schema-valid body may still be refused on its content (a "photo" that is not an image, a text that is no
        # complaint): every other check applies, the schema-invalid ones being refused included.
        case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

    run()
