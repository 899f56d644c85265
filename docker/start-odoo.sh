#!/bin/bash
# Start Odoo for the demo of docker-compose.yml, then run the CDNOW demo.
#
# On the first start, while the addons listed in CRM_DEMO_ADDONS are not all
# installed in CRM_DEMO_DB, Odoo creates the database if needed and installs
# them with demo data and the Spanish translations (es_ES and es_419), then
# stops. Odoo is then served in the background. Unless CRM_DEMO_CDNOW is 0,
# tools/cdnow_demo.py (mounted at /mnt/crm-tools) loads the CDNOW purchases
# into the company "Discos Compás", runs its campaigns, reads the e-mails
# from Mailpit's API at CRM_DEMO_MAIL_API and writes the campaign reports to
# /var/lib/odoo/cdnow-reports. Later starts run the demo again, which finds
# everything in place and creates nothing. The image's own entrypoint waits
# for PostgreSQL and runs Odoo with /etc/odoo/odoo.conf. psql connects with
# the PGHOST, PGUSER and PGPASSWORD variables that docker-compose.yml sets.
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
else
    echo "start-odoo: installing $CRM_DEMO_ADDONS with demo data, es_ES and es_419 in $CRM_DEMO_DB"
    /entrypoint.sh odoo --database="$CRM_DEMO_DB" --init="$CRM_DEMO_ADDONS" \
        --load-language=es_ES,es_419 --stop-after-init "$@"
fi

/entrypoint.sh odoo --database="$CRM_DEMO_DB" "$@" &
odoo_pid=$!
trap 'kill -TERM "$odoo_pid" 2>/dev/null; wait "$odoo_pid"' TERM INT

if [[ "${CRM_DEMO_CDNOW:-1}" != "0" ]]; then
    python3 - <<'PYTHON'
import sys, time, urllib.request

for _attempt in range(300):
    try:
        urllib.request.urlopen("http://127.0.0.1:8069/web/health", timeout=5)
        sys.exit(0)
    except OSError:
        time.sleep(1)
sys.exit("start-odoo: Odoo did not answer on port 8069 within 5 minutes")
PYTHON
    # A failed demo leaves Odoo running, so that its data can be inspected.
    python3 /mnt/crm-tools/cdnow_demo.py \
        --url=http://127.0.0.1:8069 \
        --database="$CRM_DEMO_DB" \
        --file="${CRM_DEMO_CDNOW_FILE:-master}" \
        --mail-api="${CRM_DEMO_MAIL_API:-http://mailpit:8025}" \
        --workdir=/var/lib/odoo/cdnow \
        --output=/var/lib/odoo/cdnow-reports ||
        echo "start-odoo: the CDNOW demo failed with exit code $?; see above"
fi

wait "$odoo_pid"
