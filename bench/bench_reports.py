#!/usr/bin/env python3
"""Benchmark crm_campaign_reports' analysis against a hand-written GROUP BY.

In one run and on the same data, the script times a pivot of the campaign
analysis (``crm.campaign.report``) read the way the web client reads it,
``_read_group`` with the pivot's measures, against one hand-written
PostgreSQL statement that computes the same figures straight from the base
tables (traces, mailing traces, ledger, consent events, participants, tier
history) and groups them the same way. Both results are compared row by row.

Pivots timed:

* campaign x channel, every measure of the analysis (responses, last-touch
  and all-touch purchases and revenue, rates);
* month x channel for one campaign (a filtered pivot);
* the same campaign x channel pivot restricted to one segment's members
  (``crm.campaign.segment.report``) against its hand-written statement.

Data (all inserted with set-based SQL): ``--partners`` customers,
``--campaigns`` campaigns of ``--steps`` e-mail steps, each reaching
``--traces`` / (campaigns x steps) partners, so ``--traces`` traces in all
(95 % done, 5 % skipped), one ``mailing.trace`` per done trace with a spread
of statuses, ``--purchases`` ledger purchases, e-mail refusals from the
unsubscribe link for 1 % of the partners, tier changes for 10 % and
conversions for 2 % of the participants.

Steps:

1. Create a throwaway database and install crm_campaign_reports without
   demo data.
2. Insert the data, commit and vacuum.
3. Run each pivot once to warm the caches, then ``--repeat`` times each
   way, alternating; the median is reported with the ratio
   analysis / hand-written.
4. Print a Markdown table, then drop the database unless ``--keep``.

Run it from the repository root:

    python3 bench/bench_reports.py --traces 1000000

Connection settings come from the usual libpq variables (PGHOST, PGPORT,
PGUSER, PGPASSWORD), as for ``odoo`` itself.
"""

import argparse
import datetime
import os
import platform
import statistics
import subprocess
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

# Tables whose statistics the measured statements depend on.
VACUUM_TABLES = (
    "res_partner",
    "crm_campaign",
    "crm_campaign_step",
    "crm_campaign_participant",
    "crm_campaign_trace",
    "mailing_trace",
    "crm_customer_transaction",
    "crm_consent_event",
    "crm_value_tier_log",
    "crm_segment_partner_rel",
)
ROOT = Path(__file__).resolve().parent.parent
ADDONS_DIR = ROOT / "addons"

# Requirement: a pivot of the analysis within 2x of the hand-written GROUP BY.
TARGET_RATIO = 2.0

PARTNER_REF = "bench-reports"
# Traces are spread over the 300 days from this day, in UTC.
FIRST_DAY = datetime.datetime(2026, 1, 5, 9, 0)

PIVOT_MEASURES = [
    "sent:sum",
    "delivered:sum",
    "opened:sum",
    "clicked:sum",
    "replied:sum",
    "bounced:sum",
    "unsubscribed:sum",
    "skipped:sum",
    "converted:sum",
    "purchases:sum",
    "revenue:sum",
    "purchases_all_touch:sum",
    "revenue_all_touch:sum",
    "open_rate:avg",
    "click_rate:avg",
    "conversion_rate:avg",
]


def parse_args():
    parser = argparse.ArgumentParser(
        description="Time pivots of the campaign analysis against hand-written "
        "GROUP BY statements, in a throwaway database."
    )
    parser.add_argument(
        "--traces",
        type=int,
        default=1000000,
        help="generated campaign traces (default: 1000000)",
    )
    parser.add_argument(
        "--partners",
        type=int,
        default=100000,
        help="generated customers (default: 100000)",
    )
    parser.add_argument(
        "--campaigns", type=int, default=20, help="campaigns (default: 20)"
    )
    parser.add_argument(
        "--steps", type=int, default=5, help="e-mail steps per campaign (default: 5)"
    )
    parser.add_argument(
        "--purchases",
        type=int,
        default=200000,
        help="ledger purchases (default: 200000)",
    )
    parser.add_argument(
        "--database",
        default="rep_bench",
        help="name of the database to create; it must not exist yet "
        "(default: rep_bench)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="timed runs per measurement; the median is reported (default: 3)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the database after the run instead of dropping it",
    )
    args = parser.parse_args()
    per_step = args.traces // max(1, args.campaigns * args.steps)
    if min(args.partners, args.campaigns, args.steps, args.repeat) < 1:
        parser.error("--partners, --campaigns, --steps and --repeat must be >= 1")
    if per_step < 1 or per_step > args.partners:
        parser.error(
            "--traces / (--campaigns x --steps) must be between 1 and --partners"
        )
    return args


