#!/usr/bin/env python3
"""Benchmark crm_segments' profile, RFM and segment refresh against raw SQL.

In one run and on the same data, the script times three ways of computing
the stored profile fields of every customer (first and last purchase,
purchases, revenue, average order value, lifetime value, RFM scores and
segment, value tier):

* the addon: ``res.partner._profile_refresh_all()``, batched set-based SQL;
* one hand-written PostgreSQL statement computing and writing the same
  numbers;
* the approach of plain Odoo code: ``_read_group`` aggregates, quintiles in
  Python, ``write`` through the ORM. Its writes are timed on a sample
  (``--orm-sample``) and extrapolated, because writing every partner through
  the ORM takes far longer than the rest of the run.

It then times the refresh of one segment four ways: the addon's
``action_refresh()``; one hand-written ``INSERT ... SELECT`` of the members,
which writes nothing else; one hand-written statement making the same writes
as the addon (membership difference, one log row per partner who entered or
left, the segment's count and date, the history row); and ``search()``
followed by ``write({'partner_ids': ...})``. The segment rows show the
ratio to both hand-written statements.

Data: generated partners and transactions (``--partners``,
``--transactions``), plus the CDNOW data set shipped in the ``lifetimes``
package (23,570 customers, 69,659 purchases of 1997-1998) in a company of its
own. Only the data file of ``lifetimes`` is read: from the installed package,
or from its wheel, which ``tools/cdnow_data.py`` downloads with pip.

Steps:

1. Create a throwaway database and install crm_segments without demo data.
2. Insert the generated data and CDNOW with set-based SQL, and commit.
3. For each method, run the profile refresh in a transaction that is rolled
   back, vacuum, and repeat; the median is reported. The addon's result is
   compared with the hand-written statement's by a checksum.
4. Commit the addon's profiles, then time the segment refresh the same way.
5. Print a Markdown table of the figures, then drop the database unless
   ``--keep`` is given.

Run it from the repository root:

    python3 bench/bench_segments.py --partners 100000 --transactions 1000000

Connection settings come from the usual libpq variables (PGHOST, PGPORT,
PGUSER, PGPASSWORD), as for ``odoo`` itself.
"""

import argparse
import bisect
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections import defaultdict
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
    "crm_customer_transaction",
    "crm_segment_partner_rel",
    "crm_segment_member_log",
    "crm_value_tier_log",
)
ROOT = Path(__file__).resolve().parent.parent
ADDONS_DIR = ROOT / "addons"
sys.path.insert(0, str(ROOT / "tools"))
import cdnow_data  # noqa: E402

# Requirement: the addon within 1.5x of the hand-written SQL.
TARGET_RATIO = 1.5

PARTNER_REF = "bench-segments"
CDNOW_REF = "bench-cdnow"
# CDNOW purchases are from 1997-1998: a window of 40 years keeps them active.
CDNOW_WINDOW_DAYS = 40 * 366

SEGMENT_DOMAIN = [
    ("rfm_segment", "in", ["champions", "loyal", "potential_loyalists"]),
    ("customer_lifetime_value", ">", 100),
]


def parse_args():
    parser = argparse.ArgumentParser(
        description="Time the profile, RFM and segment refresh of crm_segments "
        "against hand-written SQL and against _read_group, in a throwaway database."
    )
    parser.add_argument(
        "--partners",
        type=int,
        default=100000,
        help="generated customers (default: 100000)",
    )
    parser.add_argument(
        "--transactions",
        type=int,
        default=1000000,
        help="generated ledger rows (default: 1000000)",
    )
    parser.add_argument(
        "--no-cdnow",
        action="store_true",
        help="leave out the CDNOW data set of the lifetimes package",
    )
    parser.add_argument(
        "--database",
        default="seg_bench",
        help="name of the database to create; it must not exist yet "
        "(default: seg_bench)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="timed runs per measurement; the median is reported (default: 3)",
    )
    parser.add_argument(
        "--segment-repeat",
        type=int,
        help="timed runs per segment refresh measurement, which take seconds "
        "where a profile refresh takes minutes (default: --repeat)",
    )
    parser.add_argument(
        "--orm-sample",
        type=int,
        default=2000,
        help="partners written through the ORM by the _read_group method; its "
        "write time is extrapolated to all customers (default: 2000)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the database after the run instead of dropping it",
    )
    args = parser.parse_args()
    if args.segment_repeat is None:
        args.segment_repeat = args.repeat
    if (
        args.partners < 1
        or args.transactions < 1
        or args.repeat < 1
        or args.segment_repeat < 1
    ):
        parser.error(
            "--partners, --transactions, --repeat and --segment-repeat must be "
            "at least 1"
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
        ("Python", platform.python_version()),
        ("Odoo", odoo.release.version),
        ("PostgreSQL", env.execute_query(SQL("SHOW server_version"))[0][0]),
    ]


