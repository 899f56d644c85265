import base64
import datetime
from unittest.mock import patch

from odoo.tests import tagged

from .common import LegacyCase

MAPPING = {
    "cliente": "partner_ref",
    "nombre": "partner_name",
    "email": "partner_email",
    "pedido": "txn_ref",
    "fecha": "txn_date",
    "importe": "txn_amount",
    "moneda": "txn_currency",
    "tipo": "txn_kind",
    "canal": "consent_channel",
    "permiso": "consent_state",
    "fecha_permiso": "consent_date",
}
HEADER = "cliente;nombre;email;pedido;fecha;importe;moneda;tipo;canal;permiso;fecha_permiso\n"
ROWS = (
    "C1;Carmen Ruiz;carmen@ejemplo.es;P1;16/12/2024;1.234,56;EUR;compra;email;sí;01/12/2024\n"
    "C1;Carmen Ruiz;carmen@ejemplo.es;P2;03/04/2024;20,00;EUR;devolución;sms;no;02/12/2024\n"
    "C2;Jorge Peña;jorge@ejemplo.es;P3;15042024;99,90;;;email;granted;\n"
)


@tagged("post_install", "-at_install", "crm_legacy_connectors")
class TestLedger(LegacyCase):
    def make_ledger_source(self, rows=ROWS):
        return self.make_source(MAPPING, content=(HEADER + rows).encode())

    def transactions(self, source):
        return self.env["crm.customer.transaction"].search(
            [("source_ref", "=like", f"legacy:{source.id}:%")], order="source_ref"
        )

    def test_transactions_written(self):
        source = self.make_ledger_source()
        run = self.run_source(source)
        self.assertEqual(run.transactions_created, 3)
        txns = self.transactions(source)
        company = self.env.company
        expected = [
            self.eur._convert(
                1234.56, company.currency_id, company, datetime.date(2024, 12, 16)
            ),
            self.eur._convert(
                -20.0, company.currency_id, company, datetime.date(2024, 4, 3)
            ),
            99.9,
        ]
        self.assertEqual(
            txns.mapped("amount"), [company.currency_id.round(a) for a in expected]
        )
        self.assertEqual(txns.mapped("kind"), ["purchase", "refund", "purchase"])
        self.assertEqual(txns[0].date, datetime.date(2024, 12, 16))
        self.assertEqual(txns[2].date, datetime.date(2024, 4, 15))

    def test_consents_recorded(self):
        source = self.make_ledger_source()
        run = self.run_source(source)
        self.assertEqual(run.consents_recorded, 3)
        carmen = (
            self.env["crm.legacy.partner.link"]
            .search([("source_id", "=", source.id), ("external_key", "=", "C1")])
            .partner_id
        )
        self.assertEqual(carmen.consent_get("email")[0]["state"], "granted")
        self.assertEqual(carmen.consent_get("sms")[0]["state"], "refused")

    def test_double_opt_in_source_sends_requests(self):
        source = self.make_ledger_source()
        source.consent_double_opt_in = True
        self.run_source(source)
        carmen = (
            self.env["crm.legacy.partner.link"]
            .search([("source_id", "=", source.id), ("external_key", "=", "C1")])
            .partner_id
        )
        self.assertEqual(carmen.consent_get("email")[0]["state"], "pending")
        self.assertEqual(carmen.consent_get("sms")[0]["state"], "refused")
        request = self.env["mail.mail"].search(
            [("model", "=", "crm.consent.event"), ("email_to", "ilike", "carmen@")]
        )
        self.assertEqual(len(request), 1)

    def test_rerun_changes_nothing(self):
        source = self.make_ledger_source()
        self.run_source(source)
        events = self.env["crm.consent.event"].search_count([])
        partners = self.env["res.partner"].search_count([])
        ledger = type(self.env["crm.customer.transaction"])
        with patch.object(ledger, "record_transactions", autospec=True) as record:
            second = self.run_source(source)
        record.assert_not_called()
        self.assertEqual(second.partners_created, 0)
        self.assertEqual(second.partners_matched, 2)
        self.assertEqual(second.transactions_created, 0)
        self.assertEqual(second.consents_recorded, 0)
        self.assertEqual(self.env["crm.consent.event"].search_count([]), events)
        self.assertEqual(self.env["res.partner"].search_count([]), partners)

    def test_rerun_keeps_consent_history(self):
        # Carmen granted e-mail in 2023 and refused it in 2024: two rows.
        rows = (
            "C1;Carmen Ruiz;carmen@ejemplo.es;P1;16/12/2024;10,00;;;email;sí;01/03/2023\n"
            "C1;Carmen Ruiz;carmen@ejemplo.es;;;;;;email;no;01/06/2024\n"
        )
        source = self.make_ledger_source(rows)
        first = self.run_source(source)
        carmen = (
            self.env["crm.legacy.partner.link"]
            .search([("source_id", "=", source.id), ("external_key", "=", "C1")])
            .partner_id
        )
        events = self.env["crm.consent.event"].search_count(
            [("partner_id", "=", carmen.id)]
        )
        second = self.run_source(source)
        self.assertEqual(first.consents_recorded, 2)
        self.assertEqual(second.consents_recorded, 0)
        self.assertEqual(
            self.env["crm.consent.event"].search_count(
                [("partner_id", "=", carmen.id)]
            ),
            events,
        )
        self.assertEqual(carmen.consent_get("email")[0]["state"], "refused")

    def test_unknown_currency_rejected(self):
        rows = "C1;Ana;ana@ejemplo.es;P1;16/12/2024;10,00;XYZ;;;;\n"
        run = self.run_source(self.make_ledger_source(rows))
        self.assertEqual(run.rows_rejected, 1)
        self.assertIn(
            "Row 1, column moneda: unknown currency XYZ", run.rejected_row_ids.reason
        )

    def test_bad_amount_keeps_good_rows(self):
        rows = (
            "C1;Ana;ana@ejemplo.es;P1;16/12/2024;diez;;;;;\n"
            "C2;Eva;eva@ejemplo.es;P2;16/12/2024;10,00;;;;;\n"
        )
        source = self.make_ledger_source(rows)
        run = self.run_source(source)
        self.assertEqual(run.rows_rejected, 1)
        self.assertEqual(run.rejected_row_ids.column, "importe")
        self.assertEqual(run.transactions_created, 1)
        self.assertFalse(
            self.env["res.partner"].search(
                [("email_normalized", "=", "ana@ejemplo.es")]
            ),
            "a rejected row creates no partner",
        )

    def test_write_failure_rejects_only_that_row(self):
        # A transaction kind the ledger rejects fails the batch write; the
        # batch is then written row by row and only that row is lost.
        rows = (
            "C1;Ana;ana@ejemplo.es;P1;16/12/2024;10,00;;;;;\n"
            "C2;Eva;eva@ejemplo.es;P2;16/12/2024;10,00;;;;;\n"
        )
        source = self.make_ledger_source(rows)
        importer = type(self.env["crm.legacy.importer"])
        original = importer._write_transactions

        def failing(importer_self, context, parsed_rows):
            if any(parsed["ref"] == "C1" for parsed in parsed_rows):
                raise ValueError("ledger down")
            return original(importer_self, context, parsed_rows)

        importer._write_transactions = failing
        try:
            with self.assertLogs(
                "odoo.addons.crm_legacy_connectors.models.crm_legacy_importer", "ERROR"
            ):
                run = self.run_source(source)
        finally:
            importer._write_transactions = original
        self.assertEqual(run.rows_rejected, 1)
        self.assertEqual(run.rejected_row_ids.row_number, 1)
        self.assertIn("ledger down", run.rejected_row_ids.reason)
        self.assertFalse(
            self.env["res.partner"].search(
                [("email_normalized", "=", "ana@ejemplo.es")]
            ),
            "the partner of the failed row is rolled back with it",
        )
        self.assertTrue(
            self.env["res.partner"].search(
                [("email_normalized", "=", "eva@ejemplo.es")]
            )
        )

    def test_incremental_run_reads_rows_above_watermark(self):
        source = self.make_ledger_source()
        source.write({"watermark_column": "fecha", "watermark_value": "2024-04-10"})
        run = (
            self.env["crm.legacy.importer"]
            .with_context(crm_legacy_incremental=True)
            ._run(source)
        )
        self.assertEqual(run.rows_skipped, 1)
        self.assertEqual(run.rows_read, 2)
        self.assertEqual(source.watermark_value, "2024-12-16")

    def test_background_run_clears_request_when_done(self):
        source = self.make_ledger_source()
        source.action_run_background()
        self.assertTrue(source.is_run_requested)
        self.env["crm.legacy.source"]._cron_run_scheduled()
        self.assertFalse(source.is_run_requested)
        self.assertEqual(len(self.transactions(source)), 3)

    def test_background_request_kept_when_run_crashes(self):
        source = self.make_ledger_source()
        source.action_run_background()
        importer = type(self.env["crm.legacy.importer"])
        with (
            patch.object(importer, "_process_batch", side_effect=RuntimeError),
            self.assertRaises(RuntimeError),
        ):
            self.env["crm.legacy.source"]._cron_run_scheduled()
        self.assertTrue(source.is_run_requested)

    def test_cron_fails_interrupted_runs(self):
        source = self.make_ledger_source()
        other = self.make_ledger_source()
        interrupted = self.env["crm.legacy.run"].create({"source_id": source.id})
        unrelated = self.env["crm.legacy.run"].create({"source_id": other.id})
        source.action_run_background()
        self.env["crm.legacy.source"]._cron_run_scheduled()
        self.assertEqual(interrupted.state, "failed")
        self.assertIn("stopped before it finished", interrupted.message)
        self.assertTrue(interrupted.ended_at)
        self.assertEqual(unrelated.state, "running")
        self.assertEqual(len(self.transactions(source)), 3)

    def test_rerun_after_file_grows_adds_only_new(self):
        source = self.make_ledger_source()
        self.run_source(source)
        source.file = base64.b64encode(
            (
                HEADER + ROWS + "C3;Rosa;rosa@ejemplo.es;P4;01/01/2025;5,00;;;;;\n"
            ).encode()
        )
        second = self.run_source(source)
        self.assertEqual(second.transactions_created, 1)
        self.assertEqual(second.partners_created, 1)