# ----------------------------------------------------------------------
# Database set-up
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
    return [
        (
            "Date (UTC)",
            datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        ),
        ("CPUs (os.cpu_count)", str(os.cpu_count())),
        ("CPU model", cpu_model),
        ("Load average (1 min) at start", f"{os.getloadavg()[0]:.1f}"),
        ("Python", platform.python_version()),
        ("Odoo", odoo.release.version),
        ("PostgreSQL", env.execute_query(SQL("SHOW server_version"))[0][0]),
    ]


# ----------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------


def insert_partners(env, count):
    env.cr.execute(
        SQL(
            """
            INSERT INTO res_partner (
                name, complete_name, ref, active, type, is_company, partner_share,
                lang, email, email_normalized, value_tier, autopost_bills,
                create_uid, create_date, write_uid, write_date
            )
            SELECT 'Cliente ' || n, 'Cliente ' || n, %(ref)s, TRUE, 'contact', FALSE,
                   TRUE, 'es_ES', 'cliente' || n || '@ejemplo.es',
                   'cliente' || n || '@ejemplo.es',
                   (ARRAY['one_to_one', 'database', 'mass'])[1 + mod(n, 3)], 'ask',
                   %(uid)s, NOW() AT TIME ZONE 'UTC', %(uid)s, NOW() AT TIME ZONE 'UTC'
              FROM generate_series(1, %(count)s) AS n
            """,
            ref=PARTNER_REF,
            count=count,
            uid=env.uid,
        )
    )
    env.cr.execute(
        SQL(
            "UPDATE res_partner SET commercial_partner_id = id"
            " WHERE ref = %s AND commercial_partner_id IS NULL",
            PARTNER_REF,
        )
    )


def create_campaigns(env, campaigns, steps):
    """Create the campaigns and steps through the ORM; return the step ids
    per campaign id."""
    template = env["mail.template"].create(
        {
            "name": "Bench",
            "model_id": env["ir.model"]._get_id("res.partner"),
            "subject": "Hola",
            "body_html": "<p>Hola</p>",
        }
    )
    step_ids = {}
    for number in range(campaigns):
        campaign = env["crm.campaign"].create(
            {
                "name": f"Bench campaign {number + 1}",
                # Windows of 7 to 35 days, so that attribution varies.
                "attribution_days": 7 + 7 * (number % 5),
            }
        )
        created = env["crm.campaign.step"].create(
            [
                {
                    "campaign_id": campaign.id,
                    "name": f"Step {position + 1}",
                    "kind": "email",
                    "trigger": "begin",
                    "interval_number": position * 3,
                    "interval_type": "days",
                    "mail_template_id": template.id,
                }
                for position in range(steps)
            ]
        )
        step_ids[campaign.id] = created.ids
    env.flush_all()
    return step_ids


