from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"

    def write(self, vals):
        result = super().write(vals)
        if "state" in vals:
            self._feed_customer_ledger()
        return result

    def _feed_customer_ledger(self):
        """Record posted customer invoices and refunds in the ledger.

        An invoice whose lines come from sale order lines is skipped, because
        the confirmed order is already a purchase in the ledger. Refunds are
        always recorded, because they reduce what the customer spent. Amounts
        are untaxed, in company currency.
        """
        moves = self.filtered(
            lambda move: move.move_type in ("out_invoice", "out_refund")
        )
        vals_list = []
        for move in moves.filtered(lambda move: move.state == "posted"):
            if move.move_type == "out_invoice" and move._is_from_sale_order():
                continue
            amount = move.amount_untaxed_signed
            vals_list.append(
                {
                    "partner_id": move.commercial_partner_id.id,
                    "date": move.invoice_date or move.date,
                    "amount": amount,
                    "kind": "purchase" if amount >= 0 else "refund",
                    "source_ref": f"account.move,{move.id}",
                    "company_id": move.company_id.id,
                    "res_model": "account.move",
                    "res_id": move.id,
                }
            )
        if moves:
            self.env["crm.customer.transaction"]._sync_sources(moves, vals_list)

    def _is_from_sale_order(self):
        self.ensure_one()
        return bool(self.invoice_line_ids.sale_line_ids)
