#!/usr/bin/env python3
"""Load the public endpoints of the suite with wrk against multi-worker Odoo.

Endpoints, each loaded for ``--duration`` seconds by ``wrk`` from a second
process on 127.0.0.1:

* ``/web/health``: Odoo's health check, which touches no database. It is the
  baseline, measured in the same run, and every ratio below is an endpoint's
  requests per second divided by this one's;
* ``/consent/preferences/<partner id>/<token>``: the preference centre of
  crm_consent (GET), with a token from ``res.partner.consent_preference_url``;
* ``/mail/track/<mail id>/<token>/blank.gif``: the open-tracking pixel of
  Odoo 18's mass_mailing, for a ``mail.mail`` with its ``mailing.trace``.

Steps:

1. With ``--create``, drop and recreate the database and install every addon
   of the suite without demo data. Otherwise use the existing ``--database``.
2. Start Odoo with ``--workers`` worker processes on a loopback port.
3. Create one partner, one mailing, one mail and its trace over XML-RPC, and
   sign their links.
4. Run wrk on each endpoint, then print requests per second, the 99th
   percentile latency, the responses that were not 2xx or 3xx, socket errors,
   the ratio to the health check and the load average.
   Before and after the load, check that Odoo's websocket process (the
   ``gevent`` child that multi-worker mode starts) answers on its port and
   kept the same pid, that is, was not started again.
5. Stop the server. The database is dropped only if the script created it
   and ``--keep`` is not given.

Run it from the repository root (wrk must be installed, for example with
``apt-get install wrk``):

    python3 bench/bench_load.py --database load_bench --create

Connection settings come from the usual libpq variables (PGHOST, PGPORT,
PGUSER, PGPASSWORD), as for ``odoo`` itself.
"""

import argparse
import datetime
import hashlib
import hmac
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import xmlrpc.client
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from odoo_workers import (  # noqa: E402
    ServerError,
    check_gevent,
    free_port,
    odoo_command,
    start_server,
    stop_server,
)

SUITE_ADDONS = [
    "crm_consent",
    "crm_segments",
    "crm_legacy_connectors",
    "crm_campaign_automation",
    "crm_campaign_reports",
]

# Scope of the open-tracking token of mass_mailing (mail.mail,
# _generate_mail_recipient_token in Odoo 18).
OPEN_TRACKING_SCOPE = "mass_mailing-mail_mail-open"

# wrk prints latencies with these units.
LATENCY_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def create_database(database):
    subprocess.run(["dropdb", "--if-exists", database], check=True)
    print(f"Installing the suite on {database} without demo data...", flush=True)
    subprocess.run(
        [
            *odoo_command(database),
            f"--http-port={free_port()}",
            "--init=" + ",".join(SUITE_ADDONS),
            "--without-demo=all",
            "--max-cron-threads=0",
            "--stop-after-init",
            "--log-level=warn",
        ],
        check=True,
    )


def create_targets(url, database, login, password):
    """Create the records behind the public links and return their paths."""
    common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common", allow_none=True)
    uid = common.authenticate(database, login, password, {})
    if not uid:
        fail(f"login {login!r} was rejected by {url} ({database}); pass --login")
    models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object", allow_none=True)

    def execute(model, method, *args, **kwargs):
        return models.execute_kw(
            database, uid, password, model, method, list(args), kwargs
        )

    stamp = datetime.datetime.now().strftime("%Y%m%d%H%M%S")
    email = f"carga.{stamp}@example.com"
    partner_id = execute(
        "res.partner", "create", {"name": f"Carga {stamp}", "email": email}
    )
    preference_url = execute("res.partner", "consent_preference_url", [partner_id])

    [partner_model_id] = execute("ir.model", "search", [("model", "=", "res.partner")])
    mailing_id = execute(
        "mailing.mailing",
        "create",
        {
            "subject": f"Carga {stamp}",
            "body_html": "<p>Hola</p>",
            "mailing_model_id": partner_model_id,
        },
    )
    # A mail already sent, so that no mail queue run picks it up.
    mail_id = execute(
        "mail.mail",
        "create",
        {
            "subject": f"Carga {stamp}",
            "body_html": "<p>Hola</p>",
            "email_to": email,
            "mailing_id": mailing_id,
            "state": "sent",
        },
    )
    execute(
        "mailing.trace",
        "create",
        {
            "mass_mailing_id": mailing_id,
            "model": "res.partner",
            "res_id": partner_id,
            "email": email,
            "mail_mail_id": mail_id,
            "trace_status": "sent",
        },
    )
    secret = execute("ir.config_parameter", "get_param", "database.secret")
    # Same HMAC as odoo.tools.hmac, which mass_mailing uses for this token.
    token = hmac.new(
        secret.encode(),
        repr((OPEN_TRACKING_SCOPE, mail_id)).encode(),
        hashlib.sha256,
    ).hexdigest()
    return {
        "health": "/web/health",
        "preferences": urlsplit(preference_url).path,
        "tracking pixel": f"/mail/track/{mail_id}/{token}/blank.gif",
    }


