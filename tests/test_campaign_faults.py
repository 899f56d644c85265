"""Exactly-once execution of campaign traces by real executor processes.

Each run launches a campaign with one e-mail step over 5,000 partners, a
tenth of whom refused e-mail marketing and a few of whom were never asked
(refused too, under the opt-in regime of the marketing purpose). Two or four
executor processes (``tests/campaign_fault_worker.py``) then run the
executor on the same database at once. Once the first traces are done, one
of them is killed with SIGKILL at a random moment and started again, and all
run until no trace is due. The e-mails are queued as ``mail.mail`` and never
sent, because the test server runs no cron.

The default run does two kill runs, one with two processes and one with
four. ``CRM_SOAK=1`` runs twenty, alternating two and four processes.

The tests use the database of the test server started by tools/run_tests.py
(ODOO_DB, ODOO_ADDONS_PATH). Afterwards they stop their campaigns, cancel
their e-mails and archive their partners and company.
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

WORKER = Path(__file__).with_name("campaign_fault_worker.py")
AUDIENCE_SIZE = int(os.environ.get("CRM_FAULT_PARTNERS", "5000"))
KILL_RUNS = 20 if os.environ.get("CRM_SOAK") == "1" else 2
RUN_TIMEOUT = 900  # seconds for all executor processes of one run to finish


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
    """Run one worker command to completion and return its JSON output."""
    completed = subprocess.run(
        worker_command(fault_env, command, *args),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def audience(fault_env):
    """The 5,000 partners, their consent, a company open at all hours and the
    e-mail template, archived after the module with the campaigns run on them."""
    label = uuid.uuid4().hex[:8]
    data = run_worker(
        fault_env, "prepare", f"--label={label}", f"--partners={AUDIENCE_SIZE}"
    )
    data["label"] = label
    data["campaign_ids"] = []
    yield data
    run_worker(
        fault_env,
        "cleanup",
        f"--company-id={data['company_id']}",
        f"--tag-id={data['tag_id']}",
        *(f"--campaign-id={campaign_id}" for campaign_id in data["campaign_ids"]),
    )


@pytest.fixture
def database(fault_env):
    connection = psycopg2.connect(dbname=fault_env["database"])
    connection.autocommit = True
    yield connection
    connection.close()


def query(connection, sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def start_executor(fault_env, campaign_id, log_dir, name):
    log = open(log_dir / f"{name}.log", "w", encoding="utf-8")
    process = subprocess.Popen(
        worker_command(
            fault_env, "execute", f"--campaign-id={campaign_id}", "--batch-size=100"
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    process.log = log
    return process


def wait_for_done_traces(connection, campaign_id, processes, timeout=300):
    """Wait until the first batch of ``campaign_id`` is committed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        [(done,)] = query(
            connection,
            "SELECT COUNT(*) FROM crm_campaign_trace"
            " WHERE campaign_id = %s AND state <> 'scheduled'",
            [campaign_id],
        )
        if done:
            return done
        assert all(process.poll() is None for process in processes), (
            "an executor process ended before any trace was executed"
        )
        time.sleep(0.1)
    pytest.fail(f"no trace of campaign {campaign_id} executed in {timeout}s")


def stop_all(processes):
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.log.close()


def launch_campaign(fault_env, audience, label):
    campaign_id = run_worker(
        fault_env,
        "launch",
        f"--label={audience['label']}-{label}",
        f"--tag-id={audience['tag_id']}",
        f"--template-id={audience['template_id']}",
        f"--company-id={audience['company_id']}",
    )["campaign_id"]
    audience["campaign_ids"].append(campaign_id)
    return campaign_id


def assert_executed_exactly_once(database, campaign_id, audience):
    """Check that every trace of the campaign ran once, e-mailing only the
    partners who granted consent, with one mail.mail and mailing.trace each."""
    partner_ids = set(audience["partner_ids"])
    refused_ids = set(audience["refused_ids"])
    granted_ids = partner_ids - refused_ids

    traces = query(
        database,
        "SELECT id, partner_id, state, skip_reason, mail_mail_id"
        " FROM crm_campaign_trace WHERE campaign_id = %s",
        [campaign_id],
    )
    assert len(traces) == len(partner_ids)
    assert {row[1] for row in traces} == partner_ids

    scheduled = [row for row in traces if row[2] == "scheduled"]
    assert scheduled == [], "traces left scheduled: lost by the executor"
    errors = [row for row in traces if row[2] == "error"]
    assert errors == []

    done = {row[1]: row for row in traces if row[2] == "done"}
    skipped = {row[1]: row for row in traces if row[2] == "skipped"}
    assert set(done) == granted_ids
    assert set(skipped) == refused_ids
    assert {row[3] for row in skipped.values()} == {"consent"}
    assert all(row[4] for row in done.values()), "a done trace has no mail.mail"
    assert not any(row[4] for row in skipped.values())

    mails = query(
        database,
        """
        SELECT mail.id, message.res_id
          FROM mail_mail mail
          JOIN mail_message message ON message.id = mail.mail_message_id
          JOIN crm_campaign_step step ON step.mailing_id = mail.mailing_id
         WHERE step.campaign_id = %s
        """,
        [campaign_id],
    )
    assert len(mails) == len(done)
    mail_partner_ids = [res_id for _mail_id, res_id in mails]
    assert len(set(mail_partner_ids)) == len(mail_partner_ids), (
        "a partner got two e-mails from one step"
    )
    assert {row[4] for row in done.values()} == {mail_id for mail_id, _ in mails}

    [(mails_to_refused,)] = query(
        database,
        """
        SELECT COUNT(*)
          FROM mail_mail mail
          JOIN mail_mail_res_partner_rel recipient
            ON recipient.mail_mail_id = mail.id
          JOIN crm_campaign_step step ON step.mailing_id = mail.mailing_id
         WHERE step.campaign_id = %s
           AND recipient.res_partner_id = ANY(%s)
        """,
        [campaign_id, sorted(refused_ids)],
    )
    assert mails_to_refused == 0

    [(mailing_traces, traced_partners)] = query(
        database,
        """
        SELECT COUNT(*), COUNT(DISTINCT mailing_trace.res_id)
          FROM mailing_trace
          JOIN crm_campaign_step step
            ON step.mailing_id = mailing_trace.mass_mailing_id
         WHERE step.campaign_id = %s
        """,
        [campaign_id],
    )
    assert mailing_traces == len(done)
    assert traced_partners == len(done)


