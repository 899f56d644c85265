"""A real PostgreSQL restart while a cron job runs a batch.

The shared PostgreSQL server of the test command serves other clients, so
the tests never restart it. They create a throwaway PostgreSQL cluster with
the server programs of ``CRM_PG_BINDIR``, of ``pg_config --bindir`` or of
the newest ``/usr/lib/postgresql/<version>/bin``. Its data directory and
unix socket are in a temporary folder, it has no TCP listener, and it
trusts connections on that socket only. The test database is copied into
it (``pg_dump | psql``) under the same name, so Odoo finds the same
filestore, and each test keeps only the cron job under test active there.

A worker process (``tests/campaign_fault_worker.py cron``) then runs Odoo's
cron job processing on the copy, as a cron worker thread does, over a
campaign with one e-mail step to 5,000 partners (``CRM_RESTART_PARTNERS``),
600 of whom refused e-mail marketing or were never asked. Once the first
batch is committed, the test restarts the cluster with ``pg_ctl restart -m
fast`` at a random moment. It checks that the cron run failed, that the batch it was running
left nothing behind (every done trace has its e-mail and no e-mail lacks
its trace), and that the job is still due. The same worker then runs the
cron again until nothing is due, and the test asserts that every trace ran
exactly once, that none was lost and that no refused partner got an e-mail.

A second test restarts the cluster in the same way while the scheduled
action of crm_legacy_connectors imports a CSV source, and compares the
result of the next run with an uninterrupted import.

When run as root, the PostgreSQL programs run as the ``postgres`` system
user through ``runuser``, because PostgreSQL refuses to run as root. The
cluster is stopped and its folder removed at the end, even on failure.
"""

import getpass
import json
import os
import queue
import random
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg2
import pytest
import test_legacy_faults as legacy_faults
from test_campaign_faults import (
    assert_executed_exactly_once,
    fault_env,  # noqa: F401 (fixture)
    query,
    run_worker,
    worker_command,
)

AUDIENCE_SIZE = int(os.environ.get("CRM_RESTART_PARTNERS", "5000"))
# Port number of the throwaway cluster; with no TCP listener it only names
# the socket file in the cluster's own folder, so it cannot clash.
CLUSTER_PORT = 5499
STEP_TIMEOUT = 300  # seconds for one cron phase of the worker
EXECUTOR_CRON = "crm_campaign_automation.ir_cron_campaign_execute"
LEGACY_CRON = "crm_legacy_connectors.ir_cron_run_legacy_sources"


def pg_bindir():
    bindir = os.environ.get("CRM_PG_BINDIR")
    if not bindir and shutil.which("pg_config"):
        bindir = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True
        ).stdout.strip()
    if not bindir or not (Path(bindir) / "pg_ctl").exists():
        # Debian keeps the server programs of each major version apart.
        installed = sorted(
            Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
            key=lambda path: int(path.parent.parent.name),
        )
        bindir = str(installed[-1].parent) if installed else bindir
    if not bindir or not (Path(bindir) / "pg_ctl").exists():
        pytest.fail(
            "PostgreSQL server programs (initdb, pg_ctl) not found: set "
            "CRM_PG_BINDIR, for example to /usr/lib/postgresql/15/bin"
        )
    return Path(bindir)


