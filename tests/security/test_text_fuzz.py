"""Random text with lone surrogates and control characters against the main write routes of
a real server, on both databases (issue 13): every answer is a 2xx or a 4xx, never a 5xx,
and every listing and export still answers afterwards. (tests/api/test_schemathesis.py does
the same for every operation, in-process, on PostgreSQL.)"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from liveserver import ADMIN, Browser

HOSTILE = st.characters(categories=["Cs", "Cc"])  # lone surrogates, C0 and C1 controls (NUL too)
TEXT = st.one_of(
    st.text(HOSTILE, min_size=1, max_size=4),
    st.tuples(
        st.text(max_size=8), st.text(HOSTILE, min_size=1, max_size=2), st.text(max_size=8)
    ).map("".join),
    st.text(max_size=12),
)
HOST = st.one_of(st.from_regex(r"fuzz-[a-z0-9]{1,8}", fullmatch=True), TEXT)
FUZZ = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def clients(live):
    """(operator, agent key bound to fuzz-agent): who calls the write routes."""
    user = live.user("operator")
    operator = live.client(token=live.login(user.email, user.password))
    agent = live.client(key=live.key("agent"))
    assert agent.post("/api/agent/register", json={"hostname": "fuzz-agent"}).status_code == 200
    assert operator.post("/api/vps", json={"hostname": "fuzz-target"}).status_code == 200
    yield operator, agent
    operator.close()
    agent.close()


BODIES = {
    ("op", "POST", "/api/vps"): st.fixed_dictionaries(
        {
            "hostname": HOST,
            "alias": TEXT,
            "city": TEXT,
            "notes": TEXT,
            "tags": st.lists(TEXT, max_size=2),
            "ip_addresses": st.lists(
                st.fixed_dictionaries({"ip": st.one_of(TEXT, st.just("fe80::1%eth0"))}), max_size=1
            ),
            "extra": st.dictionaries(TEXT, TEXT, max_size=2),
        }
    ),
    ("op", "PUT", "/api/vps/fuzz-target"): st.fixed_dictionaries(
        {"alias": TEXT, "dc_name": TEXT, "notes": TEXT, "tags": st.lists(TEXT, max_size=2)}
    ),
    ("op", "POST", "/api/providers"): st.fixed_dictionaries({"name": TEXT, "notes": TEXT}),
    ("op", "POST", "/api/tickets"): st.fixed_dictionaries({"title": TEXT, "description": TEXT}),
    ("agent", "POST", "/api/agent/register"): st.fixed_dictionaries(
        {
            "hostname": st.one_of(st.just("fuzz-agent"), HOST),
            "alias": TEXT,
            "system_info": st.dictionaries(
                TEXT, st.one_of(TEXT, st.lists(TEXT, max_size=2)), max_size=2
            ),
        }
    ),
    ("agent", "POST", "/api/agent/heartbeat"): st.fixed_dictionaries(
        {
            "hostname": st.one_of(st.just("fuzz-agent"), HOST),
            "system_info": st.dictionaries(TEXT, TEXT, max_size=2),
        }
    ),
}


@pytest.mark.parametrize("route", list(BODIES), ids=lambda r: f"{r[1]} {r[2]}")
def test_random_text_on_write_routes_is_never_a_server_error(live, clients, route):
    operator, agent = clients
    who, method, path = route
    client = operator if who == "op" else agent
    answers: list[int] = []

    @FUZZ
    @given(body=BODIES[route])
    def send(body):
        # json.dumps writes a lone surrogate as a \\udXXX escape, as any client could
        r = client.request(
            method,
            path,
            content=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code < 500, (body, r.status_code, r.text[:300])
        answers.append(r.status_code)

    send()
    assert 422 in answers, answers  # the hostile text did arrive


def test_listings_answer_after_the_fuzzing(live, clients):
    for path in (
        "/api/vps?per_page=100",
        "/api/vps/fuzz-target",
        "/api/vps/export?format=csv",
        "/api/vps/export?format=yaml",
        "/api/providers/export?format=csv",
        "/api/tickets",
        "/api/prometheus/targets",
        "/api/ansible/inventory",
        "/api/calendar.ics",
        "/api/stats",
        "/api/audit-logs?per_page=100",
    ):
        r = live.admin.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
    web = Browser(live.base)
    try:
        assert web.login(*ADMIN).status_code == 303
        for path in ("/", "/vps", "/providers", "/tickets", "/audit-log"):
            assert web.get(path).status_code == 200, path
    finally:
        web.close()