def insert_traces(env, step_ids, per_step, partners):
    """Insert participants, traces and their mailing traces."""
    company = env.company.id
    for index, (campaign_id, steps) in enumerate(step_ids.items()):
        # Each campaign reaches a different slice of the partners and starts
        # on a different day.
        first_partner = index * 7919 % partners
        env.cr.execute(
            SQL(
                """
                INSERT INTO crm_campaign_participant (
                    campaign_id, partner_id, company_id, state, entry_date,
                    create_uid, create_date, write_uid, write_date
                )
                SELECT %(campaign)s, partner.id, %(company)s, 'running',
                       %(start)s + make_interval(days => %(offset)s + mod(partner.id, 14)),
                       %(uid)s, NOW() AT TIME ZONE 'UTC', %(uid)s, NOW() AT TIME ZONE 'UTC'
                  FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS number
                          FROM res_partner WHERE ref = %(ref)s) partner
                 WHERE mod(partner.number + %(first)s, %(partners)s) < %(per_step)s
                """,
                campaign=campaign_id,
                company=company,
                start=FIRST_DAY,
                offset=index * 13,
                uid=env.uid,
                ref=PARTNER_REF,
                first=first_partner,
                partners=partners,
                per_step=per_step,
            )
        )
        env.cr.execute(
            SQL(
                """
                INSERT INTO crm_campaign_trace (
                    participant_id, step_id, campaign_id, company_id, partner_id,
                    kind, state, skip_reason, scheduled_at, executed_at,
                    create_uid, create_date, write_uid, write_date
                )
                SELECT participant.id, step.id, participant.campaign_id, %(company)s,
                       participant.partner_id, 'email',
                       CASE WHEN mod(participant.id + step.id, 20) = 0
                            THEN 'skipped' ELSE 'done' END,
                       CASE WHEN mod(participant.id + step.id, 20) = 0
                            THEN 'consent' END,
                       participant.entry_date + make_interval(days => step.interval_number),
                       participant.entry_date + make_interval(days => step.interval_number),
                       %(uid)s, NOW() AT TIME ZONE 'UTC', %(uid)s, NOW() AT TIME ZONE 'UTC'
                  FROM crm_campaign_participant participant
                  JOIN crm_campaign_step step ON step.id = ANY(%(steps)s)
                 WHERE participant.campaign_id = %(campaign)s
                """,
                company=company,
                uid=env.uid,
                steps=steps,
                campaign=campaign_id,
            )
        )
    # One mailing.trace per done trace. Its res_id points at the trace for
    # the time of the UPDATE that links them.
    env.cr.execute(
        SQL(
            """
            INSERT INTO mailing_trace (
                trace_type, model, res_id, email, trace_status, sent_datetime,
                open_datetime, links_click_datetime, reply_datetime,
                create_uid, create_date, write_uid, write_date
            )
            SELECT 'mail', 'crm.campaign.trace', trace.id, 'bench@ejemplo.es',
                   CASE WHEN mod(trace.id, 50) = 0 THEN 'bounce'
                        WHEN mod(trace.id, 25) = 1 THEN 'reply'
                        WHEN mod(trace.id, 3) = 0 THEN 'open'
                        ELSE 'sent' END,
                   trace.executed_at,
                   CASE WHEN mod(trace.id, 3) = 0 OR mod(trace.id, 25) = 1
                        THEN trace.executed_at + interval '2 hours' END,
                   CASE WHEN mod(trace.id, 9) = 0
                        THEN trace.executed_at + interval '3 hours' END,
                   CASE WHEN mod(trace.id, 25) = 1
                        THEN trace.executed_at + interval '5 hours' END,
                   %(uid)s, NOW() AT TIME ZONE 'UTC', %(uid)s, NOW() AT TIME ZONE 'UTC'
              FROM crm_campaign_trace trace
             WHERE trace.state = 'done'
            """,
            uid=env.uid,
        )
    )
    env.cr.execute(
        SQL(
            """
            UPDATE crm_campaign_trace trace
               SET mailing_trace_id = mailing.id
              FROM mailing_trace mailing
             WHERE mailing.model = 'crm.campaign.trace'
               AND mailing.res_id = trace.id
            """
        )
    )
    # 2 % of the participants convert three days after entering.
    env.cr.execute(
        SQL(
            """
            UPDATE crm_campaign_participant
               SET state = 'converted',
                   conversion_date = entry_date + interval '3 days'
             WHERE mod(id, 50) = 0
            """
        )
    )


