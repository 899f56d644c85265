#!/usr/bin/env python3
"""Create the demo database with every addon of the suite, then serve it.

The database (``crm_demo`` by default) gets demo data and Spanish (Spain and
Latin America). Outgoing mail goes to an SMTP server on 127.0.0.1:1025 only,
so no demo e-mail can leave the machine: run a local SMTP catcher there to
read them (README.md shows one). Odoo listens on 127.0.0.1:8069; log in as
admin / admin. Running it again on an existing database updates the addons
instead of reinstalling them.
"""

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADDONS_DIR = ROOT / "addons"


def database_exists(name):
    import psycopg2

    try:
        connection = psycopg2.connect(dbname="postgres", connect_timeout=5)
    except psycopg2.OperationalError as error:
        sys.exit(
            f"error: PostgreSQL is unreachable: {str(error).strip()} Start it and set "
            "PGHOST, PGPORT, PGUSER and PGPASSWORD if the defaults do not fit."
        )
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        found = cursor.fetchone() is not None
    connection.close()
    return found


def keep_demo_offline(name):
    """Mark the companies as already enriched by Odoo's partner autocomplete.

    Otherwise the first login sends the company's domain to Odoo's IAP
    service, and the demo should make no outside call.
    """
    import psycopg2

    with psycopg2.connect(dbname=name) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.columns"
            " WHERE table_name = 'res_company' AND column_name = 'iap_enrich_auto_done'"
        )
        if cursor.fetchone():
            cursor.execute("UPDATE res_company SET iap_enrich_auto_done = TRUE")
    connection.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="crm_demo", help="database name")
    parser.add_argument("--port", type=int, default=8069, help="HTTP port on 127.0.0.1")
    parser.add_argument(
        "--init-only", action="store_true", help="prepare the database, do not serve it"
    )
    args = parser.parse_args()

    try:
        import odoo.release  # noqa: F401
    except ImportError:
        sys.exit(
            "error: python3 cannot import Odoo 18.0; README.md lists the ways to get it."
        )

    addons = sorted(p.parent.name for p in ADDONS_DIR.glob("*/__manifest__.py"))
    common = [
        sys.executable,
        "-m",
        "odoo",
        f"--database={args.database}",
        f"--addons-path={ADDONS_DIR}",
        "--http-interface=127.0.0.1",
        f"--http-port={args.port}",
        "--smtp=127.0.0.1",
        "--smtp-port=1025",
        "--email-from=marketing@demo.invalid",
    ]
    step = "--update" if database_exists(args.database) else "--init"
    print(f"Preparing {args.database} with {', '.join(addons)}", flush=True)
    subprocess.run(
        [
            *common,
            f"{step}={','.join(addons)}",
            "--load-language=es_ES,es_419",
            "--stop-after-init",
        ],
        check=True,
    )
    keep_demo_offline(args.database)
    if args.init_only:
        return
    print(
        f"Serving http://127.0.0.1:{args.port} (admin / admin); Ctrl+C stops it.",
        flush=True,
    )
    subprocess.run(common, check=False)


if __name__ == "__main__":
    main()
