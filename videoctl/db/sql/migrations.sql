-- migrate.py's own bookkeeping (schema_migrations); the migrations themselves are
-- migrations/*.sql.

-- name: migrations_lock
-- The lock is transaction-scoped: a second migrator waits here, then finds nothing to do.
SELECT pg_advisory_xact_lock(%(key)s);

-- name: migrations_table_exists
SELECT to_regclass('schema_migrations') IS NOT NULL AS present;

-- name: create_migrations_table
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- name: applied_migrations
SELECT version, applied_at FROM schema_migrations;

-- name: record_migration
INSERT INTO schema_migrations (version, name) VALUES (%(version)s, %(name)s);
