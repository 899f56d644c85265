from odoo import Command
from odoo.tests import tagged

from odoo.addons.account.tests.common import AccountTestInvoicingCommon


@tagged("post_install", "-at_install")
class TestFeeders(AccountTestInvoicingCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Transaction = cls.env["crm.customer.transaction"].sudo()
        cls.customer_company = cls.env["res.partner"].create(
            {"name": "Distribuidora Andina SAS", "is_company": True}
        )
        cls.buyer = cls.env["res.partner"].create(
            {"name": "Camilo Rojas", "parent_id": cls.customer_company.id}
        )

    def _create_order(self, partner, price=100.0, quantity=2.0):
        return self.env["sale.order"].create(
            {
                "partner_id": partner.id,
                "date_order": "2024-04-10 10:00:00",
                "order_line": [
                    Command.create(
                        {
                            "product_id": self.product_a.id,
                            "product_uom_qty": quantity,
                            "price_unit": price,
                            "tax_id": [Command.clear()],
                        }
                    )
                ],
            }
        )

    def _ledger(self, record):
        return self.Transaction.search(
            [("res_model", "=", record._name), ("res_id", "=", record.id)]
        )

    def test_confirmed_order_is_purchase(self):
        order = self._create_order(self.customer_company)
        order.action_confirm()
        row = self._ledger(order)
        self.assertEqual(len(row), 1)
        self.assertEqual(row.kind, "purchase")
        self.assertEqual(row.amount, 200.0)
        # Confirming an order moves its date to the confirmation time.
        self.assertEqual(row.date, order.date_order.date())
        self.assertEqual(row.source_ref, f"sale.order,{order.id}")

    def test_confirmed_order_grants_soft_opt_in(self):
        spain = self.env.ref("base.es")
        self.customer_company.write(
            {"country_id": spain.id, "email": "compras@andina.es"}
        )
        self.env["crm.consent.regime"].sudo().create(
            {
                "company_id": self.env.company.id,
                "country_id": spain.id,
                "channel_id": self.env.ref("crm_consent.channel_email").id,
                "regime": "soft_opt_in",
            }
        )
        self.assertFalse(self.customer_company.consent_get("email")[0]["state"])

        order = self._create_order(self.buyer)
        order.action_confirm()

        event = (
            self.env["crm.consent.event"]
            .sudo()
            .search([("partner_id", "=", self.customer_company.id)])
        )
        self.assertEqual(event.state, "granted")
        self.assertEqual(event.source, "purchase")
        self.assertEqual(event.legal_basis, "legitimate_interests")
        self.assertIn(order.name, event.proof)

    def test_order_without_soft_opt_in_grants_nothing(self):
        order = self._create_order(self.customer_company)
        order.action_confirm()
        self.assertFalse(self.customer_company.consent_get("email")[0]["state"])

    def test_draft_order_not_in_ledger(self):
        order = self._create_order(self.customer_company)
        self.assertFalse(self._ledger(order))

    def test_contact_order_counts_for_company(self):
        order = self._create_order(self.buyer)
        order.action_confirm()
        self.assertEqual(self._ledger(order).partner_id, self.customer_company)

    def test_refeeding_order_is_idempotent(self):
        order = self._create_order(self.customer_company)
        order.action_confirm()
        order._feed_customer_ledger()
        order._feed_customer_ledger()
        self.assertEqual(len(self._ledger(order)), 1)

    def test_confirmed_line_edit_updates_ledger(self):
        order = self._create_order(self.customer_company)
        order.action_confirm()
        order.order_line.write({"price_unit": 150.0})
        self.assertEqual(self._ledger(order).amount, 300.0)
        self.env["sale.order.line"].create(
            {
                "order_id": order.id,
                "product_id": self.product_b.id,
                "product_uom_qty": 1.0,
                "price_unit": 40.0,
                "tax_id": [Command.clear()],
            }
        )
        self.assertEqual(self._ledger(order).amount, 340.0)
        self.assertTrue(self.customer_company.profile_outdated)
        self.customer_company.profile_refresh()
        self.assertEqual(self.customer_company.revenue_total, 340.0)

    def test_draft_line_edit_skips_ledger(self):
        order = self._create_order(self.customer_company)
        order.order_line.write({"price_unit": 150.0})
        self.assertFalse(self._ledger(order))

    def test_cancelled_order_row_removed(self):
        order = self._create_order(self.customer_company)
        order.action_confirm()
        self.assertTrue(self._ledger(order))
        order._action_cancel()
        self.assertFalse(self._ledger(order))

    def test_order_in_foreign_currency_converted(self):
        other = self.setup_other_currency("EUR", rates=[("2024-01-01", 2.0)])
        pricelist = self.env["product.pricelist"].create(
            {"name": "EUR", "currency_id": other.id}
        )
        order = self._create_order(self.customer_company)
        order.pricelist_id = pricelist
        order.order_line.price_unit = 100.0
        order.action_confirm()
        self.assertEqual(order.currency_id, other)
        self.assertAlmostEqual(self._ledger(order).amount, 100.0)

    def test_posted_invoice_is_purchase(self):
        invoice = self.init_invoice(
            "out_invoice",
            partner=self.buyer,
            invoice_date="2024-05-02",
            amounts=[300.0],
            taxes=[],
            post=True,
        )
        row = self._ledger(invoice)
        self.assertEqual(row.kind, "purchase")
        self.assertEqual(row.amount, 300.0)
        self.assertEqual(row.partner_id, self.customer_company)

    def test_posted_refund_is_negative(self):
        refund = self.init_invoice(
            "out_refund",
            partner=self.customer_company,
            invoice_date="2024-05-03",
            amounts=[40.0],
            taxes=[],
            post=True,
        )
        row = self._ledger(refund)
        self.assertEqual(row.kind, "refund")
        self.assertEqual(row.amount, -40.0)

    def test_vendor_bill_not_in_ledger(self):
        bill = self.init_invoice(
            "in_invoice",
            partner=self.customer_company,
            invoice_date="2024-05-03",
            amounts=[40.0],
            taxes=[],
            post=True,
        )
        self.assertFalse(self._ledger(bill))

    def test_reset_invoice_to_draft_removes_row(self):
        invoice = self.init_invoice(
            "out_invoice",
            partner=self.customer_company,
            invoice_date="2024-05-02",
            amounts=[300.0],
            taxes=[],
            post=True,
        )
        invoice.button_draft()
        self.assertFalse(self._ledger(invoice))

    def test_invoice_of_confirmed_order_not_counted_twice(self):
        order = self._create_order(self.customer_company)
        order.action_confirm()
        order.order_line.qty_delivered = 2.0
        invoice = order._create_invoices()
        invoice.action_post()
        self.assertFalse(self._ledger(invoice))
        rows = self.Transaction.search([("partner_id", "=", self.customer_company.id)])
        self.assertEqual(len(rows), 1)