class Cluster:
    """A PostgreSQL cluster in a temporary folder, reachable only through
    its unix socket there."""

    def __init__(self, bindir):
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="crm_pg_restart_"))
        self.data = self.folder / "data"
        self.log = self.folder / "postgresql.log"
        self.host = str(self.folder)
        self.port = CLUSTER_PORT
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        self.folder.chmod(0o700)

    def run(self, program, *args, timeout=120):
        command = [str(self.bindir / program), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        completed = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=timeout
        )
        assert completed.returncode == 0, (
            f"{program} failed: {completed.stderr[-2000:]}"
            f"{self.log.read_text()[-2000:] if self.log.exists() else ''}"
        )
        return completed

    def pg_ctl(self, action, *args):
        options = f"-c listen_addresses= -k {self.host} -p {self.port}"
        return self.run(
            "pg_ctl",
            action,
            f"--pgdata={self.data}",
            f"--log={self.log}",
            f"--options={options}",
            "--wait",
            "--timeout=60",
            *args,
        )

    def init(self):
        # The superuser is named after the user running the tests, who then
        # connects to the socket, in this folder only, without a password.
        self.run(
            "initdb",
            f"--pgdata={self.data}",
            f"--username={getpass.getuser()}",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        self.pg_ctl("start")

    def pid(self):
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def destroy(self):
        if (self.data / "postmaster.pid").exists():
            command = [
                str(self.bindir / "pg_ctl"),
                "stop",
                f"--pgdata={self.data}",
                "--mode=immediate",
                "--wait",
            ]
            if self.as_postgres:
                command = ["runuser", "-u", "postgres", "--", *command]
            subprocess.run(command, capture_output=True, check=False, timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(fault_env):  # noqa: F811
    """The throwaway cluster with a copy of the test database in it."""
    cluster = Cluster(pg_bindir())
    try:
        cluster.init()
        database = fault_env["database"]
        subprocess.run(
            [
                str(cluster.bindir / "createdb"),
                f"--host={cluster.host}",
                f"--port={cluster.port}",
                "--template=template0",
                "--encoding=UTF8",
                database,
            ],
            check=True,
            timeout=60,
        )
        dump = subprocess.Popen(
            [
                str(cluster.bindir / "pg_dump"),
                "--no-owner",
                "--no-acl",
                f"--dbname={database}",
            ],
            stdout=subprocess.PIPE,
        )
        restore = subprocess.run(
            [
                str(cluster.bindir / "psql"),
                "--quiet",
                "--set=ON_ERROR_STOP=1",
                f"--host={cluster.host}",
                f"--port={cluster.port}",
                f"--dbname={database}",
            ],
            stdin=dump.stdout,
            stdout=subprocess.DEVNULL,
            check=False,
            timeout=600,
        )
        dump.stdout.close()
        assert dump.wait(timeout=60) == 0, "pg_dump of the test database failed"
        assert restore.returncode == 0, "the copy into the throwaway cluster failed"
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def copy_env(fault_env, cluster):  # noqa: F811
    return {**fault_env, "db_host": cluster.host, "db_port": cluster.port}


def connect(cluster, database):
    connection = psycopg2.connect(dbname=database, host=cluster.host, port=cluster.port)
    connection.autocommit = True
    return connection


def only_cron(connection, xmlid):
    """Keep the cron job ``xmlid`` alone active on the copy, due now."""
    [(cron_id,)] = query(
        connection,
        "SELECT res_id FROM ir_model_data WHERE module = %s AND name = %s",
        xmlid.split("."),
    )
    query(
        connection,
        "UPDATE ir_cron SET active = (id = %s),"
        " nextcall = now() AT TIME ZONE 'UTC' - interval '1 minute'"
        " RETURNING id",
        [cron_id],
    )
    query(connection, "DELETE FROM ir_cron_trigger RETURNING id")
    return cron_id


def campaign_counts(connection, campaign_id):
    [row] = query(
        connection,
        """
        SELECT COUNT(*) FILTER (WHERE trace.state = 'done'),
               COUNT(*) FILTER (WHERE trace.state = 'done'
                                  AND trace.mail_mail_id IS NOT NULL),
               COUNT(*) FILTER (WHERE trace.state = 'scheduled'),
               COUNT(*) FILTER (WHERE trace.state = 'error'),
               (SELECT COUNT(*)
                  FROM mail_mail mail
                  JOIN crm_campaign_step step ON step.mailing_id = mail.mailing_id
                 WHERE step.campaign_id = %(campaign)s),
               (SELECT COUNT(*)
                  FROM mailing_trace
                  JOIN crm_campaign_step step
                    ON step.mailing_id = mailing_trace.mass_mailing_id
                 WHERE step.campaign_id = %(campaign)s)
          FROM crm_campaign_trace trace
         WHERE trace.campaign_id = %(campaign)s
        """,
        {"campaign": campaign_id},
    )
    return dict(
        zip(
            ["done", "done_with_mail", "scheduled", "error", "mails", "mailing_traces"],
            row,
            strict=True,
        )
    )


class LineReader:
    """Read the worker's standard output in a thread, one line at a time."""

    def __init__(self, process, log_path):
        self.process = process
        self.log_path = log_path
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next_json(self, timeout):
        """Return the next JSON line the worker prints, within ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.1))
            except queue.Empty:
                line = None
            if line and line.startswith("{"):
                return json.loads(line)
            if line is None or time.monotonic() > deadline:
                pytest.fail(
                    "the cron worker printed no result; its log:\n"
                    + self.log_path.read_text()[-3000:]
                )


def test_postgresql_restart_during_cron_batch(copy_env, cluster, tmp_path):
    rng = random.Random()
    database = copy_env["database"]
    extra = [f"--db-host={cluster.host}", f"--db-port={cluster.port}"]
    label = uuid.uuid4().hex[:8]
    audience = run_worker(
        copy_env, "prepare", f"--label={label}", f"--partners={AUDIENCE_SIZE}", *extra
    )
    audience["label"] = label
    campaign_id = run_worker(
        copy_env,
        "launch",
        f"--label=restart-{label}",
        f"--tag-id={audience['tag_id']}",
        f"--template-id={audience['template_id']}",
        f"--company-id={audience['company_id']}",
        *extra,
    )["campaign_id"]
    connection = connect(cluster, database)
    try:
        only_cron(connection, EXECUTOR_CRON)
        assert campaign_counts(connection, campaign_id)["scheduled"] == AUDIENCE_SIZE

        log_path = tmp_path / "cron-worker.log"
        with open(log_path, "w", encoding="utf-8") as log:
            worker = subprocess.Popen(
                [
                    *worker_command(copy_env, "cron", f"--campaign-id={campaign_id}"),
                    *extra,
                    "--pause-after-first",
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        reader = LineReader(worker, log_path)
        try:
            deadline = time.monotonic() + STEP_TIMEOUT
            while not campaign_counts(connection, campaign_id)["done"]:
                assert worker.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, "no batch committed in time"
                time.sleep(0.1)
            time.sleep(rng.uniform(0.0, 1.0))
            postmaster_before = cluster.pid()
            cluster.pg_ctl("restart", "--mode=fast")
            assert cluster.pid() != postmaster_before, "PostgreSQL did not restart"
            connection.close()
            connection = connect(cluster, database)

            first = reader.next_json(STEP_TIMEOUT)
            after_restart = campaign_counts(connection, campaign_id)

            print(f"Restart during the cron run: {first}, then {after_restart}")
            # The run failed, kept no part of the batch it was running, and
            # leaves the job due for the next wake-up of a cron worker.
            assert first["cron_errors"] >= 1, (
                f"the cron run did not fail: {first} {after_restart}"
            )
            assert first["due"] > 0 and after_restart["scheduled"] > 0, (
                "the restart came after the last batch"
            )
            assert first["ready"], "the failed job is not due again"
            assert after_restart["error"] == 0
            assert after_restart["done_with_mail"] == after_restart["done"]
            assert after_restart["mails"] == after_restart["done"], (
                "a batch was half kept after the restart"
            )
            assert after_restart["mailing_traces"] == after_restart["done"]

            # The next runs, in the same worker process, finish the work.
            worker.stdin.write("\n")
            worker.stdin.flush()
            runs = [reader.next_json(STEP_TIMEOUT)]
            while runs[-1]["due"] and worker.poll() is None:
                runs.append(reader.next_json(STEP_TIMEOUT))
            assert worker.wait(timeout=STEP_TIMEOUT) == 0, log_path.read_text()[-3000:]
        finally:
            if worker.poll() is None:
                worker.kill()
            worker.wait()
        print(f"Next runs: {runs}")
        assert [run["cron_errors"] for run in runs] == [0] * len(runs)
        assert_executed_exactly_once(connection, campaign_id, audience)
    finally:
        connection.close()


@pytest.mark.parametrize("queued_by", ["schedule", "background request"])
def test_postgresql_restart_during_legacy_import_cron(
    copy_env, cluster, tmp_path, monkeypatch, queued_by
):
    """Restart PostgreSQL while the scheduled action imports a legacy source.

    The source is the CSV file of ``tests/test_legacy_faults.py`` (2,000
    rows, batches of 100), set to run on schedule or queued with *Run in
    background*. After the restart, the failed cron run must have kept only
    whole batches, and the next run must mark the cut run as failed and
    leave the same partners, links, transactions, consent events and
    rejected rows as an uninterrupted import of the same file.
    """
    rng = random.Random()
    database = copy_env["database"]
    # The legacy workers take the copy's address from libpq's variables.
    monkeypatch.setenv("PGHOST", cluster.host)
    monkeypatch.setenv("PGPORT", str(cluster.port))
    legacy_env = {"database": database, "addons_path": copy_env["addons_path"]}
    connection = connect(cluster, database)
    try:
        reference_prefix = f"a{uuid.uuid4().hex[:8]}"
        reference_id = legacy_faults.create_source(
            legacy_env, tmp_path, reference_prefix
        )
        legacy_faults.run_worker(legacy_env, "run", f"--source-id={reference_id}")
        expected = legacy_faults.snapshot(connection, reference_id, reference_prefix)

        prefix = f"b{uuid.uuid4().hex[:8]}"
        source_id = legacy_faults.create_source(legacy_env, tmp_path, prefix)
        scheduled = queued_by == "schedule"
        query(
            connection,
            "UPDATE crm_legacy_source SET is_scheduled = (id = %s AND %s),"
            " is_run_requested = (id = %s AND NOT %s) RETURNING id",
            [source_id, scheduled, source_id, scheduled],
        )
        only_cron(connection, LEGACY_CRON)

        log_path = tmp_path / "cron-worker.log"
        with open(log_path, "w", encoding="utf-8") as log:
            worker = subprocess.Popen(
                [
                    *worker_command(copy_env, "cron", f"--cron-xmlid={LEGACY_CRON}"),
                    f"--db-host={cluster.host}",
                    f"--db-port={cluster.port}",
                    "--pause-after-first",
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        reader = LineReader(worker, log_path)
        try:
            legacy_faults.wait_for_committed_rows(
                connection,
                source_id,
                worker,
                rng.randrange(1, legacy_faults.ROWS - legacy_faults.BATCH_SIZE),
            )
            time.sleep(rng.uniform(0.0, 0.5))
            postmaster_before = cluster.pid()
            cluster.pg_ctl("restart", "--mode=fast")
            assert cluster.pid() != postmaster_before, "PostgreSQL did not restart"
            connection.close()
            connection = connect(cluster, database)

            first = reader.next_json(STEP_TIMEOUT)
            interrupted = legacy_faults.snapshot(connection, source_id, prefix)
            [(rows_read,)] = query(
                connection,
                "SELECT rows_read FROM crm_legacy_run WHERE source_id = %s",
                [source_id],
            )
            print(f"Restart during the import: {first}, {rows_read} rows kept")
            assert first["cron_errors"] >= 1, "the cron run did not fail"
            assert first["ready"], "the failed job is not due again"
            assert len(interrupted["transactions"]) < len(expected["transactions"]), (
                "the restart came after the last batch"
            )
            assert rows_read % legacy_faults.BATCH_SIZE == 0, (
                "a batch was half kept after the restart"
            )

            worker.stdin.write("\n")
            worker.stdin.flush()
            assert worker.wait(timeout=STEP_TIMEOUT) == 0, log_path.read_text()[-3000:]
        finally:
            if worker.poll() is None:
                worker.kill()
            worker.wait()

        resumed = legacy_faults.snapshot(connection, source_id, prefix)
        for key, value in expected.items():
            assert resumed[key] == value, key
        states = query(
            connection,
            "SELECT state FROM crm_legacy_run WHERE source_id = %s ORDER BY id",
            [source_id],
        )
        assert states == [("failed",), ("done",)], states
        [(requested,)] = query(
            connection,
            "SELECT is_run_requested FROM crm_legacy_source WHERE id = %s",
            [source_id],
        )
        assert not requested, "the background request is still queued"
    finally:
        connection.close()
