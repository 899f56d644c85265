#!/usr/bin/env python3
"""Executor process for the fault tests of crm_campaign_automation.

``tests/test_campaign_faults.py`` starts this script as separate operating
system processes on one database, the way several Odoo cron workers share a
database, and kills some of them with SIGKILL. Commands:

- ``prepare``: create a company that allows contact at any hour without a
  pressure budget, an audience of partners under a new tag with their e-mail
  consent, and an e-mail template with a tracked link. Prints the ids as JSON.
- ``launch``: create a campaign with one e-mail step over that audience and
  launch it; prints the campaign id as JSON.
- ``execute``: run ``crm.campaign.trace._execute_due`` on one campaign until
  no trace of it is due, committing per batch as the cron does.
- ``cleanup``: stop the campaigns, cancel their e-mails, archive the audience.
- ``cron``: run Odoo's cron job processing (``ir.cron._process_jobs``, what
  a cron worker thread runs at each wake-up) again and again until no trace
  of one campaign is due, or without ``--campaign-id`` until the cron job
  ``--cron-xmlid`` is no longer ready. With ``--pause-after-first`` it
  prints the outcome of the first run and waits for a line on its standard
  input before the next ones, so that a test can inspect the database in
  between.

``--db-host`` and ``--db-port`` point the process at another PostgreSQL
server than the default one, such as a throwaway cluster.

The script prints ``backend <pid>`` before each executor transaction so that
a test can terminate the PostgreSQL backend it uses.
"""

import argparse
import json
import logging
import sys
import time

import psycopg2.errors

import odoo
from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry

_logger = logging.getLogger("campaign_fault_worker")

# Refusal kinds given to partners of the audience, by position: every 10th
# partner refused e-mail marketing (which also blacklists the address), every
# 25th was never asked, which the opt-in regime of the marketing purpose
# treats as a refusal. The others granted.
REFUSED_EVERY = 10
NEVER_ASKED_EVERY = 25

# Errors after which the executor process retries with a new transaction:
# PostgreSQL's concurrency errors, as in Odoo's own request retry loop.
RETRYABLE_ERRORS = (
    psycopg2.errors.SerializationFailure,
    psycopg2.errors.DeadlockDetected,
    psycopg2.errors.LockNotAvailable,
)


def open_registry(database, addons_path, db_host=None, db_port=None):
    options = [
        f"--database={database}",
        f"--addons-path={addons_path}",
        "--log-level=warn",
        "--max-cron-threads=0",
    ]
    if db_host:
        options.append(f"--db_host={db_host}")
    if db_port:
        options.append(f"--db_port={db_port}")
    odoo.tools.config.parse_config(options)
    return Registry(database)


class CountingHandler(logging.Handler):
    """Count the warnings and errors logged while it is attached."""

    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.count = 0

    def emit(self, record):
        self.count += 1


def audience_kind(position):
    if position % REFUSED_EVERY == 0:
        return "refused"
    if position % NEVER_ASKED_EVERY == 0:
        return "never_asked"
    return "granted"


def prepare(env, label, size):
    company = env["res.company"].create(
        {
            "name": f"Fault test {label}",
            "campaign_pressure_limit": 0,
            "campaign_hour_from": 0.0,
            "campaign_hour_to": 24.0,
            **{f"campaign_weekday_{day}": True for day in range(7)},
        }
    )
    tag = env["res.partner.category"].create({"name": f"Fault audience {label}"})
    partners = (
        env["res.partner"]
        .with_context(tracking_disable=True, mail_create_nolog=True)
        .create(
            [
                {
                    "name": f"Cliente {label} {position}",
                    "email": f"cliente.{label}.{position}@ejemplo.es",
                    "category_id": [(4, tag.id)],
                    "tz": "Europe/Madrid",
                }
                for position in range(size)
            ]
        )
    )
    by_kind = {"granted": [], "refused": [], "never_asked": []}
    for position, partner in enumerate(partners):
        by_kind[audience_kind(position)].append(partner.id)
    Partner = env["res.partner"]
    Partner.browse(by_kind["granted"]).consent_record("email", "granted")
    Partner.browse(by_kind["refused"]).consent_record("email", "refused")
    template = env["mail.template"].create(
        {
            "name": f"Fault template {label}",
            "model_id": env["ir.model"]._get("res.partner").id,
            "subject": "Hola {{ object.name }}",
            "body_html": "<p>Hola <t t-out='object.name'/>, "
            "<a href='https://ejemplo.es/oferta'>mira la oferta</a></p>",
            "email_from": "tienda@ejemplo.es",
        }
    )
    return {
        "company_id": company.id,
        "tag_id": tag.id,
        "template_id": template.id,
        "partner_ids": partners.ids,
        "refused_ids": by_kind["refused"] + by_kind["never_asked"],
    }


def launch(env, tag_id, template_id, company_id, name):
    campaign = env["crm.campaign"].create(
        {
            "name": name,
            "domain": repr([("category_id", "in", [tag_id])]),
            "company_id": company_id,
        }
    )
    env["crm.campaign.step"].create(
        {
            "campaign_id": campaign.id,
            "name": "Correo",
            "kind": "email",
            "trigger": "begin",
            "interval_number": 0,
            "interval_type": "hours",
            "mail_template_id": template_id,
        }
    )
    campaign.action_launch()
    return {"campaign_id": campaign.id}