# ----------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------


def insert_partners(env, count, ref, company_id, first_number=1):
    env.cr.execute(
        SQL(
            """
            INSERT INTO res_partner (
                name, complete_name, ref, active, type, is_company,
                partner_share, lang, company_id, country_id, autopost_bills,
                create_uid, create_date, write_uid, write_date
            )
            SELECT 'Cliente ' || n, 'Cliente ' || n, %(ref)s, TRUE, 'contact', FALSE,
                   TRUE, 'en_US', %(company)s,
                   (ARRAY[%(spain)s, %(mexico)s, %(colombia)s])[1 + mod(n, 3)], 'ask',
                   %(uid)s, NOW() AT TIME ZONE 'UTC', %(uid)s, NOW() AT TIME ZONE 'UTC'
              FROM generate_series(%(first)s, %(last)s) AS n
            """,
            ref=ref,
            company=company_id,
            spain=env.ref("base.es").id,
            mexico=env.ref("base.mx").id,
            colombia=env.ref("base.co").id,
            uid=env.uid,
            first=first_number,
            last=first_number + count - 1,
        )
    )
    env.cr.execute(
        SQL(
            "UPDATE res_partner SET commercial_partner_id = id"
            " WHERE ref = %s AND commercial_partner_id IS NULL",
            ref,
        )
    )


def insert_generated(env, partners, transactions):
    """Insert customers and a skewed ledger: some customers buy far more often."""
    company = env.company
    insert_partners(env, partners, PARTNER_REF, company.id)
    env.cr.execute(SQL("SELECT setseed(0.42)"))
    env.cr.execute(
        SQL(
            """
            WITH customers AS (
                SELECT array_agg(id ORDER BY id) AS ids
                  FROM res_partner WHERE ref = %(ref)s
            ),
            draws AS (
                SELECT n, random() AS pick, random() AS day, random() AS size,
                       random() AS refund
                  FROM generate_series(1, %(count)s) AS n
            )
            INSERT INTO crm_customer_transaction (
                partner_id, date, amount, kind, source_ref, company_id, currency_id,
                create_uid, create_date, write_uid, write_date
            )
            SELECT customers.ids[1 + floor(power(draws.pick, 2) * %(partners)s)::int],
                   CURRENT_DATE - floor(draws.day * 730)::int,
                   CASE WHEN draws.refund < 0.05 THEN -round((5 + draws.size * 60)::numeric, 2)
                        ELSE round((5 + draws.size * 250)::numeric, 2) END,
                   CASE WHEN draws.refund < 0.05 THEN 'refund' ELSE 'purchase' END,
                   'bench/' || draws.n, %(company)s, %(currency)s,
                   %(uid)s, NOW() AT TIME ZONE 'UTC', %(uid)s, NOW() AT TIME ZONE 'UTC'
              FROM draws, customers
            """,
            ref=PARTNER_REF,
            count=transactions,
            partners=partners,
            company=company.id,
            currency=company.currency_id.id,
            uid=env.uid,
        )
    )


