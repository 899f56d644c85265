#!/usr/bin/env python3
"""Create the demo database with every addon of the suite, run the CDNOW
demo on it, then serve it.

The database (``crm_demo`` by default) gets demo data and Spanish (Spain and
Latin America). Outgoing mail goes to an SMTP server on 127.0.0.1:1025 only,
so no demo e-mail can leave the machine: the script starts
``tools/mail_catcher.py`` there, whose web page on 127.0.0.1:8025 shows every
e-mail, unless something already listens on that port (such as Mailpit).
Odoo listens on 127.0.0.1:8069; log in as admin / admin. Then
``tools/cdnow_demo.py`` loads the CDNOW purchases into the company "Discos
Compás" and runs its campaigns (``--no-cdnow`` skips it). Running the script
again on an existing database updates the addons instead of reinstalling
them, and the CDNOW demo creates nothing twice.
"""

import argparse
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADDONS_DIR = ROOT / "addons"
TOOLS_DIR = ROOT / "tools"
MAIL_STORE_DIR = Path.home() / ".cache" / "crm-suite" / "mail"


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


def port_in_use(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_mail_catcher(smtp_port, web_port, store):
    """Start tools/mail_catcher.py unless the SMTP port is taken; return the
    process or None. ``store`` is the file that keeps the messages across
    runs, so that a re-run of the demo finds the e-mails of the first one."""
    if port_in_use(smtp_port):
        print(
            f"Port {smtp_port} is in use: e-mails go to the SMTP server already "
            "listening there.",
            flush=True,
        )
        return None
    process = subprocess.Popen(
        [
            sys.executable,
            str(TOOLS_DIR / "mail_catcher.py"),
            f"--smtp-port={smtp_port}",
            f"--web-port={web_port}",
            f"--store={store}",
        ]
    )
    for _attempt in range(50):
        if process.poll() is not None:
            sys.exit(
                "error: the mail catcher did not start; install aiosmtpd with "
                "'pip install -r requirements-test.txt' or start Mailpit on "
                f"port {smtp_port}."
            )
        if port_in_use(smtp_port) and port_in_use(web_port):
            break
        time.sleep(0.2)
    print(f"E-mails: http://127.0.0.1:{web_port}", flush=True)
    return process


def wait_for_odoo(url, process, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit("error: Odoo stopped while starting; its log is above.")
        try:
            with urllib.request.urlopen(f"{url}/web/health", timeout=5):
                return
        except OSError:
            time.sleep(1)
    sys.exit(f"error: Odoo did not answer on {url} within {timeout} s.")


def raise_interrupt(signum, frame):
    """Turn SIGTERM into the Ctrl+C path, which stops Odoo and the catcher."""
    raise KeyboardInterrupt


def stop(process):
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database", default="crm_demo", help="database name (default: crm_demo)"
    )
    parser.add_argument(
        "--port", type=int, default=8069, help="HTTP port on 127.0.0.1 (default: 8069)"
    )
    parser.add_argument(
        "--smtp-port",
        type=int,
        default=1025,
        help="SMTP port on 127.0.0.1 that Odoo sends to (default: 1025)",
    )
    parser.add_argument(
        "--mail-web-port",
        type=int,
        default=8025,
        help="web page of the mail catcher on 127.0.0.1 (default: 8025)",
    )
    parser.add_argument(
        "--init-only",
        action="store_true",
        help="prepare the database and run the CDNOW demo, then stop",
    )
    parser.add_argument(
        "--no-cdnow", action="store_true", help="do not run the CDNOW demo"
    )
    parser.add_argument(
        "--cdnow-file",
        default="master",
        help="CDNOW file of the demo: master (23,570 customers, several minutes) "
        "or sample (2,357 customers) (default: master)",
    )
    parser.add_argument(
        "--simulate-days",
        type=int,
        default=30,
        help="days the CDNOW demo simulates after its campaigns start (default: 30)",
    )
    parser.add_argument(
        "--reports",
        default="cdnow-demo-reports",
        help="folder of the campaign reports written by the CDNOW demo "
        "(default: %(default)s)",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, raise_interrupt)

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
        f"--smtp-port={args.smtp_port}",
        "--email-from=marketing@demo.invalid",
        # The CDNOW demo imports 100,000 rows in one XML-RPC call, which takes
        # minutes. Past --limit-time-real (120 s by default), Odoo's threaded
        # server stops.
        "--limit-time-real=3600",
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
    if args.init_only and args.no_cdnow:
        return

    store = MAIL_STORE_DIR / f"{args.database}.jsonl"
    store.parent.mkdir(parents=True, exist_ok=True)
    if step == "--init":
        # A new database: the e-mails of an earlier one would skew its figures.
        store.unlink(missing_ok=True)
    catcher = start_mail_catcher(args.smtp_port, args.mail_web_port, store)
    url = f"http://127.0.0.1:{args.port}"
    # One log line per HTTP request would bury the demo's progress lines.
    server = subprocess.Popen(
        [*common, f"--db-filter=^{args.database}$", "--log-handler=werkzeug:WARNING"]
    )
    try:
        wait_for_odoo(url, server)
        if not args.no_cdnow:
            sys.path.insert(0, str(TOOLS_DIR))
            import cdnow_demo

            status = cdnow_demo.main(
                [
                    f"--url={url}",
                    f"--database={args.database}",
                    f"--file={args.cdnow_file}",
                    f"--simulate-days={args.simulate_days}",
                    f"--output={args.reports}",
                    f"--mail-api=http://127.0.0.1:{args.mail_web_port}",
                ]
            )
            if status:
                sys.exit(status)
        if args.init_only:
            return
        print(
            f"Serving {url} (admin / admin), e-mails on "
            f"http://127.0.0.1:{args.mail_web_port}; Ctrl+C stops both.",
            flush=True,
        )
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop(server)
        stop(catcher)


if __name__ == "__main__":
    main()
