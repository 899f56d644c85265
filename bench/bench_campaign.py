#!/usr/bin/env python3
"""Benchmark a one-step e-mail campaign against Odoo's own mass mailing.

For each size, on the same partners and in the same run:

* mass mailing: a ``mailing.mailing`` on those partners, sent with
  ``action_send_mail()``. It renders and queues one ``mail.mail`` and one
  ``mailing.trace`` per recipient, committing per batch as Odoo does;
* the campaign: ``crm.campaign.action_launch()`` enrolls the partners
  (participants and first traces), then the executor
  (``crm.campaign.trace._execute_due``) claims the traces in batches, runs
  the contact gate and queues one ``mail.mail`` with its ``mailing.trace``
  per allowed partner, committing per batch.

Both render the same body (a greeting with the partner's name and two
links, which link tracking shortens). One partner in ten refused e-mail
marketing: the campaign's gate skips them, and mass mailing skips them as
blacklisted. Both only queue the e-mails: sending them is the mail queue's
job and is the same code for both, so no SMTP server is involved.

Reported: participants enrolled per second, e-mails queued per second, each
as a ratio against mass mailing's e-mails queued per second, and the growth
of the process's resident memory during each phase (sampled every 50 ms).

Run it from the repository root:

    python3 bench/bench_campaign.py --sizes 10000,100000

Connection settings come from the usual libpq variables (PGHOST, PGPORT,
PGUSER, PGPASSWORD), as for ``odoo`` itself.
"""

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import threading
import time
from pathlib import Path

from benchlib import (
    database_exists,
    drop_database,
    fail,
    install_addon,
    vacuum,
)

import odoo
from odoo.tools import SQL

ROOT = Path(__file__).resolve().parent.parent
ADDONS_DIR = ROOT / "addons"

# The campaign executor must queue e-mails at least this many times as fast
# as mass mailing.
TARGET_RATIO = 3.0

PARTNER_REF = "bench-campaign"
EMAIL_DOMAIN = "bench.example.com"
# One partner in REFUSED_EVERY refused e-mail marketing.
REFUSED_EVERY = 10

SUBJECT = "Hola {{ object.name }}"
BODY = (
    '<div><p>Hola <t t-out="object.name"/>:</p>'
    "<p>Esta semana tienes un 15 % de descuento en toda la tienda.</p>"
    '<p><a href="https://www.ejemplo.es/ofertas">Ver las ofertas</a></p>'
    '<p><a href="https://www.ejemplo.es/tiendas">Nuestras tiendas</a></p></div>'
)
PAGE_SIZE = 4096


def parse_sizes(text):
    error = argparse.ArgumentTypeError(
        f"invalid --sizes {text!r}: expected positive integers separated by commas, "
        "for example 10000,100000"
    )
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise error from None
    if not sizes or any(size <= 0 for size in sizes):
        raise error
    return sorted(set(sizes))


def parse_args():
    parser = argparse.ArgumentParser(
        description="Time a one-step e-mail campaign (enrolment and executor) "
        "against mailing.mailing.action_send_mail on the same partners, in a "
        "throwaway database."
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=[10000, 100000],
        help="numbers of partners, separated by commas (default: 10000,100000)",
    )
    parser.add_argument(
        "--database",
        default="bench_campaign",
        help="name of the database to create; it must not exist yet and must "
        "contain 'bench' (default: bench_campaign)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the database after the run instead of dropping it",
    )
    return parser.parse_args()


# ----------------------------------------------------------------------
# Database and machine
# ----------------------------------------------------------------------


def describe_machine(env):
    cpu_model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return [
        (
            "Started (UTC)",
            datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        ),
        ("CPUs", str(os.cpu_count())),
        ("CPU model", cpu_model),
        ("Load average (1 min)", f"{os.getloadavg()[0]:.1f}"),
        ("Python", platform.python_version()),
        ("Odoo", odoo.release.version),
        ("PostgreSQL", env.execute_query(SQL("SHOW server_version"))[0][0]),
        ("Revision", commit),
    ]


class MemorySampler:
    """Sample the resident memory of this process every 50 ms in a thread."""

    def __init__(self):
        self.start_bytes = 0
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = None

    @staticmethod
    def _resident_bytes():
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE

    def _run(self):
        while not self._stop.wait(0.05):
            self.peak_bytes = max(self.peak_bytes, self._resident_bytes())

    def __enter__(self):
        self.start_bytes = self.peak_bytes = self._resident_bytes()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()

    @property
    def growth_mib(self):
        return (self.peak_bytes - self.start_bytes) / 2**20


# ----------------------------------------------------------------------
# Fixture
# ----------------------------------------------------------------------


