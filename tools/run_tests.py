#!/usr/bin/env python3
"""Run every test of the suite against a throwaway database.

Steps:

1. Check that ``python3`` imports Odoo 18.0 and that PostgreSQL is reachable.
2. Create a database, install every addon under ``addons/`` with demo data
   and run their Odoo tests (``--test-enable``, tags ``/<addon>``).
3. Start an Odoo server on a loopback port over the same database and run the
   XML-RPC tests under ``tests/`` with pytest.
4. Drop the database and print ``N passed, N failed`` as the last line.

A skipped Odoo test counts as failed, because Odoo skips browser tests
silently when Chromium or websocket-client is missing.

Connection settings come from the usual libpq variables (PGHOST, PGPORT,
PGUSER, PGPASSWORD); see ``--help`` for the options.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADDONS_DIR = ROOT / "addons"

# "0 failed, 0 error(s) of 25 tests when loading database 'x'", logged by
# odoo.service.server at the end of a --stop-after-init run with tests.
ODOO_SUMMARY = re.compile(
    r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database"
)
ODOO_SKIPPED = re.compile(r"odoo\.tests\.result: skipped (.*)$")
ODOO_FAILURE_LINE = re.compile(r" (ERROR|CRITICAL) ")


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def check_odoo():
    try:
        import odoo.release
    except ImportError as error:
        fail(
            f"python3 cannot import Odoo ({error}). Install Odoo 18.0 so that "
            "'python3 -c \"import odoo\"' works; README.md lists the ways."
        )
    if odoo.release.version_info[:2] != (18, 0):
        fail(f"Odoo 18.0 is required, found {odoo.release.version}.")


def check_postgres():
    import psycopg2

    try:
        connection = psycopg2.connect(dbname="postgres", connect_timeout=5)
    except psycopg2.OperationalError as error:
        fail(
            f"PostgreSQL is unreachable: {str(error).strip().rstrip('?.')}. Start it and set "
            "PGHOST, PGPORT, PGUSER and PGPASSWORD if the defaults do not fit."
        )
    connection.close()


def list_addons():
    return sorted(
        path.name
        for path in ADDONS_DIR.iterdir()
        if (path / "__manifest__.py").is_file()
    )


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def odoo_command(database, extra):
    command = [
        sys.executable,
        "-m",
        "odoo",
        f"--database={database}",
        f"--addons-path={ADDONS_DIR}",
        "--http-interface=127.0.0.1",
        f"--http-port={free_port()}",
        "--max-cron-threads=0",
        *extra,
    ]
    for variable, option in (
        ("PGHOST", "--db_host"),
        ("PGPORT", "--db_port"),
        ("PGUSER", "--db_user"),
        ("PGPASSWORD", "--db_password"),
    ):
        if os.environ.get(variable):
            command.append(f"{option}={os.environ[variable]}")
    return command


def run_odoo_tests(database, addons, log_path, with_tests=True):
    """Install ``addons`` and run their tests; return (passed, failed)."""
    options = ["--init=" + ",".join(addons), "--stop-after-init", "--log-level=test"]
    if with_tests:
        tags = ",".join(f"/{addon}" for addon in addons)
        options += ["--test-enable", f"--test-tags={tags}"]
    command = odoo_command(database, options)
    print(
        f"== Installing {', '.join(addons)}"
        + (" and running their tests" if with_tests else ""),
        flush=True,
    )
    started = time.monotonic()
    summary = None
    skipped = []
    error_lines = 0
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for line in process.stdout:
            log.write(line)
            if match := ODOO_SUMMARY.search(line):
                summary = tuple(int(group) for group in match.groups())
            if match := ODOO_SKIPPED.search(line):
                skipped.append(match.group(1))
            if ODOO_FAILURE_LINE.search(line):
                error_lines += 1
                print(line, end="", flush=True)
        returncode = process.wait()
    print(
        f"   done in {time.monotonic() - started:.0f}s, log in {log_path}", flush=True
    )

    if not with_tests:
        return 0, 1 if returncode else 0
    if summary is None:
        print(
            f"   Odoo printed no test summary (exit code {returncode}); see {log_path}",
            flush=True,
        )
        return 0, 1
    failures, errors, run = summary
    for description in skipped:
        print(f"   skipped test counted as failed: {description}", flush=True)
    failed = failures + errors + len(skipped)
    if returncode and not failed:
        # Odoo exited non-zero without a failed test: an install error.
        print(f"   Odoo exited with code {returncode}; see {log_path}", flush=True)
        failed = 1
    passed = max(run - failures - errors - len(skipped), 0)
    print(f"   Odoo: {run} tests run, {failed} failed", flush=True)
    return passed, failed


def wait_for_server(url, process, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{url}/web/health", timeout=5):
                return True
        except OSError:
            time.sleep(1)
    return False


def run_pytest(database, workdir, pytest_args):
    """Start an Odoo server on ``database`` and run tests/ against it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = odoo_command(database, ["--workers=0", "--log-level=warn"])
    command = [arg for arg in command if not arg.startswith("--http-port=")]
    command.append(f"--http-port={port}")
    log_path = workdir / "odoo-server.log"
    print(f"== XML-RPC tests against {url}", flush=True)
    with open(log_path, "w", encoding="utf-8") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        if not wait_for_server(url, server):
            print(f"   the Odoo server did not start; see {log_path}", flush=True)
            return 0, 1
        junit = workdir / "pytest.xml"
        env = dict(
            os.environ,
            ODOO_URL=url,
            ODOO_DB=database,
            ODOO_LOGIN="admin",
            ODOO_PASSWORD="admin",
            ODOO_ADDONS_PATH=str(ADDONS_DIR),
        )
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                *(pytest_args or [str(ROOT / "tests")]),
                f"--junitxml={junit}",
                "-q",
                "-p",
                "no:cacheprovider",
            ],
            env=env,
            cwd=ROOT,
            check=False,
        )
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    if not junit.exists():
        print("   pytest wrote no report", flush=True)
        return 0, 1
    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    total = int(suite.get("tests", 0))
    failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    skipped = int(suite.get("skipped", 0))
    if skipped:
        print(f"   {skipped} skipped pytest tests counted as failed", flush=True)
    print(f"   pytest: {total} tests run, {failed + skipped} failed", flush=True)
    return total - failed - skipped, failed + skipped


