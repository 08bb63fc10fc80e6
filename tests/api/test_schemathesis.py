"""schemathesis against the app's own OpenAPI document, as an admin: generated requests for
every operation must never get a 5xx, nor a response that violates the documented schema.

Fixed seed (derandomize) and a bounded number of examples per operation keep it repeatable
and short: about 45 s for ~50 operations on the 2-core machine under load (no wall-clock
assertion: a loaded CI machine must not make it fail).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

EXAMPLES_PER_OPERATION = 5


def test_hostile_parameters_on_every_operation(api):
    """A deterministic sweep beside the random one, on both databases: NUL characters in
    every path and query parameter, and absurd page numbers, are 4xx (PostgreSQL cannot
    store or compare NUL; a huge OFFSET overflows the database's integers)."""
    from apidriver import Driver

    driver = Driver(api)
    h = api.headers()
    problems = []
    for op in driver.operations():
        base = driver.build(op)
        variants = []
        for p in op.spec.get("parameters", []):
            if p.get("in") == "query":
                variants.append(({**base.params, p["name"]: "a\x00b"}, base.url))
                if p["name"] == "page":
                    variants.append(({**base.params, "page": str(10**20)}, base.url))
        parts = op.path.split("/")
        for i, part in enumerate(parts):
            if part.startswith("{"):
                url = base.url.split("/")
                url[i] = "a%00b"
                variants.append((base.params, "/".join(url)))
        for params, url in variants:
            call = replace(base, params=params, url=url)
            r = driver.send(call, h)
            if r.status_code >= 500 or r.status_code in (401, 403):
                problems.append(f"{op} {url} {params}: {r.status_code} {r.text[:200]}")
    assert not problems, "\n".join(problems)


# on PostgreSQL, the production database, which is also the stricter one (NUL characters,
# integer ranges); SQLite gets the deterministic sweep above and the rest of the suite
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_schemathesis_finds_no_server_error_and_no_schema_violation(api):
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    # something to find for the generated references (most will still be 404s)
    h = api.headers()
    api.client.post("/api/providers", headers=h, json={"name": "Seed"})
    api.client.post("/api/vps", headers=h, json={"hostname": "seed-1", "ip_addresses": [{"ip": "192.0.2.1"}]})

    schema = schemathesis.openapi.from_asgi("/api-docs/openapi.json", api.app)
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate(headers=h, checks=[not_a_server_error, response_schema_conformance])

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure
            failures[operation.label] = f"{type(exc).__name__}: {str(exc)[:1500]}"
    assert not failures, "\n\n".join(f"== {label}\n{text}" for label, text in failures.items())
