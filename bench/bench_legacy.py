#!/usr/bin/env python3
"""Benchmark crm_legacy_connectors against Odoo's own import and COPY.

For each data set (the CDNOW purchase file shipped in the ``lifetimes``
package, and a generated file of the same shape with ``--rows`` rows) the
script measures, in one run and on one database:

1. PostgreSQL ``COPY`` of the rows into a typed temporary table;
2. a ``crm.legacy.source`` run that lands the rows on partners, customer keys
   and ledger rows, committing after each batch as the scheduled action does,
   with the peak resident memory of the process while it runs;
3. Odoo's own import on the first ``--sample`` rows: ``res.partner.load`` for
   their customers, then one ``sale.order`` per purchase created through the
   ORM (not confirmed), rolled back afterwards;
4. a second baseline: ``COPY`` of what the connector writes (one partner and
   one key link per customer, one ledger row per purchase) straight into the
   indexed tables, rolled back afterwards: the floor for that much writing.

It prints rows per second for each and the ratios. Usage::

    python3 bench/bench_legacy.py --database leg_bench --create

``--create`` drops and recreates the database and installs the addon without
demo data first. The database is left in place for inspection; drop it with
``dropdb``.
"""

import argparse
import base64
import io
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADDONS = ROOT / "addons"
sys.path.insert(0, str(ROOT / "tools"))
import cdnow_data  # noqa: E402

CDNOW_CUSTOMERS = 23570
CDNOW_ROWS = 69659


def find_cdnow(path, cache_dir):
    """Return the path of CDNOW_master.txt: ``path``, the installed lifetimes
    package, or a wheel of lifetimes fetched with pip into ``cache_dir``."""
    if path:
        return Path(path)
    return cdnow_data.find_cdnow_file(cdnow_data.MASTER_FILE, cache_dir)


def generate_file(path, rows, seed=1997):
    """Write ``rows`` purchases in the CDNOW layout: customer id, date
    (YYYYMMDD), number of CDs, dollar value, separated by spaces.

    Customers keep the CDNOW ratio of about three purchases each; dates span
    the same 18 months.
    """
    generator = random.Random(seed)
    customers = max(1, rows * CDNOW_CUSTOMERS // CDNOW_ROWS)
    start = 729755  # date(1997, 1, 1).toordinal()
    import datetime

    with open(path, "w", encoding="ascii") as handle:
        handle.write(" customer_id  date number_of_cds  dollar_value\n")
        for _index in range(rows):
            customer = generator.randint(1, customers)
            day = datetime.date.fromordinal(start + generator.randint(0, 545))
            cds = generator.randint(1, 6)
            value = round(cds * generator.uniform(8, 18), 2)
            handle.write(f" {customer:07d} {day:%Y%m%d}  {cds}   {value:.2f}\n")
    return path


class PeakMemory:
    """Sample the resident set size of this process every 50 ms."""

    def __init__(self):
        self.peak = self.baseline = self.current()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def current():
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")

    def _sample(self):
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.current())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def growth_mib(self):
        return (self.peak - self.baseline) / 2**20


def create_database(database):
    subprocess.run(["dropdb", "--if-exists", database], check=True)
    subprocess.run(["createdb", database], check=True)
    subprocess.run(
        [
            "odoo",
            "-d",
            database,
            f"--addons-path={ADDONS}",
            "-i",
            "crm_legacy_connectors",
            "--without-demo=all",
            "--stop-after-init",
            "--http-interface=127.0.0.1",
            "--log-level=warn",
        ],
        check=True,
    )


def count_rows(path):
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip()) - 1


def bench_copy(database, path):
    """COPY the file's rows into a typed temporary table; return seconds.

    COPY needs one delimiter character, so the runs of spaces are turned
    into tabs in memory before the clock starts.
    """
    with open(path, encoding="ascii") as handle:
        next(handle)
        text = "".join(
            "\t".join(line.split()) + "\n" for line in handle if line.strip()
        )
    import psycopg2

    connection = psycopg2.connect(dbname=database)
    cr = connection.cursor()
    cr.execute(
        "CREATE TEMPORARY TABLE bench_copy (customer_id int, date date, "
        "number_of_cds int, dollar_value numeric) ON COMMIT DROP"
    )
    started = time.perf_counter()
    cr.copy_expert("COPY bench_copy FROM STDIN", io.StringIO(text))
    seconds = time.perf_counter() - started
    cr.execute("SELECT count(*) FROM bench_copy")
    copied = cr.fetchone()[0]
    connection.rollback()
    connection.close()
    if copied != text.count("\n"):
        raise RuntimeError(f"COPY read {copied} rows of {text.count(chr(10))}")
    return seconds