@pytest.mark.parametrize("run", range(KILL_RUNS))
def test_executor_kill_exactly_once(fault_env, audience, database, run, tmp_path):
    process_count = 2 if run % 2 == 0 else 4
    rng = random.Random()
    campaign_id = launch_campaign(fault_env, audience, run)

    processes = [
        start_executor(fault_env, campaign_id, tmp_path, f"executor-{index}")
        for index in range(process_count)
    ]
    try:
        wait_for_done_traces(database, campaign_id, processes)
        time.sleep(rng.uniform(0.0, 3.0))
        victim = rng.randrange(process_count)
        assert processes[victim].poll() is None, (
            "the executor chosen for SIGKILL had already finished"
        )
        processes[victim].send_signal(signal.SIGKILL)
        processes[victim].wait()
        processes.append(
            start_executor(fault_env, campaign_id, tmp_path, "executor-restarted")
        )
        deadline = time.monotonic() + RUN_TIMEOUT
        for index, process in enumerate(processes):
            if index == victim:
                continue
            process.wait(timeout=max(deadline - time.monotonic(), 1))
            assert process.returncode == 0, (
                (tmp_path / f"executor-{index}.log").read_text()[-3000:]
                if index < process_count
                else (tmp_path / "executor-restarted.log").read_text()[-3000:]
            )
    finally:
        stop_all(processes)

    assert_executed_exactly_once(database, campaign_id, audience)


def test_terminated_backend_fails_batch(fault_env, audience, database, tmp_path):
    """Terminate the executor's PostgreSQL connections during a batch.

    This stands for a PostgreSQL restart: restarting the shared server
    would break every other client of it, so the test ends only this
    process's backends, found by the ``odoo-<pid>`` application name that
    Odoo 18 gives its connections. The executor must fail without keeping
    any part of the batch, and the next run must finish the work.
    """
    rng = random.Random()
    campaign_id = launch_campaign(fault_env, audience, "terminate")
    executor = start_executor(fault_env, campaign_id, tmp_path, "executor")
    try:
        wait_for_done_traces(database, campaign_id, [executor])
        time.sleep(rng.uniform(0.0, 2.0))
        assert executor.poll() is None, "the executor finished before termination"
        terminated = query(
            database,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = %s",
            [f"odoo-{executor.pid}"],
        )
        assert terminated, "no PostgreSQL backend of the executor was found"
        executor.wait(timeout=120)
    finally:
        stop_all([executor])
    assert executor.returncode != 0, "the executor did not notice its lost connection"

    [(done, with_mail, scheduled)] = query(
        database,
        """
        SELECT COUNT(*) FILTER (WHERE state = 'done'),
               COUNT(*) FILTER (WHERE state = 'done' AND mail_mail_id IS NOT NULL),
               COUNT(*) FILTER (WHERE state = 'scheduled')
          FROM crm_campaign_trace
         WHERE campaign_id = %s
        """,
        [campaign_id],
    )
    [(mails,)] = query(
        database,
        """
        SELECT COUNT(*)
          FROM mail_mail mail
          JOIN crm_campaign_step step ON step.mailing_id = mail.mailing_id
         WHERE step.campaign_id = %s
        """,
        [campaign_id],
    )
    assert scheduled > 0, "the termination came after the last batch"
    assert with_mail == done
    assert mails == done, "a batch was half kept after its connection was lost"

    next_run = start_executor(fault_env, campaign_id, tmp_path, "next-run")
    try:
        next_run.wait(timeout=RUN_TIMEOUT)
    finally:
        stop_all([next_run])
    assert next_run.returncode == 0, (tmp_path / "next-run.log").read_text()[-3000:]
    assert_executed_exactly_once(database, campaign_id, audience)
