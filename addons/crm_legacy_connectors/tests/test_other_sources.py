import datetime
import io
import os
import sqlite3
import tempfile

import psycopg2

from odoo.sql_db import connection_info_for
from odoo.tests import HttpCase, tagged
from odoo.tools import config

from .common import LegacyCase

MAPPING = {
    "code": "partner_ref",
    "name": "partner_name",
    "email": "partner_email",
    "order_ref": "txn_ref",
    "order_date": "txn_date",
    "amount": "txn_amount",
}
ROWS = [
    ("S1", "Marta Gil", "marta@ejemplo.es", "O1", "2024-03-01", 10.5),
    ("S1", "Marta Gil", "marta@ejemplo.es", "O2", "2024-04-01", 20.0),
    ("S2", "Pablo Sanz", "pablo@ejemplo.es", "O3", "2024-05-01", 30.0),
]


def write_rows(cursor, placeholder):
    cursor.execute(
        "CREATE TABLE orders (code text, name text, email text, order_ref text, "
        "order_date date, amount numeric)"
    )
    for row in ROWS:
        cursor.execute(
            f"INSERT INTO orders VALUES ({', '.join([placeholder] * 6)})", row
        )


@tagged("post_install", "-at_install", "crm_legacy_connectors")
class TestXlsxSource(LegacyCase):
    def test_xlsx_typed_cells(self):
        import openpyxl

        workbook = openpyxl.Workbook()
        sheet = workbook.active
        sheet.append(["code", "name", "email", "order_ref", "order_date", "amount"])
        sheet.append(
            [
                "X1",
                "Nuria Vidal",
                "nuria@ejemplo.es",
                "F1",
                datetime.datetime(2024, 4, 3),
                1234.56,
            ]
        )
        sheet.append(
            ["X2", "Íñigo Ruiz", "inigo@ejemplo.es", "F2", "15/04/2024", "1.234,56"]
        )
        stream = io.BytesIO()
        workbook.save(stream)
        source = self.make_source(MAPPING, kind="xlsx", content=stream.getvalue())
        run = self.run_source(source)
        self.assertEqual(run.rows_read, 2)
        self.assertEqual(run.rows_rejected, 0)
        self.assertEqual(run.partners_created, 2)
        preview = source.preview()
        self.assertEqual(preview[0]["values"]["txn_date"], "2024-04-03")
        self.assertEqual(preview[1]["values"]["txn_date"], "2024-04-15")
        self.assertEqual(preview[1]["values"]["txn_amount"], "1234.56")


