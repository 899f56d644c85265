#!/usr/bin/env python3
"""Benchmark crm_consent's bulk recording and contact gate against raw SQL.

For each size, the script times two operations of the public API of
``res.partner`` on that many partners, and the same work written as one raw
SQL statement, in the same run and on the same data:

* recording: ``partners.consent_record('email', 'granted')`` for all partners,
  starting from partners that were never asked, against one
  ``INSERT INTO crm_consent_event ... SELECT`` of the same events. Two more
  rows are informative. One baseline also upserts ``crm_consent`` in the same
  statement, because ``consent_record`` writes the current state as well as
  the event. One run of ``consent_record`` skips the ``mail.blacklist`` update
  that follows its SQL, which shows the cost of that step;

* the contact gate: ``partners.consent_filter_contactable('email')`` against
  a hand-written query of the same rule that returns the same ids.

Steps:

1. Create a throwaway database and install crm_consent without demo data.
2. For each size, add partners with e-mail addresses by one set-based insert.
3. Time the recording runs. Each run happens in its own transaction, which is
   rolled back, and the consent tables are vacuumed after it, so every run
   starts from the same state.
4. Commit a mix of consent states and blacklist entries, then time the gate.
5. Print the median of each measurement, the ratios and the targets, then
   drop the database unless ``--keep`` is given.

Run it from the repository root:

    python3 bench/bench_consent.py --sizes 10000,100000

Connection settings come from the usual libpq variables (PGHOST, PGPORT,
PGUSER, PGPASSWORD), as for ``odoo`` itself.
"""

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
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

# Targets of the requirement: the gate within 1.5x of raw SQL, recording
# within 3x of a raw SQL insert of the same events.
GATE_TARGET = 1.5
RECORD_TARGET = 3.0

# Marks the partners this script creates, so that the fixture can find them.
PARTNER_REF = "bench-consent"
EMAIL_DOMAIN = "bench.example.com"


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
        description="Time consent_record and consent_filter_contactable of crm_consent "
        "against raw SQL doing the same work, in a throwaway database."
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=[10000, 100000],
        help="numbers of partners to measure, separated by commas (default: 10000,100000)",
    )
    parser.add_argument(
        "--database",
        default="bench_consent",
        help="name of the database to create; it must not exist yet "
        "(default: bench_consent)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=5,
        help="timed runs per measurement, after one warm-up run; the median is "
        "reported (default: 5)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the database after the run instead of dropping it",
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"invalid --repeat {args.repeat}: expected at least 1")
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
    if shutil.which("nproc"):
        cpu_count = subprocess.run(
            ["nproc"], capture_output=True, text=True, check=True
        ).stdout.strip()
    else:
        cpu_count = str(os.cpu_count())
    postgres_version = env.execute_query(SQL("SHOW server_version"))[0][0]
    return [
        (
            "Started (UTC)",
            datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        ),
        ("CPUs (nproc)", cpu_count),
        ("CPU model", cpu_model),
        ("Python", platform.python_version()),
        ("Odoo", odoo.release.version),
        ("PostgreSQL", postgres_version),
        ("crm_consent revision", describe_revision()),
    ]


