"""Fixtures: cheap password hashing for the `api` fixture and service calls as the local
operator. The `cli` fixture of tests/conftest.py runs each command locally and remotely."""

from __future__ import annotations

from tests.service_fixtures import fast_password_hashing, run  # noqa: F401 (fixtures)