def bench_copy_writes(database, path, source_id):
    """COPY what the connector writes for the file into the real tables, in
    one transaction rolled back afterwards; return seconds.

    This second baseline is the floor for this amount of writing. It writes
    one partner per customer (name, commercial partner, active, type, the
    required columns and the audit columns), one key link per customer for
    ``source_id`` (keys prefixed with ``copy-``, since the connector's keys
    exist) and one ledger row per purchase, with the tables' indexes,
    constraints and foreign keys. Nothing is parsed or validated. The rows are built in
    Python before the clock starts, except the partner ids, which are taken
    from the sequence inside the clock as the connector takes them.
    """
    rows = read_sample(path, None)
    customers = list(dict.fromkeys(row[0] for row in rows))
    import psycopg2

    connection = psycopg2.connect(dbname=database)
    cr = connection.cursor()
    cr.execute("SELECT id, currency_id FROM res_company ORDER BY id LIMIT 1")
    company_id, currency_id = cr.fetchone()
    started = time.perf_counter()
    cr.execute(
        "SELECT nextval('res_partner_id_seq') FROM generate_series(1, %s)",
        [len(customers)],
    )
    partner_ids = dict(zip(customers, (row[0] for row in cr.fetchall()), strict=True))
    now = "2026-01-01 00:00:00"
    partners = "".join(
        f"{partner_id}\tCDNOW {customer}\tCDNOW {customer}\t{partner_id}\tt\t"
        f"contact\tt\tt\task\t1\t1\t{now}\t{now}\n"
        for customer, partner_id in partner_ids.items()
    )
    cr.copy_expert(
        "COPY res_partner (id, name, complete_name, commercial_partner_id, active, "
        "type, partner_share, profile_outdated, autopost_bills, create_uid, "
        "write_uid, create_date, write_date) FROM STDIN",
        io.StringIO(partners),
    )
    links = "".join(
        f"{source_id}\tcopy-{customer}\t{partner_id}\t{company_id}\t1\t1\t"
        f"{now}\t{now}\n"
        for customer, partner_id in partner_ids.items()
    )
    cr.copy_expert(
        "COPY crm_legacy_partner_link (source_id, external_key, partner_id, "
        "company_id, create_uid, write_uid, create_date, write_date) FROM STDIN",
        io.StringIO(links),
    )
    ledger = "".join(
        f"{partner_ids[customer]}\t{day[:4]}-{day[4:6]}-{day[6:]}\t{value}\t"
        f"purchase\tbench-copy:{number}\t{company_id}\t{currency_id}\t1\t1\t"
        f"{now}\t{now}\n"
        for number, (customer, day, _cds, value) in enumerate(rows, 1)
    )
    cr.copy_expert(
        "COPY crm_customer_transaction (partner_id, date, amount, kind, "
        "source_ref, company_id, currency_id, create_uid, write_uid, "
        "create_date, write_date) FROM STDIN",
        io.StringIO(ledger),
    )
    seconds = time.perf_counter() - started
    connection.rollback()
    connection.close()
    return seconds


def make_source(env, path, name, batch_size):
    data = Path(path).read_bytes()
    return env["crm.legacy.source"].create(
        {
            "name": name,
            "kind": "csv",
            "file": base64.b64encode(data),
            "file_name": Path(path).name,
            "delimiter": "whitespace",
            "date_format": "%Y%m%d",
            "decimal_separator": ".",
            "thousands_separator": False,
            "batch_size": batch_size,
            "mapping_ids": [
                (0, 0, {"column": "customer_id", "target": "partner_ref"}),
                (0, 0, {"column": "date", "target": "txn_date"}),
                (0, 0, {"column": "dollar_value", "target": "txn_amount"}),
            ],
        }
    )


def bench_connector(registry, path, name, batch_size):
    """Run a new source over ``path``, twice; return the two runs' figures."""
    from odoo import SUPERUSER_ID, api

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        source_id = make_source(env, path, name, batch_size).id
    results = []
    for _attempt in range(2):
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"crm_legacy_commit": True})
            source = env["crm.legacy.source"].browse(source_id)
            with PeakMemory() as memory:
                started = time.perf_counter()
                run = env["crm.legacy.importer"]._run(source)
                seconds = time.perf_counter() - started
            results.append(
                {
                    "seconds": seconds,
                    "rows": run.rows_read,
                    "created": run.partners_created,
                    "matched": run.partners_matched,
                    "transactions": run.transactions_created,
                    "rejected": run.rows_rejected,
                    "memory_mib": memory.growth_mib,
                }
            )
    return source_id, results


def read_sample(path, size):
    """Return the first ``size`` rows of the file, split, or all of them
    when ``size`` is None."""
    rows = []
    with open(path, encoding="ascii") as handle:
        next(handle)
        for line in handle:
            if line.strip():
                rows.append(line.split())
            if size is not None and len(rows) >= size:
                break
    return rows


