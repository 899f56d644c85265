from odoo import api, fields, models

# Changes to these fields of a confirmed order are fed again into the ledger.
LEDGER_FIELDS = {"state", "order_line", "date_order", "partner_id", "currency_id"}
# Changes to these fields of an order line change the order's untaxed amount.
LINE_LEDGER_FIELDS = {
    "product_id",
    "product_uom_qty",
    "product_uom",
    "price_unit",
    "discount",
    "tax_id",
    "display_type",
}


class SaleOrder(models.Model):
    _inherit = "sale.order"

    def write(self, vals):
        result = super().write(vals)
        if LEDGER_FIELDS.intersection(vals):
            self._feed_customer_ledger()
        return result

    def action_confirm(self):
        result = super().action_confirm()
        # A purchase grants marketing e-mail on legitimate interest where the
        # company's regime for the customer's country is soft opt-in.
        for order in self.filtered(lambda order: order.state == "sale"):
            order.partner_id.commercial_partner_id._consent_grant_soft_opt_in(
                proof=self.env._("Order %(order)s", order=order.name)
            )
        return result

    def _feed_confirmed_orders(self):
        """Record the confirmed orders of ``self`` in the ledger again, after
        their lines changed without a write on the order itself."""
        confirmed = self.filtered(lambda order: order.state == "sale")
        if confirmed:
            confirmed._feed_customer_ledger()

    def _feed_customer_ledger(self):
        """Record confirmed orders as purchases and drop the rows of the others.

        Amounts are untaxed, converted from the order currency at the order
        date by ``record_transactions``.
        """
        vals_list = []
        for order in self.filtered(lambda order: order.state == "sale"):
            amount = order.amount_untaxed
            vals_list.append(
                {
                    "partner_id": order.partner_id.id,
                    "date": fields.Date.to_date(order.date_order),
                    "amount": amount,
                    "kind": "purchase" if amount >= 0 else "refund",
                    "source_ref": f"sale.order,{order.id}",
                    "currency_id": order.currency_id.id,
                    "company_id": order.company_id.id,
                    "res_model": "sale.order",
                    "res_id": order.id,
                }
            )
        self.env["crm.customer.transaction"]._sync_sources(self, vals_list)


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        lines.order_id._feed_confirmed_orders()
        return lines

    def write(self, vals):
        orders = self.order_id
        result = super().write(vals)
        if LINE_LEDGER_FIELDS.intersection(vals):
            # A line moved to another order changes both orders.
            (orders | self.order_id)._feed_confirmed_orders()
        return result

    def unlink(self):
        orders = self.order_id
        result = super().unlink()
        orders.exists()._feed_confirmed_orders()
        return result