def parse_latency_ms(text):
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * LATENCY_UNITS_MS[match.group(2)]


def parse_wrk(output):
    """Return requests/s, p99 latency in ms, non-2xx/3xx and socket errors."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    requests = re.search(r"(\d+) requests in", output)
    if not (rps and p99 and requests):
        raise ValueError(f"unexpected wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
        output,
    )
    return {
        "requests": int(requests.group(1)),
        "rps": float(rps.group(1)),
        "p99_ms": parse_latency_ms(p99.group(1)),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(map(int, socket_errors.groups())) if socket_errors else 0,
    }


def run_wrk(url, args):
    command = [
        "wrk",
        f"--threads={args.threads}",
        f"--connections={args.connections}",
        f"--duration={args.duration}s",
        "--timeout=10s",
        "--latency",
        url,
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return parse_wrk(output)


def machine_summary():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            models = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo.read(), re.M)
        cpu = models[0] if models else cpu
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPU cores ({cpu}), {platform.system()} {platform.release()}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, help="database to load")
    parser.add_argument(
        "--create",
        action="store_true",
        help="drop and recreate the database with the suite, without demo data",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the database created by --create"
    )
    parser.add_argument("--login", default="admin", help="administrator login")
    parser.add_argument("--password", default="admin", help="administrator password")
    parser.add_argument(
        "--port", type=int, default=0, help="HTTP port of the server (default: free)"
    )
    parser.add_argument(
        "--gevent-port",
        type=int,
        default=0,
        help="port of Odoo's websocket process (default: free)",
    )
    parser.add_argument("--workers", type=int, default=2, help="Odoo HTTP workers")
    parser.add_argument(
        "--duration", type=int, default=20, help="seconds of load per endpoint"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--connections", type=int, default=20, help="wrk open connections"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        fail("wrk is not installed; install it, for example: apt-get install wrk")
    if args.workers < 1:
        fail("--workers must be at least 1 for multi-worker mode")

    if args.create:
        try:
            create_database(args.database)
        except ServerError as error:
            fail(str(error))
    load_before = os.getloadavg()
    port = args.port or free_port()
    gevent_port = args.gevent_port or free_port()
    log_path = Path(tempfile.mkdtemp(prefix="bench_load_")) / "odoo.log"
    try:
        server, url = start_server(
            args.database, port, gevent_port, args.workers, log_path
        )
    except ServerError as error:
        fail(str(error))
    try:
        gevent_pid = check_gevent(server, gevent_port)
        paths = create_targets(url, args.database, args.login, args.password)
        # One request each before the clock starts, to check the links and
        # to warm up the workers' caches.
        for path in paths.values():
            with urllib.request.urlopen(url + path, timeout=30) as response:
                if response.status != 200:
                    fail(f"{path} returned {response.status}")
        results = {}
        for name, path in paths.items():
            print(f"Loading {name} for {args.duration} s...", flush=True)
            results[name] = run_wrk(url + path, args)
            results[name]["load"] = os.getloadavg()[0]
        gevent_pid_after = check_gevent(server, gevent_port, timeout=10)
    finally:
        stop_server(server)
        if args.create and not args.keep:
            subprocess.run(["dropdb", "--if-exists", args.database], check=False)

    command = (
        f"wrk --threads={args.threads} --connections={args.connections} "
        f"--duration={args.duration}s --timeout=10s --latency URL"
    )
    print()
    print(f"Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"Machine: {machine_summary()}")
    print(f"Odoo: --workers={args.workers}, server log {log_path}")
    print(f"Command per endpoint: {command}")
    print(
        "Load average before the server started (1, 5, 15 min): "
        + ", ".join(f"{value:.2f}" for value in load_before)
    )
    tracebacks = log_path.read_text(encoding="utf-8").count("Traceback")
    print(
        f"Websocket process (--gevent-port={gevent_port}): pid {gevent_pid} when "
        f"the load started, pid {gevent_pid_after} after it (None: not "
        f"responding); tracebacks in the server log: {tracebacks}"
    )
    print()
    print(
        "| Endpoint | Requests | Requests/s | p99 latency | Non-2xx/3xx "
        "| Socket errors | Ratio to /web/health | Load average (1 min) after |"
    )
    print("|---|---|---|---|---|---|---|---|")
    health_rps = results["health"]["rps"]
    for name, result in results.items():
        ratio = result["rps"] / health_rps if health_rps else float("nan")
        print(
            f"| {name} | {result['requests']:,} | {result['rps']:,.1f} "
            f"| {result['p99_ms']:,.1f} ms | {result['non_2xx']} "
            f"| {result['socket_errors']} | {ratio:.2f} | {result['load']:.2f} |"
        )


if __name__ == "__main__":
    main()