def insert_cdnow(env, path):
    """Load CDNOW_master.txt (customer id, yyyymmdd, CDs, dollars) into a company
    of its own. Returns the number of customers and purchases.
    """
    customers, dates, amounts = [], [], []
    with open(path, encoding="utf-8") as data:
        next(data)
        for line in data:
            customer, day, _cds, dollars = line.split()
            customers.append(int(customer))
            dates.append(datetime.datetime.strptime(day, "%Y%m%d").date())
            amounts.append(float(dollars))
    usd = env.ref("base.USD")
    usd.active = True
    company = env["res.company"].create(
        {"name": "CDNOW", "currency_id": usd.id, "rfm_window_days": CDNOW_WINDOW_DAYS}
    )
    count = max(customers)
    insert_partners(env, count, CDNOW_REF, company.id)
    env.cr.execute(
        SQL(
            """
            WITH customers AS (
                SELECT array_agg(id ORDER BY id) AS ids
                  FROM res_partner WHERE ref = %(ref)s
            )
            INSERT INTO crm_customer_transaction (
                partner_id, date, amount, kind, source_ref, company_id, currency_id,
                create_uid, create_date, write_uid, write_date
            )
            SELECT customers.ids[row.customer], row.date, row.amount, 'purchase',
                   'cdnow/' || row.n, %(company)s, %(currency)s,
                   %(uid)s, NOW() AT TIME ZONE 'UTC', %(uid)s, NOW() AT TIME ZONE 'UTC'
              FROM customers,
                   unnest(%(customers)s::int[], %(dates)s::date[], %(amounts)s::numeric[])
                       WITH ORDINALITY AS row(customer, date, amount, n)
            """,
            ref=CDNOW_REF,
            customers=customers,
            dates=dates,
            amounts=amounts,
            company=company.id,
            currency=usd.id,
            uid=env.uid,
        )
    )
    return len(set(customers)), len(customers)


# ----------------------------------------------------------------------
# Profile refresh, three ways
# ----------------------------------------------------------------------

# Money is compared to the cent: the ORM rounds to the currency, SQL does not.
PROFILE_COLUMNS = (
    "first_purchase_date, last_purchase_date, purchase_count, "
    "round(revenue_total, 2), round(average_order_value, 2), "
    "round(customer_lifetime_value, 2), profile_company_id, "
    "rfm_recency, rfm_frequency, rfm_monetary, rfm_segment, value_tier"
)


def profile_checksum(env):
    env.flush_all()
    return env.execute_query(
        SQL(
            "SELECT md5(string_agg(row(id, %s)::text, ',' ORDER BY id)) FROM res_partner",
            SQL(PROFILE_COLUMNS),
        )
    )[0][0]


def refresh_with_addon(env):
    env["res.partner"]._profile_refresh_all()


