"""Fixtures: service calls as the local operator, cheap password hashing for `api`."""

from tests.service_fixtures import fast_password_hashing, run  # noqa: F401 (fixtures)
