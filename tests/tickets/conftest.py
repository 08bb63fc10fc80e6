"""Fixtures of the ticket tests: cheap password hashing. (The shared `cli` fixture runs each
CLI test locally and against an in-process server.)"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    from argon2 import PasswordHasher

    from sigma.services import auth

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