def insert_purchases(env, count, partners):
    env.cr.execute(
        SQL(
            """
            INSERT INTO crm_customer_transaction (
                partner_id, date, amount, kind, source_ref, company_id, currency_id,
                create_uid, create_date, write_uid, write_date
            )
            SELECT partner.id,
                   (%(start)s::date + mod(n * 7, 330))::date,
                   10 + mod(n * 13, 490),
                   'purchase', 'bench-' || n, %(company)s, %(currency)s,
                   %(uid)s, NOW() AT TIME ZONE 'UTC', %(uid)s, NOW() AT TIME ZONE 'UTC'
              FROM generate_series(1, %(count)s) AS n
              JOIN (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS number
                      FROM res_partner WHERE ref = %(ref)s) partner
                ON partner.number = 1 + mod(n * 31, %(partners)s)
            """,
            start=FIRST_DAY,
            company=env.company.id,
            currency=env.company.currency_id.id,
            uid=env.uid,
            count=count,
            ref=PARTNER_REF,
            partners=partners,
        )
    )


def insert_refusals_and_tiers(env):
    channel = env.ref("crm_consent.channel_email")
    purpose = env.ref("crm_consent.purpose_marketing")
    # 1 % of the partners unsubscribe, 1 % refuse by import (not counted).
    env.cr.execute(
        SQL(
            """
            INSERT INTO crm_consent_event (
                partner_id, channel_id, purpose_id, state, source, date,
                company_id, create_uid, create_date, write_uid, write_date
            )
            SELECT id, %(channel)s, %(purpose)s, 'refused',
                   CASE WHEN mod(id, 200) = 0 THEN 'unsubscribe' ELSE 'import' END,
                   %(start)s + make_interval(days => mod(id, 300)),
                   %(company)s,
                   %(uid)s, NOW() AT TIME ZONE 'UTC', %(uid)s, NOW() AT TIME ZONE 'UTC'
              FROM res_partner
             WHERE ref = %(ref)s AND mod(id, 100) IN (0, 1)
            """,
            channel=channel.id,
            purpose=purpose.id,
            start=FIRST_DAY,
            company=env.company.id,
            uid=env.uid,
            ref=PARTNER_REF,
        )
    )
    env.cr.execute(
        SQL(
            """
            INSERT INTO crm_value_tier_log (partner_id, company_id, previous_tier, tier, date)
            SELECT id, %(company)s, 'mass', value_tier,
                   %(start)s + make_interval(days => mod(id, 300))
              FROM res_partner
             WHERE ref = %(ref)s AND mod(id, 10) = 0
            """,
            company=env.company.id,
            start=FIRST_DAY,
            ref=PARTNER_REF,
        )
    )


def create_segment(env):
    """Create a segment of every fourth bench partner; return it."""
    segment = env["crm.segment"].create(
        {"name": "Bench: every fourth customer", "auto_refresh": False}
    )
    env.cr.execute(
        SQL(
            """
            INSERT INTO crm_segment_partner_rel (segment_id, partner_id)
            SELECT %s, id FROM res_partner WHERE ref = %s AND mod(id, 4) = 0
            """,
            segment.id,
            PARTNER_REF,
        )
    )
    return segment


# ----------------------------------------------------------------------
# Hand-written statements
# ----------------------------------------------------------------------

