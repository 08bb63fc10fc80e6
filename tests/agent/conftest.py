from __future__ import annotations

import pytest

from serverproc import start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One real `sigma serve` (SQLite) on a loopback port for the module's tests."""
    srv = start_server(tmp_path_factory.mktemp("agent-server"))
    yield srv
    srv.stop()


@pytest.fixture
def agent_key(server):
    """A key of its own per test: an agent's key is bound to the VPS it registers first."""
    return server.api_key("agent")


@pytest.fixture
def make_agent(server, agent_key):
    """An in-process Agent on the test server; stopped at the end of the test."""
    from sigma.agent.config import normalise
    from sigma.agent.runner import Agent

    agents = []

    def make(**overrides):
        raw = dict(
            api_url=server.api,
            api_key=agent_key,
            interval=0.2,
            metrics_port=0,
            public_ip_urls=(),
            backoff_max=0.5,
            timeout=5,
        )
        raw.update(overrides)
        agent = Agent(normalise(raw))
        agents.append(agent)
        return agent

    yield make
    for a in agents:
        a.shutdown()
