from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import SegmentsCommon


@tagged("post_install", "-at_install")
class TestRecordTransactions(SegmentsCommon):
    def test_record_returns_ids_in_input_order(self):
        ids = self.Transaction.record_transactions(
            [
                {
                    "partner_id": self.customer.id,
                    "date": "2024-01-05",
                    "amount": 10.0,
                    "kind": "purchase",
                    "source_ref": "order/2",
                },
                {
                    "partner_id": self.customer.id,
                    "date": "2024-01-04",
                    "amount": 20.0,
                    "kind": "purchase",
                    "source_ref": "order/1",
                },
            ]
        )
        records = self.Transaction.browse(ids)
        self.assertEqual(records.mapped("source_ref"), ["order/2", "order/1"])
        self.assertEqual(records.mapped("amount"), [10.0, 20.0])

    def test_record_twice_updates_same_row(self):
        first = self.record(self.customer, 50.0, ref="pos/77")
        second = self.record(self.customer, 65.0, ref="pos/77")
        self.assertEqual(first, second)
        rows = self.Transaction.search([("source_ref", "=", "pos/77")])
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows.amount, 65.0)

    def test_duplicate_key_in_one_call_keeps_last(self):
        vals = {
            "partner_id": self.customer.id,
            "date": "2024-01-05",
            "kind": "purchase",
            "source_ref": "dup/1",
        }
        ids = self.Transaction.record_transactions(
            [{**vals, "amount": 1.0}, {**vals, "amount": 2.0}]
        )
        self.assertEqual(ids[0], ids[1])
        self.assertEqual(self.Transaction.browse(ids[0]).amount, 2.0)

    def test_contact_rolls_up_to_company(self):
        tx_id = self.record(self.contact, 30.0)
        self.assertEqual(
            self.Transaction.browse(tx_id).partner_id, self.company_customer
        )

    def test_foreign_currency_converted_at_date(self):
        tx_id = self.record(
            self.customer,
            100.0,
            date="2024-02-01",
            currency_id=self.foreign_currency.id,
        )
        transaction = self.Transaction.browse(tx_id)
        self.assertEqual(transaction.currency_id, self.company.currency_id)
        self.assertAlmostEqual(transaction.amount, 50.0)

    def test_record_marks_partner_outdated(self):
        self.customer.profile_outdated = False
        self.record(self.customer, 12.0)
        self.assertTrue(self.customer.profile_outdated)

    def test_moved_reference_marks_old_and_new_partner(self):
        self.record(self.customer, 12.0, ref="moved/1")
        self.record(self.company_customer, 30.0, ref="other/1")
        (self.customer | self.company_customer).profile_outdated = False
        self.record(self.company_customer, 12.0, ref="moved/1")
        self.assertTrue(self.customer.profile_outdated, "the partner it left")
        self.assertTrue(self.company_customer.profile_outdated)
        self.assertFalse(self.customer.transaction_ids)
        self.assertEqual(len(self.company_customer.transaction_ids), 2)

    def test_unchanged_partner_not_marked_by_other_rows(self):
        self.record(self.customer, 12.0, ref="keep/1")
        self.customer.profile_outdated = False
        self.record(self.company_customer, 30.0, ref="other/2")
        self.assertFalse(self.customer.profile_outdated)

    def test_invalid_kind_names_row_and_value(self):
        with self.assertRaisesRegex(UserError, r"row 1.*kind.*'gift'"):
            self.Transaction.record_transactions(
                [
                    {
                        "partner_id": self.customer.id,
                        "date": "2024-01-05",
                        "amount": 1.0,
                        "kind": "purchase",
                        "source_ref": "ok/1",
                    },
                    {
                        "partner_id": self.customer.id,
                        "date": "2024-01-05",
                        "amount": 1.0,
                        "kind": "gift",
                        "source_ref": "bad/1",
                    },
                ]
            )
        self.assertFalse(self.Transaction.search([("source_ref", "=", "ok/1")]))

    def test_missing_partner_is_rejected(self):
        with self.assertRaisesRegex(UserError, r"row 0.*partner_id.*999999999"):
            self.Transaction.record_transactions(
                [
                    {
                        "partner_id": 999999999,
                        "date": "2024-01-05",
                        "amount": 1.0,
                        "kind": "purchase",
                        "source_ref": "ghost/1",
                    }
                ]
            )

    def test_bad_date_is_rejected(self):
        with self.assertRaisesRegex(UserError, r"row 0.*date.*'31/12/2024'"):
            self.record(self.customer, 1.0, date="31/12/2024")

    def test_negative_purchase_is_rejected(self):
        with self.assertRaisesRegex(UserError, r"row 0.*amount.*-5"):
            self.record(self.customer, -5.0)

    def test_positive_refund_is_rejected(self):
        with self.assertRaisesRegex(UserError, r"row 0.*amount.*5"):
            self.record(self.customer, 5.0, kind="refund")

    def test_infinite_amounts_are_rejected(self):
        for amount in (float("nan"), float("inf"), float("-inf")):
            with self.assertRaisesRegex(UserError, r"row 0.*amount.*finite"):
                self.record(self.customer, amount)

    def test_create_rejects_bad_date_and_amount(self):
        vals = {
            "partner_id": self.customer.id,
            "date": "2024-01-05",
            "amount": 10.0,
            "kind": "purchase",
            "source_ref": "create/1",
        }
        with self.assertRaisesRegex(UserError, r"row 1.*date.*'31/02/2024'"):
            self.Transaction.create([vals, dict(vals, date="31/02/2024")])
        with self.assertRaisesRegex(UserError, r"row 0.*amount.*nan"):
            self.Transaction.create(dict(vals, amount=float("nan")))
        self.assertFalse(self.Transaction.search([("source_ref", "=", "create/1")]))

    def test_write_rejects_bad_date(self):
        transaction = self.Transaction.browse(self.record(self.customer, 10.0))
        with self.assertRaisesRegex(UserError, r"date.*'2024-13-01'"):
            transaction.write({"date": "2024-13-01"})
        self.assertEqual(str(transaction.date), "2024-03-01")
