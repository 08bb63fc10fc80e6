from alembic import context

from sigma.db.models.core import postgresql_index_options
from sigma.db.tables import metadata

connection = context.config.attributes["connection"]
if connection.dialect.name == "postgresql":
    postgresql_index_options()  # the GIN indexes, as autogenerate should render them
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