@tagged("post_install", "-at_install", "crm_legacy_connectors")
class TestSqlSource(LegacyCase):
    def make_sql_source(self, dsn, query="SELECT * FROM orders ORDER BY order_ref"):
        return self.make_source(
            MAPPING,
            kind="sql",
            dsn=dsn,
            query=query,
            date_format="%Y-%m-%d",
            decimal_separator=".",
            thousands_separator=False,
            batch_size=2,
        )

    def sqlite_file(self):
        handle, path = tempfile.mkstemp(suffix=".sqlite3")
        os.close(handle)
        self.addCleanup(os.unlink, path)
        connection = sqlite3.connect(path)
        write_rows(connection.cursor(), "?")
        connection.commit()
        connection.close()
        return path

    def test_sqlite_rows_imported(self):
        source = self.make_sql_source(f"sqlite:///{self.sqlite_file()}")
        run = self.run_source(source)
        self.assertEqual(run.state, "done")
        self.assertEqual(run.rows_read, 3)
        self.assertEqual(run.partners_created, 2)
        self.assertEqual(run.transactions_created, 3)

    def test_sqlite_is_read_only(self):
        path = self.sqlite_file()
        source = self.make_sql_source(path, query="DELETE FROM orders RETURNING *")
        run = self.run_source(source)
        self.assertEqual(run.state, "failed")
        self.assertIn("readonly", run.message.replace(" ", "").replace("-", ""))
        connection = sqlite3.connect(path)
        self.assertEqual(
            connection.execute("SELECT count(*) FROM orders").fetchone()[0], 3
        )
        connection.close()

    def test_sqlite_timeout_cancels_query(self):
        source = self.make_sql_source(
            self.sqlite_file(),
            query="WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
            "SELECT count(*) FROM n",
        )
        source.timeout = 1
        run = self.run_source(source)
        self.assertEqual(run.state, "failed")
        self.assertIn("interrupted", run.message)

    def postgresql_database(self):
        name = f"leg_src_{os.getpid()}_{id(self)}"
        _db, info = connection_info_for("postgres")
        connection = psycopg2.connect(**info)
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        connection.close()

        def drop():
            connection = psycopg2.connect(**info)
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
            connection.close()

        self.addCleanup(drop)
        _db, source_info = connection_info_for(name)
        with (
            psycopg2.connect(**source_info) as connection,
            connection.cursor() as cursor,
        ):
            write_rows(cursor, "%s")
        connection.close()
        libpq_names = {"database": "dbname"}
        return " ".join(
            f"{libpq_names.get(key, key)}={value}"
            for key, value in source_info.items()
            if value and key != "application_name"
        )

    def test_postgresql_rows_imported_in_batches(self):
        source = self.make_sql_source(self.postgresql_database())
        run = self.run_source(source)
        self.assertEqual(run.state, "done")
        self.assertEqual(run.rows_read, 3)
        self.assertEqual(run.partners_created, 2)
        self.assertEqual(run.transactions_created, 3)

    def test_postgresql_timeout_cancels_query(self):
        source = self.make_sql_source(
            self.postgresql_database(), query="SELECT pg_sleep(10) AS code"
        )
        source.timeout = 1
        run = self.run_source(source)
        self.assertEqual(run.state, "failed")
        self.assertIn("statement timeout", run.message)

    def test_postgresql_is_read_only(self):
        dsn = self.postgresql_database()
        with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
            cursor.execute(
                "CREATE FUNCTION purge() RETURNS bigint LANGUAGE sql AS "
                "$$ DELETE FROM orders; SELECT 1::bigint $$"
            )
        connection.close()
        source = self.make_sql_source(dsn, query="SELECT purge() AS code")
        run = self.run_source(source)
        self.assertEqual(run.state, "failed")
        self.assertIn("read-only transaction", run.message)
        with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM orders")
            self.assertEqual(cursor.fetchone()[0], 3)
        connection.close()


@tagged("post_install", "-at_install", "crm_legacy_connectors")
class TestOdooSource(HttpCase):
    def test_odoo_over_xmlrpc(self):
        partners = self.env["res.partner"].create(
            [
                {
                    "name": "Remoto Uno",
                    "email": "uno@remoto.example",
                    "country_id": self.env.ref("base.es").id,
                },
                {
                    "name": "Remoto Dos",
                    "email": "dos@remoto.example",
                    "country_id": self.env.ref("base.mx").id,
                },
            ]
        )
        source = self.env["crm.legacy.source"].create(
            {
                "name": "Odoo 12",
                "kind": "odoo",
                "url": f"http://127.0.0.1:{config['http_port']}",
                "database": self.env.cr.dbname,
                "login": "admin",
                "password": "admin",
                "model": "res.partner",
                "domain": "[('email', '=like', '%@remoto.example')]",
                "batch_size": 1,
                "mapping_ids": [
                    (0, 0, {"column": "name", "target": "partner_name"}),
                    (0, 0, {"column": "email", "target": "partner_email"}),
                    (0, 0, {"column": "country_id", "target": "partner_country"}),
                ],
            }
        )
        self.env.flush_all()
        run = self.env["crm.legacy.run"].browse(source.action_run())
        self.assertEqual(run.state, "done", run.message)
        self.assertEqual(run.rows_read, 2)
        self.assertEqual(run.partners_matched, 2)
        self.assertEqual(run.partners_created, 0)
        self.assertTrue(partners)

    def test_odoo_wrong_password_fails_run(self):
        source = self.env["crm.legacy.source"].create(
            {
                "name": "Odoo 12",
                "kind": "odoo",
                "url": f"http://127.0.0.1:{config['http_port']}",
                "database": self.env.cr.dbname,
                "login": "admin",
                "password": "not-the-password",
                "model": "res.partner",
                "mapping_ids": [(0, 0, {"column": "name", "target": "partner_name"})],
            }
        )
        run = self.env["crm.legacy.run"].browse(source.action_run())
        self.assertEqual(run.state, "failed")
        self.assertNotIn("not-the-password", run.message)
