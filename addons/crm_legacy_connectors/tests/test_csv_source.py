from odoo.tests import tagged

from .common import LegacyCase

C14_FILE = (
    "id;nombre;importe\n1;Iñigo Núñez, Logroño;1.234,56;x\n2;Ana Gómez;1.234,56\n"
)


@tagged("post_install", "-at_install", "crm_legacy_connectors")
class TestCsvSource(LegacyCase):
    def c14_source(self):
        return self.make_source(
            {"id": "partner_ref", "nombre": "partner_name", "importe": "txn_amount"},
            content=C14_FILE.encode("cp1252"),
        )

    def test_cp1252_semicolon_extra_column_rejected(self):
        run = self.run_source(self.c14_source())
        self.assertEqual(run.state, "done")
        self.assertEqual(run.rows_read, 2)
        self.assertEqual(run.rows_rejected, 2)
        first = run.rejected_row_ids.filtered(lambda r: r.row_number == 1)
        self.assertIn("Row 1 has 4 columns, the header has 3", first.reason)
        self.assertEqual(first.raw, "1;Iñigo Núñez, Logroño;1.234,56;x")

    def test_preview_reads_accents_and_spanish_decimals(self):
        source = self.make_source(
            {
                "id": "partner_ref",
                "nombre": "partner_name",
                "fecha": "txn_date",
                "importe": "txn_amount",
            },
            content="id;nombre;fecha;importe\n1;Iñigo Núñez, Logroño;16/12/2024;1.234,56\n".encode(
                "cp1252"
            ),
        )
        preview = source.preview()
        self.assertEqual(preview[0]["values"]["partner_name"], "Iñigo Núñez, Logroño")
        self.assertEqual(preview[0]["values"]["txn_amount"], "1234.56")
        self.assertFalse(preview[0]["error"])

    def test_day_first_dates(self):
        source = self.make_source(
            {"id": "partner_ref", "fecha": "txn_date", "importe": "txn_amount"},
            content=b"id;fecha;importe\n1;16/12/2024;1\n2;11/12/2024;1\n3;03/04/2024;1\n4;15042024;1\n",
        )
        dates = [row["values"]["txn_date"] for row in source.preview()]
        self.assertEqual(
            dates, ["2024-12-16", "2024-12-11", "2024-04-03", "2024-04-15"]
        )

    def test_unreadable_date_rejected_per_row(self):
        source = self.make_source(
            {"id": "partner_ref", "fecha": "txn_date", "importe": "txn_amount"},
            content=b"id;fecha;importe\n1;12/31/2024;1\n2;03/04/2024;1\n",
        )
        run = self.run_source(source)
        self.assertEqual(run.rows_rejected, 1)
        self.assertEqual(run.rejected_row_ids.row_number, 1)
        self.assertEqual(run.rejected_row_ids.column, "fecha")
        self.assertEqual(run.rejected_row_ids.value, "12/31/2024")
        self.assertIn(
            "Row 1, column fecha: invalid date 12/31/2024", run.rejected_row_ids.reason
        )
        link = self.env["crm.legacy.partner.link"].search(
            [("source_id", "=", source.id)]
        )
        self.assertEqual(link.mapped("external_key"), ["2"])

    def test_rejection_reason_in_user_language(self):
        self.env["res.lang"]._activate_lang("es_419")
        self.env["ir.module.module"]._load_module_terms(
            ["crm_legacy_connectors"], ["es_419"], overwrite=True
        )
        source = self.make_source(
            {"id": "partner_ref", "fecha": "txn_date", "importe": "txn_amount"},
            content=b"id;fecha;importe\n1;12/31/2024;1\n",
        )
        run = self.env["crm.legacy.run"].browse(
            source.with_context(lang="es_419").action_run()
        )
        self.assertEqual(
            run.rejected_row_ids.reason,
            "Fila 1, columna fecha: fecha no válida 12/31/2024 "
            "(formato esperado %d/%m/%Y).",
        )

    def test_wrong_chosen_encoding_fails_run(self):
        source = self.make_source(
            {"id": "partner_ref"},
            content="id\nIñigo\n".encode("cp1252"),
            encoding="utf-8",
        )
        run = self.run_source(source)
        self.assertEqual(run.state, "failed")
        self.assertIn("line 2 is not UTF-8 text (byte 0xF1)", run.message)