def prepare_company(env):
    """Let the gate contact anyone at any time: no pressure limit, no quiet hours."""
    env["res.lang"]._activate_lang("es_ES")
    env.company.write(
        {
            "campaign_pressure_limit": 0,
            "campaign_hour_from": 0.0,
            "campaign_hour_to": 24.0,
            **{f"campaign_weekday_{day}": True for day in range(7)},
        }
    )


def add_partners(env, size):
    """Insert ``size`` partners with an e-mail address and return their ids."""
    env.cr.execute(SQL("DELETE FROM res_partner WHERE ref = %s", PARTNER_REF))
    env.cr.execute(
        SQL(
            """
            INSERT INTO res_partner (
                name, complete_name, email, email_normalized, ref, active,
                type, is_company, partner_share, lang, autopost_bills,
                create_uid, create_date, write_uid, write_date
            )
            SELECT 'Cliente ' || n, 'Cliente ' || n,
                   'cliente' || n || %(at_domain)s, 'cliente' || n || %(at_domain)s,
                   %(ref)s, TRUE, 'contact', FALSE, TRUE, 'es_ES', 'ask',
                   %(uid)s, NOW() AT TIME ZONE 'UTC', %(uid)s, NOW() AT TIME ZONE 'UTC'
              FROM generate_series(1, %(size)s) AS n
            """,
            at_domain="@" + EMAIL_DOMAIN,
            ref=PARTNER_REF,
            uid=env.uid,
            size=size,
        )
    )
    env.cr.execute(
        SQL(
            "UPDATE res_partner SET commercial_partner_id = id WHERE ref = %s",
            PARTNER_REF,
        )
    )
    env.invalidate_all()
    rows = env.execute_query(
        SQL("SELECT id FROM res_partner WHERE ref = %s ORDER BY id", PARTNER_REF)
    )
    return [row[0] for row in rows]


def record_consents(env, partner_ids):
    """Grant e-mail marketing to nine partners in ten; the tenth refused it
    and is blacklisted. Returns the number of refusals."""
    refused = partner_ids[::REFUSED_EVERY]
    granted = sorted(set(partner_ids) - set(refused))
    partners = env["res.partner"].browse
    partners(granted).consent_record("email", "granted", source="import")
    # One statement inserts the blacklist entries, as mail.blacklist._add
    # would take one query per address.
    partners(refused).with_context(crm_consent_skip_blacklist_sync=True).consent_record(
        "email", "refused", source="import"
    )
    env.cr.execute(
        SQL(
            """
            INSERT INTO mail_blacklist (email, active, create_uid, create_date,
                                        write_uid, write_date)
            SELECT email_normalized, TRUE, %(uid)s, NOW() AT TIME ZONE 'UTC',
                   %(uid)s, NOW() AT TIME ZONE 'UTC'
              FROM res_partner
             WHERE id = ANY(%(ids)s)
            ON CONFLICT DO NOTHING
            """,
            uid=env.uid,
            ids=refused,
        )
    )
    env.invalidate_all()
    return len(refused)


def count_queued(env, mailing_ids):
    """Return the number of outgoing mail.mail of these mailings."""
    return env.execute_query(
        SQL(
            "SELECT COUNT(*) FROM mail_mail WHERE mailing_id = ANY(%s)"
            " AND state = 'outgoing'",
            list(mailing_ids),
        )
    )[0][0]


# ----------------------------------------------------------------------
# Measured operations
# ----------------------------------------------------------------------


def run_mass_mailing(registry, size):
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        mailing = env["mailing.mailing"].create(
            {
                "subject": SUBJECT,
                "body_html": BODY,
                "body_arch": BODY,
                "mailing_type": "mail",
                "mailing_model_id": env["ir.model"]._get("res.partner").id,
                "mailing_domain": repr([("ref", "=", PARTNER_REF)]),
                "email_from": "tienda@ejemplo.es",
            }
        )
        cr.commit()
        with MemorySampler() as memory:
            started = time.perf_counter()
            mailing.action_send_mail()
            env.flush_all()
            cr.commit()
            seconds = time.perf_counter() - started
        queued = count_queued(env, mailing.ids)
    print(f"  mass mailing: {queued} queued in {seconds:.1f}s", flush=True)
    return {"seconds": seconds, "queued": queued, "memory": memory.growth_mib}


