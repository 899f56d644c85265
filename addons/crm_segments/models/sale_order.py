from odoo import fields, models

# Changes to these fields of a confirmed order are fed again into the ledger.
LEDGER_FIELDS = {"state", "order_line", "date_order", "partner_id", "currency_id"}


class SaleOrder(models.Model):
    _inherit = "sale.order"

    # TODO: writes on sale.order.line alone (not through the order) do not
    # update the ledger row of a confirmed order.
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
