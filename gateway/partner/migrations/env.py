from shared.db.migrate import run_alembic_env

run_alembic_env()
