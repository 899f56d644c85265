from odoo import api, fields, models
from odoo.exceptions import ValidationError


class SaleOrder(models.Model):
    _inherit = "sale.order"

    campaign_offer_code = fields.Char(
        copy=False,
        index="btree_not_null",
        help="Code of a campaign offer the customer used. Confirming the order "
        "records the offer as accepted on the customer's campaign trace.",
    )

    @api.constrains("campaign_offer_code", "partner_id", "date_order", "company_id")
    def _check_campaign_offer_code(self):
        for order in self.filtered("campaign_offer_code"):
            order._get_campaign_offer_trace()

    def _get_campaign_offer_trace(self):
        """Return the campaign trace the order's offer code accepts, possibly
        empty for a shared code; raise when the code cannot be used."""
        self.ensure_one()
        code = self.campaign_offer_code.strip()
        offer, trace = self.env["crm.campaign.trace"]._find_by_offer_code(
            code, self.partner_id, self.company_id
        )
        if not offer:
            raise ValidationError(
                self.env._(
                    "The campaign offer code %(code)s of order %(order)s does not "
                    "exist. Check the code the customer gave.",
                    code=code,
                    order=self.name,
                )
            )
        order_day = fields.Date.to_date(self.date_order or fields.Date.today())
        if not offer._is_valid_on(order_day):
            raise ValidationError(
                self.env._(
                    "The campaign offer code %(code)s of order %(order)s is not "
                    "valid on %(date)s: offer %(offer)s runs from %(start)s to "
                    "%(end)s.",
                    code=code,
                    order=self.name,
                    date=order_day,
                    offer=offer.name,
                    start=offer.date_start or "-",
                    end=offer.date_end or "-",
                )
            )
        if offer.code_kind == "unique":
            owner = trace.partner_id.commercial_partner_id
            if owner != self.partner_id.commercial_partner_id:
                raise ValidationError(
                    self.env._(
                        "The campaign offer code %(code)s of order %(order)s was "
                        "issued to another customer and cannot be used by "
                        "%(customer)s.",
                        code=code,
                        order=self.name,
                        customer=self.partner_id.display_name,
                    )
                )
            if trace.offer_order_id and trace.offer_order_id != self:
                raise ValidationError(
                    self.env._(
                        "The campaign offer code %(code)s was already used on order "
                        "%(other)s.",
                        code=code,
                        other=trace.offer_order_id.name,
                    )
                )
        return trace

    def action_confirm(self):
        result = super().action_confirm()
        for order in self.filtered("campaign_offer_code"):
            trace = order._get_campaign_offer_trace()
            trace._accept_offer("sale_order", order=order)
        return result