def execute(registry, campaign_id, batch_size, idle_seconds=0.2):
    """Run the executor on ``campaign_id`` until none of its traces is due.

    A batch held by another process is skipped by ``SKIP LOCKED``; this
    process then waits and looks again until that batch is committed or
    rolled back.
    """
    executed = 0
    while True:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            print(f"backend {cr.connection.get_backend_pid()}", flush=True)
            Trace = env["crm.campaign.trace"]
            try:
                processed = Trace._execute_due(
                    campaign_ids=[campaign_id], batch_size=batch_size
                )
            except RETRYABLE_ERRORS as error:
                _logger.warning("Executor batch failed, retrying: %s", error)
                cr.rollback()
                continue
            executed += processed
            if not Trace._count_due([campaign_id]):
                return executed
        if not processed:
            time.sleep(idle_seconds)


def cron_status(registry, cron_xmlid, campaign_id=None, wait_seconds=60):
    """Return the traces of ``campaign_id`` still due (None without a
    campaign) and whether the cron job ``cron_xmlid`` is ready to run.

    While PostgreSQL restarts, it rejects connections for a moment. This
    check waits for the server, as a cron worker thread waits for its next
    wake-up after a failed run.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            with registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                due = None
                if campaign_id:
                    due = env["crm.campaign.trace"]._count_due([campaign_id])
                cron = env.ref(cron_xmlid)
                cr.execute(
                    "SELECT %s AND (nextcall <= now() AT TIME ZONE 'UTC'"
                    " OR EXISTS (SELECT 1 FROM ir_cron_trigger WHERE cron_id = %s"
                    " AND call_at <= now() AT TIME ZONE 'UTC'))"
                    " FROM ir_cron WHERE id = %s",
                    [cron.active, cron.id, cron.id],
                )
                [(ready,)] = cr.fetchall()
                return due, ready
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def run_cron(
    registry, database, cron_xmlid, campaign_id, pause_after_first, max_runs=200
):
    """Run the ready cron jobs until the work is done.

    Each run is what one wake-up of an Odoo cron worker thread does: it
    claims every ready job and runs it, and logs (rather than raises) a
    failure, such as a lost database connection. After each run the process
    prints one JSON line: the run number, the warnings and errors the cron
    logged, the traces of ``campaign_id`` still due and whether the job
    ``cron_xmlid`` is ready to run again. With a campaign it stops when no
    trace is due, and fails (exit code 3) when traces are due but the job is
    not ready. Without a campaign it stops when the job is no longer ready.
    """
    cron_class = registry["ir.cron"]
    logger = logging.getLogger("odoo.addons.base.models.ir_cron")
    for run in range(1, max_runs + 1):
        handler = CountingHandler()
        logger.addHandler(handler)
        try:
            cron_class._process_jobs(database)
        finally:
            logger.removeHandler(handler)
        due, ready = cron_status(registry, cron_xmlid, campaign_id)
        print(
            json.dumps(
                {"run": run, "cron_errors": handler.count, "due": due, "ready": ready}
            ),
            flush=True,
        )
        if campaign_id and not due:
            return 0
        if not ready:
            if not campaign_id:
                return 0
            _logger.error("Traces are due but the cron job %s is not ready", cron_xmlid)
            return 3
        if run == 1 and pause_after_first:
            sys.stdin.readline()
        else:
            time.sleep(0.2)
    return 3


def cleanup(env, company_id, tag_id, campaign_ids):
    """Stop the campaigns, cancel their queued e-mails and archive the rest.

    Nothing is deleted: the consent ledger of the partners is append-only,
    and deleting thousands of queued e-mails takes minutes of foreign-key
    checks.
    """
    campaigns = env["crm.campaign"].browse(campaign_ids).exists()
    mailings = campaigns.step_ids.mailing_id.with_context(active_test=False)
    env["mail.mail"].search([("mailing_id", "in", mailings.ids)]).state = "cancel"
    campaigns.filtered(lambda campaign: campaign.state == "running").action_stop()
    env["res.partner"].search([("category_id", "in", [tag_id])]).active = False
    env["res.company"].browse(company_id).active = False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "command", choices=["prepare", "launch", "execute", "cleanup", "cron"]
    )
    parser.add_argument("--database", required=True)
    parser.add_argument("--addons-path", required=True)
    parser.add_argument("--db-host")
    parser.add_argument("--db-port", type=int)
    parser.add_argument("--pause-after-first", action="store_true")
    parser.add_argument(
        "--cron-xmlid", default="crm_campaign_automation.ir_cron_campaign_execute"
    )
    parser.add_argument("--label", default="default")
    parser.add_argument("--partners", type=int, default=5000)
    parser.add_argument("--company-id", type=int)
    parser.add_argument("--tag-id", type=int)
    parser.add_argument("--template-id", type=int)
    parser.add_argument("--campaign-id", type=int, action="append", default=[])
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()

    registry = open_registry(
        args.database, args.addons_path, args.db_host, args.db_port
    )
    if args.command == "cron":
        campaign_id = args.campaign_id[0] if args.campaign_id else None
        return run_cron(
            registry,
            args.database,
            args.cron_xmlid,
            campaign_id,
            args.pause_after_first,
        )
    if args.command == "execute":
        [campaign_id] = args.campaign_id
        executed = execute(registry, campaign_id, args.batch_size)
        print(json.dumps({"executed": executed}), flush=True)
        return
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        if args.command == "prepare":
            result = prepare(env, args.label, args.partners)
        elif args.command == "launch":
            result = launch(
                env,
                args.tag_id,
                args.template_id,
                args.company_id,
                f"Fault campaign {args.label}",
            )
        else:
            cleanup(env, args.company_id, args.tag_id, args.campaign_id)
            result = {}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