def refresh_with_sql(env):
    """Compute and write the same profile fields as the addon in one statement."""
    env.cr.execute(
        SQL(
            """
            WITH ledger AS (
                SELECT tx.partner_id,
                       MIN(tx.date) FILTER (WHERE tx.kind = 'purchase') AS first_date,
                       MAX(tx.date) FILTER (WHERE tx.kind = 'purchase') AS last_date,
                       COUNT(*) FILTER (WHERE tx.kind = 'purchase') AS purchases,
                       SUM(tx.amount) FILTER (WHERE tx.kind = 'purchase') AS revenue,
                       SUM(tx.amount) FILTER (WHERE tx.kind IN ('purchase', 'refund'))
                           AS net,
                       (ARRAY_AGG(tx.company_id ORDER BY tx.date DESC, tx.id DESC)
                           FILTER (WHERE tx.kind = 'purchase'))[1] AS company_id
                  FROM crm_customer_transaction tx
                 GROUP BY tx.partner_id
            ),
            active AS (
                SELECT tx.partner_id, tx.company_id,
                       MAX(tx.date) FILTER (WHERE tx.kind = 'purchase') AS last_date,
                       COUNT(*) FILTER (WHERE tx.kind = 'purchase') AS frequency,
                       COALESCE(SUM(tx.amount) FILTER (
                           WHERE tx.kind IN ('purchase', 'refund')), 0) AS monetary
                  FROM crm_customer_transaction tx
                  JOIN ledger ON ledger.partner_id = tx.partner_id
                             AND ledger.company_id = tx.company_id
                  JOIN res_company company ON company.id = tx.company_id
                 WHERE tx.date BETWEEN %(today)s::date
                                       - GREATEST(COALESCE(company.rfm_window_days, 365), 1)
                                       + 1
                                   AND %(today)s
                 GROUP BY tx.partner_id, tx.company_id
                HAVING COUNT(*) FILTER (WHERE tx.kind = 'purchase') > 0
            ),
            scored AS (
                SELECT partner_id,
                       LEAST(5, 1 + FLOOR(5 * percent_rank() OVER (
                           PARTITION BY company_id ORDER BY last_date)))::int AS r,
                       LEAST(5, 1 + FLOOR(5 * percent_rank() OVER (
                           PARTITION BY company_id ORDER BY frequency)))::int AS f,
                       LEAST(5, 1 + FLOOR(5 * percent_rank() OVER (
                           PARTITION BY company_id ORDER BY monetary)))::int AS m
                  FROM active
            ),
            profile AS (
                SELECT ledger.*, scored.r, scored.f, scored.m,
                       CASE WHEN scored.partner_id IS NULL THEN
                                CASE WHEN ledger.purchases > 0 THEN 'lost' END
                            ELSE (SELECT rule.code FROM crm_rfm_segment rule
                                   WHERE rule.active
                                     AND scored.r BETWEEN rule.recency_min AND rule.recency_max
                                     AND scored.f BETWEEN rule.frequency_min
                                                      AND rule.frequency_max
                                     AND scored.m BETWEEN rule.monetary_min
                                                      AND rule.monetary_max
                                   ORDER BY rule.sequence, rule.id LIMIT 1)
                       END AS segment,
                       cume_dist() OVER (
                           PARTITION BY ledger.company_id
                           ORDER BY COALESCE(ledger.net, 0) DESC) * 100 AS share
                  FROM ledger
                  LEFT JOIN scored ON scored.partner_id = ledger.partner_id
            )
            UPDATE res_partner partner
               SET first_purchase_date = profile.first_date,
                   last_purchase_date = profile.last_date,
                   purchase_count = profile.purchases,
                   revenue_total = profile.revenue,
                   average_order_value = profile.revenue / NULLIF(profile.purchases, 0),
                   customer_lifetime_value = profile.net,
                   profile_company_id = profile.company_id,
                   rfm_recency = profile.r,
                   rfm_frequency = profile.f,
                   rfm_monetary = profile.m,
                   rfm_segment = profile.segment,
                   value_tier = CASE
                       WHEN profile.purchases = 0 OR profile.company_id IS NULL THEN NULL
                       WHEN profile.share <= company.tier_one_to_one_percent
                           THEN 'one_to_one'
                       WHEN profile.share <= company.tier_database_percent
                           THEN 'database'
                       ELSE 'mass' END,
                   profile_outdated = FALSE,
                   profile_date = NOW() AT TIME ZONE 'UTC'
              FROM profile
              LEFT JOIN res_company company ON company.id = profile.company_id
             WHERE partner.id = profile.partner_id
            """,
            today=odoo.fields.Date.context_today(env["res.partner"]),
        )
    )
    env["res.partner"].invalidate_model()


def percent_rank_scores(values):
    """Return 1 + floor(5 * percent_rank), capped at 5, for each value."""
    ordered = sorted(values)
    count = len(ordered)
    scores = []
    for value in values:
        rank = bisect.bisect_left(ordered, value)
        share = rank / (count - 1) if count > 1 else 0.0
        scores.append(min(5, 1 + int(5 * share)))
    return scores


