from odoo.tests import tagged

from .common import LegacyCase

MAPPING = {"id": "partner_ref", "fecha": "txn_date", "importe": "txn_amount"}


@tagged("post_install", "-at_install", "crm_legacy_connectors")
class TestRepeatedValues(LegacyCase):
    """Amounts and dates are parsed once per distinct text and separators;
    every row must still get its own value or its own rejection."""

    def ledger_amounts(self, source):
        transactions = self.env["crm.customer.transaction"].search(
            [("source_ref", "like", f"legacy:{source.id}:%")]
        )
        return sorted(transactions.mapped("amount"))

    def test_same_text_read_with_each_source_separators(self):
        content = b"id;fecha;importe\n1;01/02/2024;1.234\n2;02/02/2024;1.234\n"
        spanish = self.make_source(
            MAPPING,
            content=content,
            decimal_separator=",",
            thousands_separator=".",
        )
        english = self.make_source(
            MAPPING,
            content=content,
            decimal_separator=".",
            thousands_separator=False,
            name="English source",
        )
        self.run_source(spanish)
        self.run_source(english)
        self.assertEqual(self.ledger_amounts(spanish), [1234.0, 1234.0])
        self.assertEqual(self.ledger_amounts(english), [1.23, 1.23])

    def test_repeated_bad_amount_rejected_on_each_row(self):
        source = self.make_source(
            MAPPING,
            content=(
                b"id;fecha;importe\n"
                b"1;01/02/2024;12,50\n"
                b"2;01/02/2024;12,50x\n"
                b"3;01/02/2024;12,50\n"
                b"4;01/02/2024;12,50x\n"
                b"5;31/02/2024;12,50\n"
            ),
            decimal_separator=",",
        )
        run = self.run_source(source)
        self.assertEqual(run.rows_read, 5)
        self.assertEqual(run.rows_rejected, 3)
        rejected = run.rejected_row_ids.sorted("row_number")
        self.assertEqual(rejected.mapped("row_number"), [2, 4, 5])
        self.assertEqual(rejected.mapped("column"), ["importe", "importe", "fecha"])
        self.assertEqual(rejected.mapped("value"), ["12,50x", "12,50x", "31/02/2024"])
        self.assertIn(
            "Row 4, column importe: invalid amount 12,50x", rejected[1].reason
        )
        self.assertIn(
            "Row 5, column fecha: invalid date 31/02/2024", rejected[2].reason
        )
        self.assertEqual(self.ledger_amounts(source), [12.5, 12.5])
