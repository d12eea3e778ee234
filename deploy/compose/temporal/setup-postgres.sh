#!/bin/sh
# Temporal's databases on PostgreSQL, for the temporal-schema service of compose.yaml.
# Safe to run on every `up`: the databases are created only when missing, setup-schema
# leaves a versioned schema alone, and update-schema applies only what is newer.
set -eu

: "${POSTGRES_SEEDS:?set POSTGRES_SEEDS}"
: "${POSTGRES_USER:?set POSTGRES_USER}"
: "${SQL_PASSWORD:?set SQL_PASSWORD}"
PORT="${DB_PORT:-5432}"
SCHEMA=/etc/temporal/schema/postgresql/v12

until nc -z "$POSTGRES_SEEDS" "$PORT"; do
  echo "waiting for PostgreSQL at $POSTGRES_SEEDS:$PORT"
  sleep 1
done

sql() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$PORT" -u "$POSTGRES_USER" "$@"
}

for db in temporal temporal_visibility; do
  if [ "$db" = temporal ]; then versioned="$SCHEMA/temporal/versioned"; else versioned="$SCHEMA/visibility/versioned"; fi
  # "create" fails when the database exists (a later run); setup-schema below fails
  # loudly if it is really missing.
  sql --db "$db" create || echo "database $db exists"
  sql --db "$db" setup-schema -v 0.0
  sql --db "$db" update-schema -d "$versioned"
done
echo "Temporal schema ready"
