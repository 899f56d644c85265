"""End-to-end test of the CDNOW demo (tools/cdnow_demo.py) on the sample file.

The demo runs on CDNOW_sample.txt (2,357 customers) in a copy of the test
database, made with Odoo's database service on the test server, so that its
customers, segments and campaigns leave the other XML-RPC tests alone. An
Odoo server of its own serves the copy, and e-mails go to
tools/mail_catcher.py on free loopback ports.

The profile figures are compared with cdnow_customers_summary.csv of the
lifetimes package, computed by its authors on the same customers over the
calibration period 1997-01-01 to 1997-09-30 (39 weeks), in weeks:
``frequency`` is the number of days with a purchase after the first one,
``recency`` the time from the first to the last purchase day and ``T`` the
time from the first purchase day to the end of the period. The suite counts
in days, so a value in weeks is multiplied by 7 and rounded to the day (the
file rounds weeks to two decimals, less than 0.04 day).
"""

import csv
import datetime
import os
import socket
import subprocess
import sys
import time
import urllib.request
import xmlrpc.client
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import cdnow_data  # noqa: E402
import cdnow_demo  # noqa: E402
from mail_catcher import MailCatcher  # noqa: E402

CALIBRATION_END = datetime.date(1997, 9, 30)
SIMULATED_DAYS = 6
# Odoo's master password for the database service; the test server of
# tools/run_tests.py keeps Odoo's default.
MASTER_PASSWORD = os.environ.get("ODOO_MASTER_PASSWORD", "admin")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def catcher():
    mail_catcher = MailCatcher(free_port(), free_port()).start()
    yield mail_catcher
    mail_catcher.stop()


@pytest.fixture(scope="module")
def demo_server(odoo, catcher):
    """Serve a copy of the test database with an Odoo server of its own.

    The test server is started with --database, so it routes every HTTP
    request (tracking pixels, links, reports) to the test database. The copy
    therefore needs its own server.
    """
    name = f"{odoo.database}_cdnow"
    # The test server lists only its --database, so its database service
    # cannot drop the copy. dropdb --force does, and also closes the
    # connections the test server opened to the copy while making it.
    drop_database(name)
    service = xmlrpc.client.ServerProxy(f"{odoo.url}/xmlrpc/2/db")
    service.duplicate_database(MASTER_PASSWORD, odoo.database, name)
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "odoo",
        f"--database={name}",
        f"--addons-path={os.environ.get('ODOO_ADDONS_PATH', ROOT / 'addons')}",
        "--http-interface=127.0.0.1",
        f"--http-port={port}",
        "--workers=0",
        "--max-cron-threads=0",
        "--limit-time-real=900",
        "--log-level=warn",
        "--smtp=127.0.0.1",
        f"--smtp-port={catcher.smtp_port}",
        "--email-from=marketing@demo.invalid",
    ]
    server = subprocess.Popen(command)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(url, server)
        yield url, name
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        drop_database(name)


def drop_database(name):
    subprocess.run(
        ["dropdb", "--if-exists", "--force", name],
        check=True,
        stderr=subprocess.DEVNULL,
    )