# The figures of one trace, written straight from the base tables: the same
# rules as the addon's docstring states, in independent SQL.
HAND_WRITTEN_TRACES = """
    WITH reached AS (
        SELECT trace.id, trace.partner_id, trace.campaign_id, trace.company_id,
               trace.executed_at, step.channel_id, campaign.attribution_days
          FROM crm_campaign_trace trace
          JOIN crm_campaign_step step ON step.id = trace.step_id
          JOIN crm_campaign campaign ON campaign.id = trace.campaign_id
     LEFT JOIN mailing_trace mailing ON mailing.id = trace.mailing_trace_id
         WHERE trace.state = 'done'
           AND trace.kind IN ('email', 'sms', 'call', 'postal', 'web')
           AND COALESCE(mailing.trace_status, 'sent') NOT IN ('bounce', 'error', 'cancel')
    ),
    purchase_touch AS (
        SELECT ledger.id AS ledger_id, ledger.amount, reached.id AS trace_id,
               reached.campaign_id,
               ROW_NUMBER() OVER (
                   PARTITION BY ledger.id
                   ORDER BY reached.executed_at DESC, reached.id DESC
               ) AS last_rank,
               ROW_NUMBER() OVER (
                   PARTITION BY ledger.id, reached.campaign_id
                   ORDER BY reached.executed_at DESC, reached.id DESC
               ) AS campaign_rank
          FROM crm_customer_transaction ledger
          JOIN res_partner buyer ON buyer.commercial_partner_id = ledger.partner_id
          JOIN reached
            ON reached.partner_id = buyer.id
           AND reached.company_id = ledger.company_id
           AND reached.executed_at::date <= ledger.date
           AND ledger.date <= reached.executed_at::date + reached.attribution_days
         WHERE ledger.kind = 'purchase'
    ),
    credit AS (
        SELECT trace_id,
               COUNT(*) FILTER (WHERE last_rank = 1) AS purchases,
               SUM(amount) FILTER (WHERE last_rank = 1) AS revenue,
               COUNT(*) FILTER (WHERE campaign_rank = 1) AS purchases_all_touch,
               SUM(amount) FILTER (WHERE campaign_rank = 1) AS revenue_all_touch
          FROM purchase_touch
         WHERE last_rank = 1 OR campaign_rank = 1
      GROUP BY trace_id
    ),
    unsubscribe AS (
        SELECT DISTINCT trace_id
          FROM (
              SELECT reached.id AS trace_id,
                     ROW_NUMBER() OVER (
                         PARTITION BY event.id
                         ORDER BY reached.executed_at DESC, reached.id DESC
                     ) AS rank
                FROM crm_consent_event event
                JOIN reached
                  ON reached.partner_id = event.partner_id
                 AND reached.channel_id = event.channel_id
                 AND reached.executed_at <= event.date
                 AND event.date <= reached.executed_at
                     + make_interval(days => reached.attribution_days)
               WHERE event.state = 'refused'
                 AND event.source IN ('unsubscribe', 'preference_centre', 'blacklist',
                                      'form', 'api')
          ) ranked
         WHERE rank = 1
    ),
    conversion AS (
        SELECT trace_id
          FROM (
              SELECT trace.id AS trace_id,
                     ROW_NUMBER() OVER (
                         PARTITION BY participant.id
                         ORDER BY trace.executed_at DESC, trace.id DESC
                     ) AS rank
                FROM crm_campaign_participant participant
                JOIN crm_campaign_trace trace
                  ON trace.participant_id = participant.id
                 AND trace.state = 'done'
                 AND trace.executed_at <= participant.conversion_date
               WHERE participant.state = 'converted'
          ) ranked
         WHERE rank = 1
    )
    SELECT trace.campaign_id, trace.kind, trace.partner_id,
           COALESCE(trace.executed_at, trace.scheduled_at) AS moment,
           trace.state,
           mailing.trace_status, mailing.open_datetime, mailing.links_click_datetime,
           mailing.reply_datetime,
           unsubscribe.trace_id IS NOT NULL AS unsubscribed,
           conversion.trace_id IS NOT NULL AS converted,
           credit.purchases, credit.revenue,
           credit.purchases_all_touch, credit.revenue_all_touch
      FROM crm_campaign_trace trace
 LEFT JOIN mailing_trace mailing ON mailing.id = trace.mailing_trace_id
 LEFT JOIN credit ON credit.trace_id = trace.id
 LEFT JOIN unsubscribe ON unsubscribe.trace_id = trace.id
 LEFT JOIN conversion ON conversion.trace_id = trace.id
     WHERE trace.state IN ('done', 'skipped', 'error')
       AND trace.company_id = %(company)s
       {trace_filter}
"""

