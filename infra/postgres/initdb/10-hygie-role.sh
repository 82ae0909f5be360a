#!/usr/bin/env bash
# Runs once, when the PostgreSQL container initialises an empty data volume
# (mounted into /docker-entrypoint-initdb.d by docker-compose.yml).
#
# Creates the login role the Hygie services use: it may create databases (each service
# creates its own `hygie_<service>` database at start, owns it and migrates it) and is
# not a superuser. Extensions are created by the services' migrations; the ones they use
# must be "trusted" extensions (pgcrypto, pg_trgm, btree_gin, ...), which a database
# owner may create. Nothing else is set up here.
#
# APP_DB_USER / APP_DB_PASSWORD come from docker-compose.yml. If APP_DB_USER is the
# superuser (postgres), nothing is done.
set -euo pipefail

: "${APP_DB_USER:?APP_DB_USER is not set}"
: "${APP_DB_PASSWORD:?APP_DB_PASSWORD is not set}"

psql --no-psqlrc -v ON_ERROR_STOP=1 \
     --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
     --set=app_user="${APP_DB_USER}" --set=app_password="${APP_DB_PASSWORD}" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', :'app_user', :'app_password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user')
\gexec
SQL