def drop_database(database):
    subprocess.run(
        ["dropdb", "--if-exists", database], check=False, stderr=subprocess.DEVNULL
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--addons",
        help="comma-separated addons to install and test (default: every addon under addons/)",
    )
    parser.add_argument(
        "--keep-db", action="store_true", help="do not drop the database"
    )
    parser.add_argument(
        "--skip-odoo-tests", action="store_true", help="install only, run tests/ alone"
    )
    parser.add_argument(
        "pytest_args", nargs="*", help="extra arguments passed to pytest"
    )
    args = parser.parse_args()

    check_odoo()
    check_postgres()
    if not shutil.which("dropdb"):
        fail("the PostgreSQL client tools (createdb, dropdb) are not on PATH.")

    addons = args.addons.split(",") if args.addons else list_addons()
    database = f"crm_suite_test_{os.getpid()}"
    workdir = Path(tempfile.mkdtemp(prefix="crm_suite_test_"))
    drop_database(database)
    passed = failed = 0
    try:
        odoo_passed, odoo_failed = run_odoo_tests(
            database,
            addons,
            workdir / "odoo-tests.log",
            with_tests=not args.skip_odoo_tests,
        )
        passed += odoo_passed
        failed += odoo_failed
        rpc_passed, rpc_failed = run_pytest(database, workdir, args.pytest_args)
        passed += rpc_passed
        failed += rpc_failed
    finally:
        if not args.keep_db:
            drop_database(database)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or not passed else 0)


if __name__ == "__main__":
    main()
