"""schemathesis against the app's own OpenAPI document, authenticated as each role (admin,
operator and readonly with a JWT, agent with an API key, as agents and probes call): generated
requests for every operation must never get a 5xx, nor a response that violates the documented
schema (the 401/403 of the routes that take credentials are declared in the document), and a
role that the operation's declared rule (`x-sigma-role`) refuses never gets a success.

The generated JSON bodies also carry hostile text (issue 13): schemathesis leaves lone
surrogates out of its strings (they cannot be UTF-8 encoded), so a flatmap_body hook splices
lone surrogates and C0/C1 control characters, NUL included, into the generated strings; the
JSON encoder sends them as \\uXXXX escapes, which the server's parser turns back into those
characters. None may get a 5xx (one such stored string used to break every listing, and
PostgreSQL refuses NUL).

Fixed seed (derandomize) and a bounded number of examples per operation keep it repeatable
and short: about 6 s per role for ~60 operations on the 2-core machine (no wall-clock
assertion: a loaded CI machine must not make it fail).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

EXAMPLES_PER_OPERATION = 10
ROLES = ("admin", "operator", "readonly", "agent")


def hostile_text(value):
    """A strategy for `value` (a generated JSON body) with lone surrogates and control
    characters spliced into some of its strings; other values as they are."""
    from hypothesis import strategies as st

    if isinstance(value, str):
        bad = st.text(st.characters(categories=["Cs", "Cc"]), min_size=1, max_size=3)
        spliced = st.tuples(st.integers(0, len(value)), bad).map(
            lambda t: value[: t[0]] + t[1] + value[t[0] :]
        )
        return st.one_of(st.just(value), spliced)
    if isinstance(value, dict):
        return st.fixed_dictionaries({k: hostile_text(v) for k, v in value.items()})
    if isinstance(value, list):
        return st.tuples(*(hostile_text(v) for v in value)).map(list)
    return st.just(value)


def has_surrogate(value) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return any(has_surrogate(v) for v in value.values())
    if isinstance(value, list):
        return any(has_surrogate(v) for v in value)
    return False


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


def _credentials(api, role: str) -> dict[str, str]:
    if role == "admin":
        return api.headers()
    if role == "agent":  # agents and probes authenticate with an API key
        return {"X-Api-Key": api.api_key("agent")}
    return api.headers(api.user(role))


# on PostgreSQL, the production database, which is also the stricter one (NUL characters,
# integer ranges); SQLite gets the deterministic sweep above and the rest of the suite
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
@pytest.mark.parametrize("role", ROLES)
def test_schemathesis_finds_no_server_error_and_no_schema_violation(api, role):
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance
    from test_rbac_matrix import ALLOWED  # the one table of who passes each rule

    # something to find for the generated references (most will still be 404s)
    admin = api.headers()
    api.client.post("/api/providers", headers=admin, json={"name": "Seed"})
    api.client.post(
        "/api/vps",
        headers=admin,
        json={"hostname": "seed-1", "ip_addresses": [{"ip": "192.0.2.1"}]},
    )
    h = _credentials(api, role)
    me = api.client.get("/api/auth/me", headers=h)
    assert me.status_code == 200 and me.json()["role"] == role, me.text

    schema = schemathesis.openapi.from_asgi("/api-docs/openapi.json", api.app)

    @schema.hook
    def flatmap_body(context, body):
        return hostile_text(body)

    doc = api.client.get("/api-docs/openapi.json").json()
    for item in doc["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and op.get("security"):
                assert {"401", "403"} <= set(op["responses"]), op.get("operationId")
    failures: dict[str, str] = {}
    # logout-all revokes the caller's token: last, or every later request would be a 401
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda op: op.label == "POST /api/auth/logout-all",
    )
    assert len(operations) >= 20
    refused = 0
    surrogate_bodies = 0
    for operation in operations:
        rule = doc["paths"][operation.path][operation.method.lower()].get("x-sigma-role")
        assert rule in ALLOWED, f"{operation.label}: unknown rule {rule!r}"
        forbidden = role not in ALLOWED[rule]
        refused += forbidden

        def role_is_enforced(ctx, response, case, forbidden=forbidden, rule=rule):
            """A role the declared rule refuses never gets a success (a 4xx for the input
            may come first: the role is checked by the service, after parsing)."""
            if forbidden and response.status_code < 400:
                raise AssertionError(f"{role} got {response.status_code} from a '{rule}' route")

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            nonlocal surrogate_bodies
            surrogate_bodies += has_surrogate(case.body)
            case.call_and_validate(
                headers=h,
                checks=[not_a_server_error, response_schema_conformance, role_is_enforced],
            )

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure
            failures[operation.label] = f"{type(exc).__name__}: {str(exc)[:1500]}"
    assert (refused > 0) == (role != "admin")
    assert surrogate_bodies > 0  # the hook is in force
    assert not failures, f"as {role}:\n\n" + "\n\n".join(
        f"== {label}\n{text}" for label, text in failures.items()
    )
