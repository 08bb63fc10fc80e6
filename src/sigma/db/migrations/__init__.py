"""Alembic migrations shipped in the package.

HEAD_REVISION lets every command check the schema with one SELECT instead of importing
Alembic; a test keeps it equal to Alembic's real head.
"""

HEAD_REVISION = "0022"
