"""Alembic environment shared by the platform and every service (see hygie_platform.db)."""

from hygie_platform.db import run_alembic_env

run_alembic_env()