def bench_odoo_import(registry, path, sample_size):
    """Import the first rows with ``res.partner.load`` and ORM sale orders;
    return seconds. Everything is rolled back."""
    from odoo import SUPERUSER_ID, api

    rows = read_sample(path, sample_size)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        product = env["product.product"].create({"name": "CD", "list_price": 10})
        env.flush_all()
        started = time.perf_counter()
        customers = list(dict.fromkeys(row[0] for row in rows))
        result = env["res.partner"].load(
            ["ref", "name"], [[f"bench-{c}", f"CDNOW {c}"] for c in customers]
        )
        if result["messages"]:
            raise RuntimeError(result["messages"][:3])
        partner_ids = dict(zip(customers, result["ids"], strict=True))
        for customer, day, cds, value in rows:
            quantity = int(cds)
            env["sale.order"].create(
                {
                    "partner_id": partner_ids[customer],
                    "date_order": f"{day[:4]}-{day[4:6]}-{day[6:]} 12:00:00",
                    "order_line": [
                        (
                            0,
                            0,
                            {
                                "product_id": product.id,
                                "product_uom_qty": quantity,
                                "price_unit": float(value) / max(quantity, 1),
                            },
                        )
                    ],
                }
            )
        env.flush_all()
        seconds = time.perf_counter() - started
        cr.rollback()
    return len(rows), seconds


def report(label, rows, copy_seconds, runs, sample_rows, odoo_seconds, writes_seconds):
    first, second = runs
    ours = rows / first["seconds"]
    copy = rows / copy_seconds
    odoo = sample_rows / odoo_seconds
    writes = rows / writes_seconds
    print(f"\n## {label}: {rows} rows")
    print(f"COPY:                 {copy:12,.0f} rows/s ({copy_seconds:.2f} s)")
    print(
        f"COPY of the writes:   {writes:12,.0f} rows/s ({writes_seconds:.2f} s; "
        "partners, key links and ledger rows into the indexed tables)"
    )
    print(
        f"connector, first run: {ours:12,.0f} rows/s ({first['seconds']:.1f} s; "
        f"{first['created']} partners created, {first['transactions']} "
        f"transactions, {first['rejected']} rejected; peak memory +"
        f"{first['memory_mib']:.0f} MiB)"
    )
    print(
        f"connector, re-run:    {rows / second['seconds']:12,.0f} rows/s "
        f"({second['seconds']:.1f} s; {second['created']} created, "
        f"{second['matched']} matched, {second['transactions']} new transactions; "
        f"peak memory +{second['memory_mib']:.0f} MiB)"
    )
    print(
        f"Odoo import (sample): {odoo:12,.0f} rows/s ({sample_rows} rows in "
        f"{odoo_seconds:.1f} s)"
    )
    print(
        f"connector / Odoo import: {ours / odoo:.1f}x; COPY / connector: {copy / ours:.1f}x"
    )
    print(
        f"COPY of the writes / connector: {writes / ours:.1f}x (first run), "
        f"{writes / (rows / second['seconds']):.1f}x (re-run)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="leg_bench")
    parser.add_argument("--create", action="store_true", help="recreate the database")
    parser.add_argument("--cdnow", help="path of CDNOW_master.txt")
    parser.add_argument("--rows", type=int, default=1_000_000, help="generated rows")
    parser.add_argument(
        "--sample", type=int, default=2000, help="rows for Odoo's import"
    )
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--skip-generated", action="store_true")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench_legacy_"))
    cdnow = find_cdnow(args.cdnow, workdir)
    if args.create:
        create_database(args.database)

    import odoo
    from odoo.modules.registry import Registry

    odoo.tools.config.parse_config(
        [
            f"--addons-path={ADDONS}",
            "-d",
            args.database,
            "--log-level=warn",
            "--http-interface=127.0.0.1",
        ]
    )
    registry = Registry(args.database)
    print(
        f"database {args.database}, batch size {args.batch_size}, "
        f"CPU {os.cpu_count()} cores"
    )

    datasets = [("CDNOW_master.txt", cdnow)]
    if not args.skip_generated:
        generated = generate_file(workdir / f"generated_{args.rows}.txt", args.rows)
        datasets.append((f"generated ({args.rows} rows)", generated))

    for label, path in datasets:
        rows = count_rows(path)
        copy_seconds = bench_copy(args.database, path)
        source_id, runs = bench_connector(
            registry, path, f"bench {label}", args.batch_size
        )
        sample_rows, odoo_seconds = bench_odoo_import(registry, path, args.sample)
        writes_seconds = bench_copy_writes(args.database, path, source_id)
        report(
            label, rows, copy_seconds, runs, sample_rows, odoo_seconds, writes_seconds
        )


if __name__ == "__main__":
    main()