def describe_revision():
    """Return the commit of the repository, marked when crm_consent has local changes."""
    git = ["git", "-C", str(ROOT)]
    try:
        commit = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changes = subprocess.run(
            [*git, "status", "--porcelain", "--", "addons/crm_consent"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{commit} with uncommitted changes" if changes else commit


# ----------------------------------------------------------------------
# Fixture
# ----------------------------------------------------------------------


def add_partners(env, size):
    """Bring the number of benchmark partners up to ``size`` and return their ids."""
    existing = env.execute_query(
        SQL("SELECT COUNT(*) FROM res_partner WHERE ref = %s", PARTNER_REF)
    )[0][0]
    if existing < size:
        env.cr.execute(
            SQL(
                """
                INSERT INTO res_partner (
                    name, complete_name, email, email_normalized, ref, active,
                    type, is_company, partner_share, lang,
                    create_uid, create_date, write_uid, write_date
                )
                SELECT 'Bench partner ' || n, 'Bench partner ' || n,
                       'partner' || n || %(at_domain)s, 'partner' || n || %(at_domain)s,
                       %(ref)s, TRUE, 'contact', FALSE, TRUE, 'en_US',
                       %(uid)s, NOW() AT TIME ZONE 'UTC', %(uid)s, NOW() AT TIME ZONE 'UTC'
                  FROM generate_series(%(first)s, %(last)s) AS n
                """,
                at_domain="@" + EMAIL_DOMAIN,
                ref=PARTNER_REF,
                uid=env.uid,
                first=existing + 1,
                last=size,
            )
        )
        env.cr.execute(
            SQL(
                "UPDATE res_partner SET commercial_partner_id = id"
                " WHERE ref = %s AND commercial_partner_id IS NULL",
                PARTNER_REF,
            )
        )
    rows = env.execute_query(
        SQL(
            "SELECT id FROM res_partner WHERE ref = %s ORDER BY id LIMIT %s",
            PARTNER_REF,
            size,
        )
    )
    return [row[0] for row in rows]


def clear_consents(env):
    """Delete every consent, event and benchmark blacklist entry left by a previous size."""
    env.cr.execute(SQL("DELETE FROM crm_consent"))
    env.cr.execute(SQL("DELETE FROM crm_consent_event"))
    env.cr.execute(
        SQL("DELETE FROM mail_blacklist WHERE email LIKE %s", "%@" + EMAIL_DOMAIN)
    )


def commit_gate_fixture(env, partner_ids):
    """Commit a mix of consent states for the gate, and return the share of each.

    By position in the list: 1 partner in 20 was never asked, 1 in 20 refused
    and is blacklisted, 1 in 20 has a grant that expired yesterday and the
    rest (85%) have a current grant. Only the last group passes the gate.
    """
    never_asked = partner_ids[0::20]
    refused = partner_ids[1::20]
    expired = partner_ids[2::20]
    with_consent = sorted(set(partner_ids) - set(never_asked))
    partners = env["res.partner"].browse

    partners(with_consent).consent_record("email", "granted", source="import")
    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    partners(expired).consent_record(
        "email", "granted", source="import", expiry_date=yesterday
    )
    # crm_consent blacklists refused addresses one at a time through
    # mail.blacklist._add, which is slow for thousands of addresses, so the
    # refusals skip that synchronisation and one statement inserts the entries.
    partners(refused).with_context(crm_consent_skip_blacklist_sync=True).consent_record(
        "email", "refused", source="import"
    )
    env.cr.execute(
        SQL(
            """
            INSERT INTO mail_blacklist (email, active, create_uid, create_date, write_uid, write_date)
            SELECT email_normalized, TRUE, %(uid)s, NOW() AT TIME ZONE 'UTC',
                   %(uid)s, NOW() AT TIME ZONE 'UTC'
              FROM res_partner
             WHERE id = ANY(%(ids)s)
            """,
            uid=env.uid,
            ids=refused,
        )
    )
    env.cr.commit()
    return {
        "never asked": len(never_asked),
        "refused and blacklisted": len(refused),
        "expired grant": len(expired),
        "current grant": len(with_consent) - len(refused) - len(expired),
    }


# ----------------------------------------------------------------------
# Measured operations
# ----------------------------------------------------------------------


def get_channel_and_purpose(env):
    consent = env["crm.consent"]
    return consent._get_channel("email"), consent._get_purpose("marketing")


def record_with_orm(env, partner_ids):
    env["res.partner"].browse(partner_ids).consent_record("email", "granted")


def record_with_orm_without_blacklist_sync(env, partner_ids):
    """Record as ``record_with_orm`` does, but skip the blacklist step after the SQL.

    The difference between the two timings is the cost of that step.
    """
    partners = env["res.partner"].browse(partner_ids)
    partners.with_context(crm_consent_skip_blacklist_sync=True).consent_record(
        "email", "granted"
    )


def record_events_with_sql(env, partner_ids):
    """Insert the events that ``consent_record`` inserts for never-asked partners."""
    channel, purpose = get_channel_and_purpose(env)
    env.cr.execute(
        SQL(
            """
            INSERT INTO crm_consent_event (
                partner_id, channel_id, purpose_id, previous_state, state,
                source, legal_basis, proof, user_id, date, expiry_date,
                company_id, create_uid, create_date, write_uid, write_date
            )
            SELECT partner.id, %(channel_id)s, %(purpose_id)s, NULL, 'granted',
                   'api', 'consent', NULL, %(uid)s, %(date)s, NULL,
                   partner.company_id, %(uid)s, NOW() AT TIME ZONE 'UTC',
                   %(uid)s, NOW() AT TIME ZONE 'UTC'
              FROM res_partner partner
             WHERE partner.id = ANY(%(partner_ids)s)
            """,
            channel_id=channel.id,
            purpose_id=purpose.id,
            uid=env.uid,
            date=odoo.fields.Datetime.now(),
            partner_ids=partner_ids,
        )
    )


def record_events_and_states_with_sql(env, partner_ids):
    """Insert the events and upsert the current states, as ``consent_record`` does."""
    channel, purpose = get_channel_and_purpose(env)
    env.cr.execute(
        SQL(
            """
            WITH inserted AS (
                INSERT INTO crm_consent_event (
                    partner_id, channel_id, purpose_id, previous_state, state,
                    source, legal_basis, proof, user_id, date, expiry_date,
                    company_id, create_uid, create_date, write_uid, write_date
                )
                SELECT partner.id, %(channel_id)s, %(purpose_id)s, NULL, 'granted',
                       'api', 'consent', NULL, %(uid)s, %(date)s, NULL,
                       partner.company_id, %(uid)s, NOW() AT TIME ZONE 'UTC',
                       %(uid)s, NOW() AT TIME ZONE 'UTC'
                  FROM res_partner partner
                 WHERE partner.id = ANY(%(partner_ids)s)
             RETURNING id, partner_id, company_id
            )
            INSERT INTO crm_consent (
                partner_id, channel_id, purpose_id, state, legal_basis, source,
                date, expiry_date, last_event_id, company_id,
                create_uid, create_date, write_uid, write_date
            )
            SELECT inserted.partner_id, %(channel_id)s, %(purpose_id)s, 'granted',
                   'consent', 'api', %(date)s, NULL, inserted.id, inserted.company_id,
                   %(uid)s, NOW() AT TIME ZONE 'UTC', %(uid)s, NOW() AT TIME ZONE 'UTC'
              FROM inserted
            ON CONFLICT (partner_id, channel_id, purpose_id) DO UPDATE
               SET state = EXCLUDED.state,
                   last_event_id = EXCLUDED.last_event_id,
                   date = EXCLUDED.date,
                   write_date = EXCLUDED.write_date
            """,
            channel_id=channel.id,
            purpose_id=purpose.id,
            uid=env.uid,
            date=odoo.fields.Datetime.now(),
            partner_ids=partner_ids,
        )
    )


def gate_with_orm(env, partner_ids):
    return env["res.partner"].browse(partner_ids).consent_filter_contactable("email")


def gate_with_sql(env, partner_ids):
    """Select the partners that the contact gate allows for e-mail marketing.

    The rule, written out by hand: an active partner with an e-mail address
    and no active blacklist entry passes with a current, unexpired grant. A
    partner never asked passes only where a company regime for the partner's
    country makes e-mail opt-out, because marketing itself is opt-in.
    """
    channel, purpose = get_channel_and_purpose(env)
    rows = env.execute_query(
        SQL(
            """
            SELECT partner.id
              FROM res_partner partner
         LEFT JOIN crm_consent consent
                ON consent.partner_id = partner.id
               AND consent.channel_id = %(channel_id)s
               AND consent.purpose_id = %(purpose_id)s
         LEFT JOIN crm_consent_regime regime
                ON regime.channel_id = %(channel_id)s
               AND regime.country_id = partner.country_id
               AND regime.company_id = COALESCE(partner.company_id, %(company_id)s)
             WHERE partner.id = ANY(%(partner_ids)s)
               AND partner.active
               AND partner.email_normalized IS NOT NULL
               AND NOT EXISTS (
                   SELECT 1 FROM mail_blacklist blacklist
                    WHERE blacklist.active
                      AND blacklist.email = partner.email_normalized
               )
               AND (
                   (consent.state = 'granted'
                    AND (consent.expiry_date IS NULL OR consent.expiry_date >= %(today)s))
                   OR (consent.id IS NULL AND regime.regime = 'opt_out')
               )
            """,
            channel_id=channel.id,
            purpose_id=purpose.id,
            company_id=env.company.id,
            partner_ids=partner_ids,
            today=odoo.fields.Date.context_today(env["crm.consent"]),
        )
    )
    return [row[0] for row in rows]


# ----------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------


def count_rows(env, table):
    return env.execute_query(SQL("SELECT COUNT(*) FROM %s", SQL.identifier(table)))[0][
        0
    ]


def time_recording(registry, dbname, operation, partner_ids, repeat):
    """Time ``operation`` on ``partner_ids`` and return the median seconds.

    Each run is rolled back, after a check outside the timed part that it
    inserted one event per partner. The consent tables are vacuumed after each
    run so that its dead rows slow neither the next run nor the gate fixture.
    """
    timings = []
    for run in range(repeat + 1):
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            events_before = count_rows(env, "crm_consent_event")
            started = time.perf_counter()
            operation(env, partner_ids)
            env.flush_all()
            elapsed = time.perf_counter() - started
            inserted = count_rows(env, "crm_consent_event") - events_before
            cr.rollback()
        vacuum(dbname, ["crm_consent_event", "crm_consent", "mail_blacklist"])
        if inserted != len(partner_ids):
            fail(
                f"{operation.__name__} inserted {inserted} events for "
                f"{len(partner_ids)} partners; expected one per partner."
            )
        if run:
            timings.append(elapsed)
    return statistics.median(timings)


def time_gate(registry, operation, partner_ids, repeat, expected_ids):
    """Time ``operation`` and return the median seconds and the ids it selected.

    Exits with an error when the ids differ from ``expected_ids``, unless that is None.
    """
    timings = []
    for run in range(repeat + 1):
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            started = time.perf_counter()
            result = operation(env, partner_ids)
            elapsed = time.perf_counter() - started
            cr.rollback()
        if expected_ids is not None and set(result) != expected_ids:
            fail(
                f"{operation.__name__} returned {len(result)} ids, but the ORM gate "
                f"returned {len(expected_ids)} different ones; the two queries disagree."
            )
        expected_ids = set(result)
        if run:
            timings.append(elapsed)
    return statistics.median(timings), expected_ids


def measure_size(registry, dbname, size, repeat):
    print(f"\n== {size} partners ==", flush=True)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        clear_consents(env)
        partner_ids = add_partners(env, size)
        cr.commit()
    vacuum(
        dbname, ["res_partner", "crm_consent_event", "crm_consent", "mail_blacklist"]
    )

    rows = []
    print("Timing consent_record ...", flush=True)
    record_orm = time_recording(registry, dbname, record_with_orm, partner_ids, repeat)
    record_events = time_recording(
        registry, dbname, record_events_with_sql, partner_ids, repeat
    )
    record_both = time_recording(
        registry, dbname, record_events_and_states_with_sql, partner_ids, repeat
    )
    record_without_sync = time_recording(
        registry, dbname, record_with_orm_without_blacklist_sync, partner_ids, repeat
    )
    rows.append(
        (
            size,
            "consent_record",
            "INSERT events",
            record_orm,
            record_events,
            RECORD_TARGET,
        )
    )
    rows.append(
        (
            size,
            "consent_record",
            "INSERT events + UPSERT states",
            record_orm,
            record_both,
            None,
        )
    )
    rows.append(
        (
            size,
            "consent_record, no blacklist sync",
            "INSERT events",
            record_without_sync,
            record_events,
            None,
        )
    )

    print("Committing the gate fixture ...", flush=True)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        shares = commit_gate_fixture(env, partner_ids)
    vacuum(dbname, ["crm_consent_event", "crm_consent", "mail_blacklist"])
    print("  " + ", ".join(f"{name}: {count}" for name, count in shares.items()))

    print("Timing consent_filter_contactable ...", flush=True)
    gate_orm, contactable = time_gate(
        registry, gate_with_orm, partner_ids, repeat, None
    )
    gate_raw, _ids = time_gate(
        registry, gate_with_sql, partner_ids, repeat, contactable
    )
    if len(contactable) != shares["current grant"]:
        fail(
            f"the gate returned {len(contactable)} partners, expected the "
            f"{shares['current grant']} with a current grant."
        )
    rows.append(
        (
            size,
            "consent_filter_contactable",
            "SELECT ids",
            gate_orm,
            gate_raw,
            GATE_TARGET,
        )
    )
    return rows


# ----------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------


def print_table(rows):
    header = (
        "Partners",
        "Operation",
        "Raw SQL baseline",
        "ORM (s)",
        "SQL (s)",
        "Ratio",
        "Target",
        "Met",
    )
    lines = [header]
    for size, operation, baseline, orm_seconds, sql_seconds, target in rows:
        ratio = orm_seconds / sql_seconds
        if target is None:
            target_text, met_text = "(info)", ""
        else:
            target_text = f"<= {target}x"
            met_text = "yes" if ratio <= target else "NO"
        lines.append(
            (
                f"{size:,}",
                operation,
                baseline,
                f"{orm_seconds:.3f}",
                f"{sql_seconds:.3f}",
                f"{ratio:.2f}x",
                target_text,
                met_text,
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
        fail(
            "the 'odoo' command and the PostgreSQL client tools (dropdb) must be on PATH."
        )
    if not args.database.startswith("bench_"):
        fail(
            f"invalid --database {args.database!r}: the name must start with 'bench_' "
            "so that a benchmark never drops another database."
        )

    odoo.tools.config.parse_config(
        ["-d", args.database, f"--addons-path={ADDONS_DIR}", "--log-level=warn"],
        setup_logging=True,
    )
    if database_exists(args.database):
        fail(
            f"database {args.database!r} already exists. Drop it (dropdb {args.database}) "
            "or pass another name with --database."
        )

    try:
        install_addon(args.database, "crm_consent")
        registry = odoo.modules.registry.Registry(args.database)
        if "crm.consent" not in registry:
            fail(f"crm_consent is not installed in {args.database}; see the log above.")
        with registry.cursor() as cr:
            machine = describe_machine(odoo.api.Environment(cr, odoo.SUPERUSER_ID, {}))

        rows = []
        for size in args.sizes:
            rows.extend(measure_size(registry, args.database, size, args.repeat))
    finally:
        if args.keep:
            print(f"\nKept database {args.database}.")
        else:
            drop_database(args.database)

    print()
    for label, value in machine:
        print(f"{label}: {value}")
    print(f"Runs: median of {args.repeat} after one warm-up run\n")
    print_table(rows)
    print(
        f"\nTargets: consent_filter_contactable within {GATE_TARGET}x of the raw SQL "
        f"query, consent_record within {RECORD_TARGET}x of the raw SQL insert of the "
        "same events. Rows marked (info) are informative: 'INSERT events + UPSERT "
        "states' also writes the current states, as consent_record does, and "
        "'no blacklist sync' runs consent_record with the context key "
        "crm_consent_skip_blacklist_sync, which skips the update of mail.blacklist."
    )
    missed = [row for row in rows if row[5] and row[3] / row[4] > row[5]]
    print("All targets met." if not missed else f"{len(missed)} target(s) missed.")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