def refresh_with_read_group(env, write_sample=None):
    """Compute the profiles the way plain Odoo code would: grouped reads,
    ranking in Python and ORM writes.

    With ``write_sample``, only that many partners are written, and the
    function returns the seconds spent computing and the seconds spent
    writing, so that the caller can extrapolate the writes.
    """
    started = time.perf_counter()
    transactions = env["crm.customer.transaction"]
    today = odoo.fields.Date.context_today(env["res.partner"])

    purchases = transactions._read_group(
        [("kind", "=", "purchase")],
        ["partner_id"],
        ["date:min", "date:max", "__count", "amount:sum"],
    )
    net = dict(
        transactions._read_group(
            [("kind", "in", ("purchase", "refund"))], ["partner_id"], ["amount:sum"]
        )
    )
    # Company of the latest purchase: groups come in ascending order of their
    # latest date, so the last one seen per partner wins.
    latest_company = {}
    for partner, company, _latest in transactions._read_group(
        [("kind", "=", "purchase")],
        ["partner_id", "company_id"],
        ["date:max"],
        order="date:max",
    ):
        latest_company[partner] = company

    rules = env["crm.rfm.segment"].search([])
    scores = {}
    for company in env["res.company"].search([]):
        since = today - datetime.timedelta(
            days=max(company.rfm_window_days or 365, 1) - 1
        )
        window = [
            ("company_id", "=", company.id),
            ("date", ">=", since),
            ("date", "<=", today),
        ]
        bought = {
            partner: (last_date, count)
            for partner, last_date, count in transactions._read_group(
                window + [("kind", "=", "purchase")],
                ["partner_id"],
                ["date:max", "__count"],
            )
            if latest_company.get(partner) == company
        }
        spent = dict(
            transactions._read_group(
                window + [("kind", "in", ("purchase", "refund"))],
                ["partner_id"],
                ["amount:sum"],
            )
        )
        ordered = list(bought)
        recency = percent_rank_scores([bought[p][0] for p in ordered])
        frequency = percent_rank_scores([bought[p][1] for p in ordered])
        monetary = percent_rank_scores([spent.get(p) or 0.0 for p in ordered])
        for index, partner in enumerate(ordered):
            r, f, m = recency[index], frequency[index], monetary[index]
            label = next(
                (
                    rule.code
                    for rule in rules
                    if rule.recency_min <= r <= rule.recency_max
                    and rule.frequency_min <= f <= rule.frequency_max
                    and rule.monetary_min <= m <= rule.monetary_max
                ),
                False,
            )
            scores[partner] = (r, f, m, label)

    lifetime_values = defaultdict(list)
    for partner, *_aggregates in purchases:
        lifetime_values[latest_company[partner]].append(net.get(partner) or 0.0)
    for values in lifetime_values.values():
        values.sort()

    computed = time.perf_counter()
    if write_sample is not None:
        purchases = purchases[:write_sample]
    for partner, first_date, last_date, count, revenue in purchases:
        company = latest_company[partner]
        lifetime = net.get(partner) or 0.0
        r, f, m, label = scores.get(partner, (False, False, False, "lost"))
        # cume_dist over lifetime value, highest first: the share of customers
        # worth at least as much, ties included.
        ranked = lifetime_values[company]
        share = (
            100.0 * (len(ranked) - bisect.bisect_left(ranked, lifetime)) / len(ranked)
        )
        if share <= company.tier_one_to_one_percent:
            tier = "one_to_one"
        elif share <= company.tier_database_percent:
            tier = "database"
        else:
            tier = "mass"
        partner.write(
            {
                "first_purchase_date": first_date,
                "last_purchase_date": last_date,
                "purchase_count": count,
                "revenue_total": revenue,
                "average_order_value": revenue / count,
                "customer_lifetime_value": lifetime,
                "profile_company_id": company.id,
                "rfm_recency": r,
                "rfm_frequency": f,
                "rfm_monetary": m,
                "rfm_segment": label,
                "value_tier": tier,
                "profile_outdated": False,
            }
        )
    env["res.partner"].flush_model()
    return computed - started, time.perf_counter() - computed


# ----------------------------------------------------------------------
# Segment refresh, three ways
# ----------------------------------------------------------------------


def segment_with_addon(env, segment):
    segment.action_refresh()


def segment_with_sql(env, segment):
    env.cr.execute(
        SQL(
            """
            INSERT INTO crm_segment_partner_rel (segment_id, partner_id)
            SELECT %(segment)s, partner.id
              FROM res_partner partner
             WHERE partner.active
               AND partner.rfm_segment IN ('champions', 'loyal', 'potential_loyalists')
               AND partner.customer_lifetime_value > 100
               AND (partner.company_id IS NULL OR partner.company_id = %(company)s)
            """,
            segment=segment.id,
            company=segment.company_id.id,
        )
    )


