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

    with (
        psycopg2.connect(dbname="postgres") as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return cursor.fetchone() is not None


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
    if args.init_only:
        return
    print(
        f"Serving http://127.0.0.1:{args.port} (admin / admin); Ctrl+C stops it.",
        flush=True,
    )
    subprocess.run(common, check=False)


if __name__ == "__main__":
    main()