def run_campaign(registry, size):
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        template = env["mail.template"].create(
            {
                "name": f"Bench {size}",
                "model_id": env["ir.model"]._get("res.partner").id,
                "subject": SUBJECT,
                "body_html": BODY,
                "email_from": "tienda@ejemplo.es",
                "lang": "{{ object.lang }}",
            }
        )
        campaign = env["crm.campaign"].create(
            {
                "name": f"Bench {size}",
                "domain": repr([("ref", "=", PARTNER_REF)]),
                "step_ids": [
                    odoo.fields.Command.create(
                        {
                            "name": "Correo",
                            "kind": "email",
                            "mail_template_id": template.id,
                        }
                    )
                ],
            }
        )
        cr.commit()

        with MemorySampler() as enrol_memory:
            started = time.perf_counter()
            campaign.action_launch()
            env.flush_all()
            cr.commit()
            enrol_seconds = time.perf_counter() - started
        enrolled = len(campaign.participant_ids)
        print(f"  campaign: {enrolled} enrolled in {enrol_seconds:.1f}s", flush=True)

        with MemorySampler() as execute_memory:
            started = time.perf_counter()
            env["crm.campaign.trace"]._execute_due(campaign_ids=campaign.ids)
            env.flush_all()
            cr.commit()
            execute_seconds = time.perf_counter() - started
        queued = count_queued(env, campaign.step_ids.mailing_id.ids)
        skipped = env["crm.campaign.trace"].search_count(
            [("campaign_id", "=", campaign.id), ("skip_reason", "=", "consent")]
        )
    print(
        f"  campaign: {queued} queued, {skipped} skipped in {execute_seconds:.1f}s",
        flush=True,
    )
    return {
        "enrol_seconds": enrol_seconds,
        "enrolled": enrolled,
        "enrol_memory": enrol_memory.growth_mib,
        "seconds": execute_seconds,
        "queued": queued,
        "skipped": skipped,
        "memory": execute_memory.growth_mib,
    }


def measure_size(registry, dbname, size):
    print(f"\n== {size} partners ==", flush=True)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        prepare_company(env)
        partner_ids = add_partners(env, size)
        refused = record_consents(env, partner_ids)
        cr.commit()
    vacuum(dbname)
    expected = size - refused

    baseline = run_mass_mailing(registry, size)
    campaign = run_campaign(registry, size)
    for name, queued in (
        ("mass mailing", baseline["queued"]),
        ("campaign", campaign["queued"]),
    ):
        if queued != expected:
            fail(f"{name} queued {queued} e-mails, expected {expected}.")
    if campaign["skipped"] != refused:
        fail(f"the gate skipped {campaign['skipped']} partners, expected {refused}.")
    return size, baseline, campaign


# ----------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------


def print_table(results):
    header = (
        "Partners",
        "Mass mailing e-mails/s",
        "Campaign enrolled/s",
        "Enrol ratio",
        "Campaign e-mails/s",
        "E-mail ratio",
        "Target",
        "Memory (mass / enrol / executor)",
    )
    lines = [header]
    for size, baseline, campaign in results:
        baseline_rate = baseline["queued"] / baseline["seconds"]
        enrol_rate = campaign["enrolled"] / campaign["enrol_seconds"]
        email_rate = campaign["queued"] / campaign["seconds"]
        ratio = email_rate / baseline_rate
        lines.append(
            (
                f"{size:,}",
                f"{baseline_rate:,.0f}",
                f"{enrol_rate:,.0f}",
                f"{enrol_rate / baseline_rate:.1f}x",
                f"{email_rate:,.0f}",
                f"{ratio:.2f}x",
                f">= {TARGET_RATIO}x {'met' if ratio >= TARGET_RATIO else 'NOT met'}",
                f"+{baseline['memory']:.0f} / +{campaign['enrol_memory']:.0f} / "
                f"+{campaign['memory']:.0f} MiB",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for index, line in enumerate(lines):
        print(
            " | ".join(
                cell.ljust(width) for cell, width in zip(line, widths, strict=True)
            )
        )
        if index == 0:
            print("-|-".join("-" * width for width in widths))


def main():
    args = parse_args()
    if not shutil.which("odoo") or not shutil.which("dropdb"):
        fail("the 'odoo' command and PostgreSQL's dropdb must be on PATH.")
    if "bench" not in args.database:
        fail(
            f"invalid --database {args.database!r}: the name must contain "
            "'bench' so that a benchmark never drops another database."
        )
    odoo.tools.config.parse_config(
        ["-d", args.database, f"--addons-path={ADDONS_DIR}", "--log-level=warn"],
        setup_logging=True,
    )
    if database_exists(args.database):
        fail(f"database {args.database} exists; drop it or choose another name.")
    install_addon(args.database, "crm_campaign_automation")
    try:
        registry = odoo.modules.registry.Registry(args.database)
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            for label, value in describe_machine(env):
                print(f"{label}: {value}")
        results = [measure_size(registry, args.database, size) for size in args.sizes]
        print()
        print_table(results)
    finally:
        if not args.keep:
            drop_database(args.database)


if __name__ == "__main__":
    main()