def wait_for_server(url, server, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "the Odoo server of the copy stopped"
        try:
            with urllib.request.urlopen(f"{url}/web/health", timeout=5):
                return
        except OSError:
            time.sleep(1)
    pytest.fail(f"the Odoo server of the copy did not answer on {url}")


@pytest.fixture(scope="module")
def demo_options(odoo, demo_server, catcher, tmp_path_factory):
    url, database = demo_server
    workdir = tmp_path_factory.mktemp("cdnow")
    return cdnow_demo.parse_args(
        [
            f"--url={url}",
            f"--database={database}",
            f"--login={odoo.login}",
            f"--password={odoo.password}",
            "--file=sample",
            f"--workdir={workdir}",
            f"--output={workdir / 'reports'}",
            f"--mail-api=http://127.0.0.1:{catcher.web_port}",
            f"--simulate-days={SIMULATED_DAYS}",
        ]
    )


@pytest.fixture(scope="module")
def demo(demo_options):
    return cdnow_demo.run(demo_options)


def read_summary():
    path = cdnow_data.find_cdnow_file(cdnow_data.SUMMARY_FILE)
    with open(path, encoding="utf-8") as handle:
        return {int(row["ID"]): row for row in csv.DictReader(handle)}


def test_demo_figures_match_source(demo):
    mismatches = [check for check in demo.checks if not check["ok"]]
    assert demo.checks, "the demo compared no figure"
    assert not mismatches, f"figures differ from the source file: {mismatches}"


def test_demo_writes_reports(demo):
    xlsx, pdf = (Path(path) for path in demo.results["reports"])
    assert xlsx.read_bytes()[:2] == b"PK", f"{xlsx} is not an XLSX (zip) file"
    assert pdf.read_bytes()[:4] == b"%PDF", f"{pdf} is not a PDF file"


def test_profiles_match_lifetimes_summary(demo):
    summary = read_summary()
    assert len(summary) == 2357
    customer_by_sample = {row.sample_id: row.customer_no for row in demo.purchases}
    shift = datetime.timedelta(days=demo.shift_days)
    calibration_end = CALIBRATION_END + shift

    partner_ids = [
        demo.partner_by_customer[customer_by_sample[sample_id]] for sample_id in summary
    ]
    profiles = {
        row["id"]: row
        for row in demo.rpc.call(
            "res.partner", "read", partner_ids, ["first_purchase_date"]
        )
    }
    days_by_partner = {}
    for row in demo.rpc.call(
        "crm.customer.transaction",
        "search_read",
        [
            ("partner_id", "in", partner_ids),
            ("kind", "=", "purchase"),
            ("date", "<=", calibration_end.isoformat()),
        ],
        ["partner_id", "date"],
    ):
        days_by_partner.setdefault(row["partner_id"][0], set()).add(
            datetime.date.fromisoformat(row["date"])
        )

    wrong = Counter()
    for sample_id, row in summary.items():
        partner_id = demo.partner_by_customer[customer_by_sample[sample_id]]
        first = datetime.date.fromisoformat(profiles[partner_id]["first_purchase_date"])
        days = days_by_partner[partner_id]
        if (calibration_end - first).days != round(float(row["T"]) * 7):
            wrong["T"] += 1
        if len(days) - 1 != int(row["frequency"]):
            wrong["frequency"] += 1
        if (max(days) - first).days != round(float(row["recency"]) * 7):
            wrong["recency"] += 1
    assert not wrong, f"customers whose figures differ from the summary: {wrong}"


def test_campaign_figures_match_traces(demo):
    groups = demo.rpc.call(
        "crm.campaign.trace",
        "read_group",
        [("campaign_id", "=", demo.reactivation_id), ("state", "!=", "scheduled")],
        ["step_id"],
        ["step_id", "state", "skip_reason"],
        lazy=False,
    )
    from_traces = {}
    for group in groups:
        key = "sent" if group["state"] == "done" else group["skip_reason"]
        step = from_traces.setdefault(group["step_id"][1], Counter())
        step[key] += group["__count"]
    for name, figures in demo.results["steps"].items():
        printed = {key: value for key, value in figures.items() if key != "opened"}
        assert printed == dict(from_traces[name]), (
            f"step {name}: the demo printed {printed}, the traces say "
            f"{dict(from_traces[name])}"
        )

    refused = Counter()
    for group in demo.rpc.call(
        "crm.campaign.trace",
        "read_group",
        [("campaign_id", "=", demo.reactivation_id), ("state", "=", "skipped")],
        ["skip_reason"],
        ["skip_reason"],
        lazy=False,
    ):
        refused[group["skip_reason"]] += group["__count"]
    for reason in ("consent", "pressure"):
        assert demo.results["refused"].get(reason, 0) == refused[reason], (
            f"refused for {reason}: printed {demo.results['refused'].get(reason, 0)}, "
            f"traces {refused[reason]}"
        )


def test_holdout_and_ab_test_match_traces(demo):
    assert demo.has_experiments, "the campaign addon has no A/B test or holdout"
    uplift = demo.results["holdout_uplift"]
    participants = demo.rpc.call(
        "crm.campaign.participant",
        "search_read",
        [("campaign_id", "=", demo.reactivation_id)],
        ["is_holdout"],
    )
    holdout = sum(1 for row in participants if row["is_holdout"])
    assert uplift["holdout_count"] == holdout
    assert uplift["treated_count"] == len(participants) - holdout
    # Holdout partners skip the first e-mail, except one-to-one customers,
    # whose e-mail is canceled by the tier filter before the holdout test.
    holdout_skips = demo.rpc.call(
        "crm.campaign.trace",
        "search_count",
        [("campaign_id", "=", demo.reactivation_id), ("skip_reason", "=", "holdout")],
    )
    holdout_filtered = demo.rpc.call(
        "crm.campaign.trace",
        "search_count",
        [
            ("campaign_id", "=", demo.reactivation_id),
            ("participant_id.is_holdout", "=", True),
            ("skip_reason", "=", "filter"),
        ],
    )
    assert holdout_skips == holdout - holdout_filtered

    [results] = demo.results["experiments"].values()
    for variant in results["variants"]:
        sent = demo.rpc.call(
            "crm.campaign.trace",
            "search_count",
            [
                ("variant_id", "=", variant["variant_id"]),
                ("is_test_sample", "=", True),
                ("state", "=", "done"),
            ],
        )
        assert variant["recipients"] == sent, (
            f"variant {variant['name']}: {variant['recipients']} recipients in the "
            f"results, {sent} test e-mails sent"
        )
    assert results["state"] == "decided"
    assert results["winner_variant_id"]


def test_rerun_creates_nothing(demo, demo_options):
    counted = [
        ("res.partner", [("profile_company_id", "=", demo.company_id)]),
        ("crm.customer.transaction", [("company_id", "=", demo.company_id)]),
        (
            "crm.consent.event",
            [("partner_id.profile_company_id", "=", demo.company_id)],
        ),
        ("crm.segment", [("company_id", "=", demo.company_id)]),
        ("crm.campaign", [("company_id", "=", demo.company_id)]),
        ("crm.campaign.participant", [("company_id", "=", demo.company_id)]),
        ("crm.campaign.trace", [("company_id", "=", demo.company_id)]),
        ("sale.order", [("company_id", "=", demo.company_id)]),
        ("mailing.trace", [("res_id", "in", list(demo.customer_by_partner))]),
    ]
    before = {
        model: demo.rpc.call(model, "search_count", domain) for model, domain in counted
    }

    again = cdnow_demo.run(demo_options)

    after = {
        model: demo.rpc.call(model, "search_count", domain) for model, domain in counted
    }
    assert after == before
    assert again.results["import"]["partners_created"] == 0
    assert again.results["import"]["transactions_created"] == 0
    assert again.results["import"]["consents_recorded"] == 0
    assert all(check["ok"] for check in again.checks)
