"""Generated requests from /api/v1/openapi.json, valid and invalid: the API never answers 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from sqlalchemy.engine import Engine

from tests.support.web_fixtures import make_web_app

#: Per operation and mode; bounded so the suite stays fast on a small machine.
EXAMPLES = 8


def test_generated_requests_never_get_a_server_error(engine: Engine) -> None:
    web = make_web_app(engine)
    user = web.add_user("fuzz@example.com", role="admin")
    auth = {"Authorization": f"Bearer {web.token(user)}"}
    account = web.api(email="seed@example.com").post("/api/v1/records/account", json={"name": "Seed"})
    assert account.status_code == 201
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", web.app, headers=auth)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case: schemathesis.Case) -> None:
                response = case.call(headers=auth)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path} {case.query} {case.body!r}: {response.text}"
                    )

            call()
    assert not failures, "\n".join(failures[:10])