HAND_WRITTEN_GROUP_BY = """
    SELECT {group_columns},
           COUNT(*) FILTER (WHERE state = 'done') AS sent,
           COUNT(*) FILTER (WHERE state = 'done'
                            AND (trace_status IN ('sent', 'open', 'reply')
                                 OR kind IN ('call', 'postal'))) AS delivered,
           COUNT(*) FILTER (WHERE open_datetime IS NOT NULL
                            OR trace_status IN ('open', 'reply')) AS opened,
           COUNT(*) FILTER (WHERE links_click_datetime IS NOT NULL) AS clicked,
           COUNT(*) FILTER (WHERE reply_datetime IS NOT NULL
                            OR trace_status = 'reply') AS replied,
           COUNT(*) FILTER (WHERE trace_status = 'bounce') AS bounced,
           COUNT(*) FILTER (WHERE unsubscribed) AS unsubscribed,
           COUNT(*) FILTER (WHERE state = 'skipped') AS skipped,
           COUNT(*) FILTER (WHERE converted) AS converted,
           COALESCE(SUM(purchases), 0) AS purchases,
           COALESCE(SUM(revenue), 0) AS revenue,
           COALESCE(SUM(purchases_all_touch), 0) AS purchases_all_touch,
           COALESCE(SUM(revenue_all_touch), 0) AS revenue_all_touch
      FROM ({traces}) traces
  GROUP BY {group_columns}
  ORDER BY {group_columns}
"""


def hand_written(env, group_columns, trace_filter="", **params):
    """Run the hand-written GROUP BY; return its rows as tuples of the group
    keys and the integer measures."""
    traces = HAND_WRITTEN_TRACES.format(trace_filter=trace_filter)
    query = HAND_WRITTEN_GROUP_BY.format(group_columns=group_columns, traces=traces)
    env.cr.execute(query, {"company": env.company.id, **params})
    return env.cr.fetchall()


def pivot(env, model, domain, groupby):
    """Read a pivot the way the web client does: flush, then _read_group."""
    env.invalidate_all()
    return env[model]._read_group(domain, groupby, PIVOT_MEASURES)


def comparable_pivot(rows, keys):
    """Return pivot rows as tuples of the group keys (ids and values) and the
    sums that the hand-written statement also returns."""
    result = []
    for row in rows:
        group = [value.id if hasattr(value, "_name") else value for value in row[:keys]]
        measures = list(row[keys : keys + 13])
        result.append(
            tuple(group)
            + tuple(
                round(float(value or 0), 2) if isinstance(value, float) else value
                for value in measures
            )
        )
    return sorted(result, key=repr)


def comparable_sql(rows, keys):
    return sorted(
        (
            tuple(row[:keys])
            + tuple(
                round(float(value), 2) if not isinstance(value, int) else value
                for value in row[keys:]
            )
            for row in rows
        ),
        key=repr,
    )


# ----------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------


def time_pair(env, run_analysis, run_hand_written, repeat):
    """Warm both, then time them alternately; return the medians and the
    results of the last runs."""
    run_analysis()
    run_hand_written()
    analysis_seconds, hand_seconds = [], []
    for _run in range(repeat):
        started = time.perf_counter()
        analysis_rows = run_analysis()
        analysis_seconds.append(time.perf_counter() - started)
        started = time.perf_counter()
        hand_rows = run_hand_written()
        hand_seconds.append(time.perf_counter() - started)
    return (
        statistics.median(analysis_seconds),
        statistics.median(hand_seconds),
        analysis_rows,
        hand_rows,
    )


def main():
    args = parse_args()
    odoo.tools.config.parse_config(["--addons-path", str(ADDONS_DIR)])
    if database_exists(args.database):
        fail(f"database {args.database} exists; drop it or pass another --database.")
    subprocess.run(["createdb", args.database], check=True)
    try:
        install_addon(args.database, "crm_campaign_reports")
        registry = odoo.modules.registry.Registry(args.database)
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            run(env, args)
    finally:
        if not args.keep:
            drop_database(args.database)


