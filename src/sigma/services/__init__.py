"""The service layer: every rule (validation, roles, audit, lifecycle) lives here.

A service function takes a session, an Actor and plain values/schemas, and returns schemas.
"""