def segment_with_sql_and_log(env, segment):
    """Write what a refresh must write, by hand: the membership difference,
    one log row per partner who entered or left, the segment's count and
    date, and the history row."""
    env.cr.execute(
        SQL(
            """
            WITH target AS (
                SELECT partner.id
                  FROM res_partner partner
                 WHERE partner.active
                   AND partner.rfm_segment IN ('champions', 'loyal', 'potential_loyalists')
                   AND partner.customer_lifetime_value > 100
                   AND (partner.company_id IS NULL OR partner.company_id = %(company)s)
            ),
            entered AS (
                INSERT INTO crm_segment_partner_rel (segment_id, partner_id)
                SELECT %(segment)s, id FROM target
                ON CONFLICT DO NOTHING
                RETURNING partner_id
            ),
            left_ AS (
                DELETE FROM crm_segment_partner_rel rel
                 WHERE rel.segment_id = %(segment)s
                   AND rel.partner_id NOT IN (SELECT id FROM target)
                RETURNING partner_id
            ),
            logged AS (
                INSERT INTO crm_segment_member_log
                    (segment_id, partner_id, action, date, user_id)
                SELECT %(segment)s, partner_id, 'entered', now(), %(uid)s FROM entered
                 UNION ALL
                SELECT %(segment)s, partner_id, 'left', now(), %(uid)s FROM left_
            ),
            counted AS (
                SELECT (SELECT COUNT(*) FROM target) AS members,
                       (SELECT COUNT(*) FROM entered) AS entered,
                       (SELECT COUNT(*) FROM left_) AS left_
            ),
            updated AS (
                UPDATE crm_segment
                   SET member_count = counted.members, refresh_date = now(),
                       write_date = now(), write_uid = %(uid)s
                  FROM counted
                 WHERE crm_segment.id = %(segment)s
            )
            INSERT INTO crm_segment_history
                (segment_id, date, member_count, entered_count, left_count)
            SELECT %(segment)s, now(), members, entered, left_ FROM counted
            """,
            segment=segment.id,
            company=segment.company_id.id,
            uid=env.uid,
        )
    )


def segment_with_orm(env, segment):
    members = env["res.partner"].search(segment._get_member_domain())
    segment.write({"partner_ids": [(6, 0, members.ids)]})
    env.flush_all()


# ----------------------------------------------------------------------
# Measurement
# ----------------------------------------------------------------------


def measure(env, dbname, function, *args, repeat):
    """Run ``function`` ``repeat`` times, each in a rolled-back transaction.

    Returns the median seconds, the peak Python heap of the runs (tracemalloc)
    and the checksum of the profiles after the last run, before its rollback.
    """
    seconds, peaks, checksum = [], [], None
    for _run in range(repeat):
        env.invalidate_all()
        tracemalloc.start()
        started = time.perf_counter()
        function(env, *args)
        env.flush_all()
        seconds.append(time.perf_counter() - started)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        checksum = profile_checksum(env)
        env.cr.rollback()
        env.invalidate_all()
        vacuum(dbname, VACUUM_TABLES)
    return statistics.median(seconds), max(peaks), checksum


def main():
    args = parse_args()
    odoo.tools.config.parse_config(["--addons-path", str(ADDONS_DIR)])
    if database_exists(args.database):
        fail(f"database {args.database} exists; drop it or pass another --database.")
    path = None
    if not args.no_cdnow:
        try:
            path = cdnow_data.find_cdnow_file(cdnow_data.MASTER_FILE)
        except (OSError, subprocess.CalledProcessError) as error:
            fail(f"the CDNOW file is unavailable ({error}); pass --no-cdnow.")
    subprocess.run(["createdb", args.database], check=True)
    try:
        install_addon(args.database, "crm_segments")
        registry = odoo.modules.registry.Registry(args.database)
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            run(env, args, path)
    finally:
        if not args.keep:
            drop_database(args.database)