def run(env, args):
    machine = describe_machine(env)
    started = time.perf_counter()
    per_step = args.traces // (args.campaigns * args.steps)
    insert_partners(env, args.partners)
    step_ids = create_campaigns(env, args.campaigns, args.steps)
    insert_traces(env, step_ids, per_step, args.partners)
    insert_purchases(env, args.purchases, args.partners)
    insert_refusals_and_tiers(env)
    segment = create_segment(env)
    env.cr.commit()
    vacuum(args.database, VACUUM_TABLES)
    [(traces, purchases)] = env.execute_query(
        SQL(
            "SELECT (SELECT COUNT(*) FROM crm_campaign_trace),"
            " (SELECT COUNT(*) FROM crm_customer_transaction)"
        )
    )
    print(
        f"Data: {traces} traces, {purchases} purchases, loaded in "
        f"{time.perf_counter() - started:.1f}s",
        flush=True,
    )
    first_campaign = next(iter(step_ids))

    cases = [
        (
            "campaign x channel",
            lambda: pivot(env, "crm.campaign.report", [], ["campaign_id", "kind"]),
            lambda: hand_written(env, "campaign_id, kind"),
            2,
        ),
        (
            "month x channel, one campaign",
            lambda: pivot(
                env,
                "crm.campaign.report",
                [("campaign_id", "=", first_campaign)],
                ["date:month", "kind"],
            ),
            lambda: hand_written(
                env,
                "date_trunc('month', moment)::date, kind",
                "AND trace.campaign_id = %(campaign)s",
                campaign=first_campaign,
            ),
            2,
        ),
        (
            "campaign x channel, one segment",
            lambda: pivot(
                env,
                "crm.campaign.segment.report",
                [("segment_id", "=", segment.id)],
                ["campaign_id", "kind"],
            ),
            lambda: hand_written(
                env,
                "campaign_id, kind",
                "AND trace.partner_id IN (SELECT partner_id FROM crm_segment_partner_rel"
                " WHERE segment_id = %(segment)s)",
                segment=segment.id,
            ),
            2,
        ),
    ]
    results = []
    for label, run_analysis, run_hand_written, keys in cases:
        print(f"Pivot: {label}", flush=True)
        analysis, hand, analysis_rows, hand_rows = time_pair(
            env, run_analysis, run_hand_written, args.repeat
        )
        pivot_rows = comparable_pivot(analysis_rows, keys)
        same = pivot_rows == comparable_sql(hand_rows, keys)
        results.append((label, len(analysis_rows), analysis, hand, same))
        env.cr.rollback()

    report(machine, args, traces, purchases, results)


def report(machine, args, traces, purchases, results):
    print()
    for name, value in machine:
        print(f"- {name}: {value}")
    print(
        f"- Data: {traces} traces ({args.campaigns} campaigns x {args.steps} "
        f"e-mail steps), {args.partners} partners, {purchases} purchases"
    )
    print(f"- Runs per measurement: {args.repeat} (median)")
    print()
    print(
        "| Pivot | Groups | Analysis (_read_group) | Hand-written GROUP BY "
        "| Ratio | Same figures |"
    )
    print("|---|---|---|---|---|---|")
    failed = False
    for label, groups, analysis, hand, same in results:
        ratio = analysis / hand if hand else float("inf")
        failed |= ratio >= TARGET_RATIO or not same
        print(
            f"| {label} | {groups} | {analysis:.2f} s | {hand:.2f} s | {ratio:.2f}x "
            f"| {'yes' if same else 'NO'} |"
        )
    print()
    verdict = "not met" if failed else "met"
    print(
        f"Target: analysis within {TARGET_RATIO:.1f}x of the hand-written SQL: {verdict}"
    )


if __name__ == "__main__":
    main()
