"""A legacy import killed at a random row and run again ends as if never killed.

The CSV file has 2,000 rows: 1,000 customers with two orders each, an e-mail
consent per customer (granted or refused, with its date), and an invalid date
on every 50th row, which is rejected. ``tests/legacy_fault_worker.py`` runs
the import in its own process with ``action_run()``, committing every batch
of 100 rows as the scheduled action does.

A first source imports the file uninterrupted. Each kill run imports the
same file under other customer codes and e-mails, kills the process with
SIGKILL once a random row has been committed, and runs the source again to
the end. Partners, links, ledger rows, consent events and the rejected rows
of the last run must then equal those of the uninterrupted import, except
the dates of consent events that a blacklisting added at import time. The
``crm.legacy.run`` of the killed process stays unfinished, so the runs
themselves are not compared. ``CRM_SOAK=1`` does five kill runs, else one.

The tests use the database of tools/run_tests.py (ODOO_DB, ODOO_ADDONS_PATH).
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg2
import pytest

WORKER = Path(__file__).with_name("legacy_fault_worker.py")
ROWS = 2000
BATCH_SIZE = 100
KILL_RUNS = 5 if os.environ.get("CRM_SOAK") == "1" else 1


@pytest.fixture(scope="module")
def fault_env():
    database = os.environ.get("ODOO_DB")
    addons_path = os.environ.get("ODOO_ADDONS_PATH")
    if not database or not addons_path:
        pytest.fail(
            "ODOO_DB and ODOO_ADDONS_PATH are not set: run these tests through "
            "tools/run_tests.py, which sets them."
        )
    return {"database": database, "addons_path": addons_path}


@pytest.fixture(scope="module")
def database(fault_env):
    connection = psycopg2.connect(dbname=fault_env["database"])
    connection.autocommit = True
    yield connection
    connection.close()


def worker_command(fault_env, command, *args):
    return [
        sys.executable,
        str(WORKER),
        command,
        f"--database={fault_env['database']}",
        f"--addons-path={fault_env['addons_path']}",
        *args,
    ]


def run_worker(fault_env, command, *args):
    completed = subprocess.run(
        worker_command(fault_env, command, *args),
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def write_csv(path, prefix):
    lines = [
        "codigo;nombre;email;pedido;fecha;importe;canal;consentimiento;"
        "fecha_consentimiento"
    ]
    for row in range(ROWS):
        customer = row // 2
        day = 1 + customer % 28
        month = 1 + customer % 12
        order_date = "31/02/2024" if row % 50 == 49 else f"{day:02d}/{month:02d}/2024"
        consent = "si" if customer % 3 else "no"
        lines.append(
            f"{prefix}-C{customer};Cliente {customer};"
            f"cliente{customer}.{prefix}@ejemplo.es;{prefix}-P{row};{order_date};"
            f"{customer % 97},{row % 100:02d};correo;{consent};"
            f"{day:02d}/{month:02d}/2023"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def create_source(fault_env, tmp_path, prefix):
    path = tmp_path / f"{prefix}.csv"
    write_csv(path, prefix)
    return run_worker(
        fault_env,
        "create",
        f"--file={path}",
        f"--name=Fault test {prefix}",
        f"--batch-size={BATCH_SIZE}",
    )["source_id"]


def query(connection, sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def snapshot(connection, source_id, prefix):
    """Return the imported state of ``source_id`` as sorted lists, so that
    duplicates show, with ``prefix`` replaced by ``X`` and the source id in
    transaction references by ``S``."""
    email_pattern = f"%.{prefix}@ejemplo.es"
    [(last_run_id,)] = query(
        connection,
        "SELECT MAX(id) FROM crm_legacy_run WHERE source_id = %s",
        [source_id],
    )
    return {
        "last_run_state": query(
            connection, "SELECT state FROM crm_legacy_run WHERE id = %s", [last_run_id]
        ),
        "partners": query(
            connection,
            """
            SELECT name, replace(email, %(prefix)s, 'X'), active
              FROM res_partner
             WHERE email LIKE %(pattern)s
          ORDER BY 1, 2
            """,
            {"prefix": prefix, "pattern": email_pattern},
        ),
        "links": query(
            connection,
            """
            SELECT replace(link.external_key, %(prefix)s, 'X'),
                   replace(partner.email, %(prefix)s, 'X')
              FROM crm_legacy_partner_link link
              JOIN res_partner partner ON partner.id = link.partner_id
             WHERE link.source_id = %(source_id)s
          ORDER BY 1, 2
            """,
            {"prefix": prefix, "source_id": source_id},
        ),
        "transactions": query(
            connection,
            """
            SELECT replace(
                       regexp_replace(txn.source_ref, '^legacy:[0-9]+:', 'legacy:S:'),
                       %(prefix)s,
                       'X'
                   ),
                   replace(partner.email, %(prefix)s, 'X'),
                   txn.date, txn.amount, txn.kind
              FROM crm_customer_transaction txn
              JOIN res_partner partner ON partner.id = txn.partner_id
             WHERE partner.email LIKE %(pattern)s
          ORDER BY 1, 2
            """,
            {"prefix": prefix, "pattern": email_pattern},
        ),
        "consent_events": query(
            connection,
            """
            SELECT replace(partner.email, %(prefix)s, 'X'), channel.code,
                   purpose.code, event.state, event.source,
                   -- Events derived from a blacklisting are dated when the
                   -- import ran; only the file's dates are comparable.
                   CASE WHEN event.source = 'import' THEN event.date END
              FROM crm_consent_event event
              JOIN res_partner partner ON partner.id = event.partner_id
              JOIN crm_consent_channel channel ON channel.id = event.channel_id
              JOIN crm_consent_purpose purpose ON purpose.id = event.purpose_id
             WHERE partner.email LIKE %(pattern)s
          ORDER BY 1, 2, 3, 4, 5, 6
            """,
            {"prefix": prefix, "pattern": email_pattern},
        ),
        "last_run_rejected_rows": query(
            connection,
            """
            SELECT row_number, "column", replace(value, %(prefix)s, 'X')
              FROM crm_legacy_rejected_row
             WHERE run_id = %(run_id)s
          ORDER BY 1
            """,
            {"prefix": prefix, "run_id": last_run_id},
        ),
    }


@pytest.fixture(scope="module")
def uninterrupted(fault_env, database, tmp_path_factory):
    prefix = f"a{uuid.uuid4().hex[:8]}"
    source_id = create_source(fault_env, tmp_path_factory.mktemp("legacy"), prefix)
    run_worker(fault_env, "run", f"--source-id={source_id}")
    return snapshot(database, source_id, prefix)


def wait_for_committed_rows(connection, source_id, process, target, timeout=600):
    """Wait until the source's run has committed at least ``target`` rows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = query(
            connection,
            "SELECT COALESCE(rows_read, 0) FROM crm_legacy_run WHERE source_id = %s",
            [source_id],
        )
        if rows and rows[0][0] >= target:
            return rows[0][0]
        assert process.poll() is None, "the import ended before the chosen row"
        time.sleep(0.05)
    pytest.fail(f"the import of source {source_id} did not reach row {target}")


@pytest.mark.parametrize("run", range(KILL_RUNS))
def test_killed_import_rerun_matches(fault_env, database, uninterrupted, tmp_path, run):
    rng = random.Random()
    prefix = f"b{uuid.uuid4().hex[:8]}"
    source_id = create_source(fault_env, tmp_path, prefix)
    kill_after = rng.randrange(1, ROWS - BATCH_SIZE)

    process = subprocess.Popen(
        worker_command(fault_env, "run", f"--source-id={source_id}"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_committed_rows(database, source_id, process, kill_after)
        time.sleep(rng.uniform(0.0, 0.5))
        assert process.poll() is None, "the import ended before SIGKILL"
        process.send_signal(signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()

    killed = snapshot(database, source_id, prefix)
    assert len(killed["transactions"]) < len(uninterrupted["transactions"]), (
        "SIGKILL came after the last batch"
    )

    run_worker(fault_env, "run", f"--source-id={source_id}")
    resumed = snapshot(database, source_id, prefix)
    for key, expected in uninterrupted.items():
        assert resumed[key] == expected, key
