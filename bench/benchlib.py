"""Database helpers shared by the benchmark scripts of this folder.

The scripts run from the repository root (``python3 bench/bench_<name>.py``),
so Python finds this module beside them.
"""

import subprocess
import sys
import time
from pathlib import Path

import psycopg2

import odoo
from odoo.tools import SQL

ADDONS_DIR = Path(__file__).resolve().parent.parent / "addons"


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def connect_autocommit(dbname):
    """Open a psycopg2 connection outside Odoo's cursors, for VACUUM and
    catalog reads."""
    _name, params = odoo.sql_db.connection_info_for(dbname)
    connection = psycopg2.connect(**params)
    connection.autocommit = True
    return connection


def database_exists(dbname):
    connection = connect_autocommit("postgres")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname])
            return cursor.fetchone() is not None
    finally:
        connection.close()


def install_addon(dbname, addon):
    """Install ``addon`` without demo data with the ``odoo`` command, or exit."""
    command = [
        "odoo",
        "-d",
        dbname,
        f"--addons-path={ADDONS_DIR}",
        "-i",
        addon,
        "--without-demo=all",
        "--stop-after-init",
        "--http-interface=127.0.0.1",
        "--log-level=warn",
    ]
    print(f"Installing {addon} in {dbname}: {' '.join(command)}", flush=True)
    started = time.perf_counter()
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        fail(f"installing {addon} failed with exit code {result.returncode}.")
    print(f"Installed in {time.perf_counter() - started:.1f}s", flush=True)


def drop_database(dbname):
    odoo.sql_db.close_db(dbname)
    odoo.modules.registry.Registry.delete(dbname)
    subprocess.run(["dropdb", "--if-exists", dbname], check=False)


def vacuum(dbname, tables=None):
    """Run VACUUM ANALYZE on ``tables`` (every table when None), so that each
    measured run starts from fresh statistics and no dead rows."""
    statement = SQL("VACUUM ANALYZE")
    if tables:
        statement = SQL(
            "VACUUM ANALYZE %s", SQL(", ").join(map(SQL.identifier, tables))
        )
    connection = connect_autocommit(dbname)
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement.code)
    finally:
        connection.close()
