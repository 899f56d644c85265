#!/bin/bash
# Start Odoo for the demo of docker-compose.yml.
#
# On the first start, while the addons listed in CRM_DEMO_ADDONS are not all
# installed in CRM_DEMO_DB, Odoo creates the database if needed and installs
# them with demo data and the Spanish translations (es_ES and es_419). Later starts only
# serve the database. The image's own entrypoint then waits for PostgreSQL and
# runs Odoo with /etc/odoo/odoo.conf. psql connects with the PGHOST, PGUSER
# and PGPASSWORD variables that docker-compose.yml sets.
set -euo pipefail

: "${CRM_DEMO_DB:?CRM_DEMO_DB is missing: set it to the database name in docker-compose.yml}"
: "${CRM_DEMO_ADDONS:?CRM_DEMO_ADDONS is missing: set it to the comma-separated addons in docker-compose.yml}"

expected_count=$(tr ',' '\n' <<<"$CRM_DEMO_ADDONS" | grep -c .)

# psql fails while the database does not exist, and an empty count means
# "install".
installed_count=$(
    psql --dbname="$CRM_DEMO_DB" --no-align --tuples-only --quiet \
        --set=addons="$CRM_DEMO_ADDONS" 2>/dev/null <<'SQL' || true
SELECT COUNT(*)
  FROM ir_module_module
 WHERE state = 'installed'
   AND name = ANY(string_to_array(:'addons', ','));
SQL
)

if [[ "$installed_count" == "$expected_count" ]]; then
    echo "start-odoo: $CRM_DEMO_ADDONS already installed in $CRM_DEMO_DB"
    exec /entrypoint.sh odoo --database="$CRM_DEMO_DB" "$@"
fi

echo "start-odoo: installing $CRM_DEMO_ADDONS with demo data, es_ES and es_419 in $CRM_DEMO_DB"
exec /entrypoint.sh odoo --database="$CRM_DEMO_DB" --init="$CRM_DEMO_ADDONS" \
    --load-language=es_ES,es_419 "$@"