def run(env, args, path):
    started = time.perf_counter()
    insert_generated(env, args.partners, args.transactions)
    cdnow = insert_cdnow(env, path) if path else (0, 0)
    env.cr.commit()
    vacuum(args.database, VACUUM_TABLES)
    totals = env.execute_query(
        SQL(
            "SELECT (SELECT COUNT(DISTINCT partner_id) FROM crm_customer_transaction),"
            " (SELECT COUNT(*) FROM crm_customer_transaction)"
        )
    )[0]
    print(
        f"Data: {totals[0]} customers with {totals[1]} ledger rows "
        f"(CDNOW: {cdnow[0]} customers, {cdnow[1]} purchases), loaded in "
        f"{time.perf_counter() - started:.1f}s",
        flush=True,
    )

    results = {}
    for label, function in (
        ("hand-written SQL", refresh_with_sql),
        ("crm_segments", refresh_with_addon),
    ):
        print(f"Profile refresh: {label}", flush=True)
        results[label] = measure(env, args.database, function, repeat=args.repeat)
    same = results["crm_segments"][2] == results["hand-written SQL"][2]

    # ORM writes of every partner take far longer than the rest of the run:
    # all groups are read and ranked, a sample is written, and the time of
    # the writes is extrapolated to all customers.
    print("Profile refresh: _read_group + ORM write", flush=True)
    env.invalidate_all()
    tracemalloc.start()
    compute_seconds, write_seconds = refresh_with_read_group(env, args.orm_sample)
    orm_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    env.cr.rollback()
    env.invalidate_all()
    vacuum(args.database, VACUUM_TABLES)
    sample = min(args.orm_sample, totals[0])
    orm_estimate = compute_seconds + write_seconds * totals[0] / sample
    results["_read_group + ORM write (estimate)"] = (orm_estimate, orm_peak, None)
    print(
        f"_read_group: {compute_seconds:.2f}s to read and rank all customers, "
        f"{write_seconds:.2f}s to write {sample} of them",
        flush=True,
    )

    refresh_with_addon(env)
    env.cr.commit()
    vacuum(args.database, VACUUM_TABLES)
    segment = env["crm.segment"].create(
        {"name": "Bench: best customers", "domain": str(SEGMENT_DOMAIN)}
    )
    env.cr.commit()
    segment_results = {}
    for label, function in (
        ("hand-written SQL", segment_with_sql),
        ("hand-written SQL with log", segment_with_sql_and_log),
        ("crm_segments", segment_with_addon),
        ("search + ORM write", segment_with_orm),
    ):
        print(f"Segment refresh: {label}", flush=True)
        segment_results[label] = measure(
            env, args.database, function, segment, repeat=args.segment_repeat
        )
    segment.action_refresh()
    members = segment.member_count
    env.cr.rollback()

    report(env, args, totals, cdnow, results, same, segment_results, members)


def report(env, args, totals, cdnow, results, same, segment_results, members):
    print()
    print(
        f"Customers with a ledger: {totals[0]}, ledger rows: {totals[1]} "
        f"(generated {args.partners} partners / {args.transactions} rows, CDNOW "
        f"{cdnow[0]} customers / {cdnow[1]} purchases); median of {args.repeat} runs "
        f"({args.segment_repeat} for the segment)."
    )
    print()
    for name, value in describe_machine(env):
        print(f"- {name}: {value}")
    print()
    print(
        "| Refresh | Method | Seconds | Ratio to SQL | Ratio to SQL with log "
        "| Python heap peak (MB) |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for title, table in (
        ("Profiles, RFM, tiers", results),
        (f"Segment ({members} members)", segment_results),
    ):
        baseline = table["hand-written SQL"][0]
        log_baseline = table.get("hand-written SQL with log", (None,))[0]
        for label, (seconds, peak, _checksum) in table.items():
            log_ratio = f"{seconds / log_baseline:.2f}" if log_baseline else ""
            print(
                f"| {title} | {label} | {seconds:.2f} | {seconds / baseline:.2f} | "
                f"{log_ratio} | {peak / 1e6:.1f} |"
            )
    print()
    addon_ratio = results["crm_segments"][0] / results["hand-written SQL"][0]
    segment_seconds = segment_results["crm_segments"][0]
    segment_ratio = segment_seconds / segment_results["hand-written SQL"][0]
    segment_log_ratio = (
        segment_seconds / segment_results["hand-written SQL with log"][0]
    )
    print(f"Target: within {TARGET_RATIO}x of the hand-written SQL.")
    print(
        f"Profiles: {addon_ratio:.2f}x; segment: {segment_ratio:.2f}x of the bare "
        f"INSERT, {segment_log_ratio:.2f}x of the same writes by hand (members, "
        "log, history)."
    )
    print(f"Same profile values as the hand-written SQL: {same}.")


if __name__ == "__main__":
    main()
