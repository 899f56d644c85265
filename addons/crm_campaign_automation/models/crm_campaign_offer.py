import secrets

from odoo import api, fields, models
from odoo.exceptions import ValidationError

# Alphabet of generated codes: upper-case letters and digits without 0, O, 1
# and I, which customers mistake for one another when they type a code.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# 12 symbols of 32 give 60 bits, so guessing another customer's code is not
# practical even with many codes issued.
CODE_LENGTH = 12


class CrmCampaignOffer(models.Model):
    """Commercial offer carried by campaign steps: a shared coupon code or a
    code unique per partner, a discount or a description, and a validity.

    The offer is accepted (a response recorded on the trace) on the web offer
    page, by the code on a confirmed sale order, or by a call outcome.
    """

    _name = "crm.campaign.offer"
    _description = "Campaign Offer"
    _inherit = ["mail.thread"]
    _order = "date_start desc, id desc"

    name = fields.Char(required=True, translate=True, tracking=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    campaign_id = fields.Many2one(
        "crm.campaign",
        index="btree_not_null",
        ondelete="set null",
        help="Campaign this offer was made for. Any step of any campaign of the "
        "company may still carry it.",
    )
    code_kind = fields.Selection(
        [("shared", "Shared code"), ("unique", "Unique code per partner")],
        string="Code Type",
        default="unique",
        required=True,
        tracking=True,
        help="Shared: every partner gets the same code. Unique: each trace of a "
        "step carrying the offer gets its own random code.",
    )
    code = fields.Char(
        string="Shared Code",
        tracking=True,
        help="Code every partner types on the order (shared codes only).",
    )
    code_prefix = fields.Char(
        help="Text put before each generated unique code, e.g. VERANO-.",
    )
    discount_percent = fields.Float(
        string="Discount (%)",
        help="Discount the offer promises, in percent, shown on the offer page.",
    )
    description = fields.Html(
        translate=True,
        sanitize=True,
        help="Text shown on the web offer page under the title.",
    )
    date_start = fields.Date(string="Valid From", help="First day of validity.")
    date_end = fields.Date(
        string="Valid Until",
        help="Last day of validity. After it, the code is rejected on sale orders "
        "and the offer page shows the link as not valid.",
    )
    step_ids = fields.One2many("crm.campaign.step", "offer_id", string="Steps")
    trace_ids = fields.One2many("crm.campaign.trace", "offer_id", string="Traces")
    issued_count = fields.Integer(
        string="Issued", compute="_compute_counts", help="Traces that got this offer."
    )
    accepted_count = fields.Integer(
        string="Accepted",
        compute="_compute_counts",
        help="Traces whose offer was accepted, by any way.",
    )

    @api.depends("trace_ids")
    def _compute_counts(self):
        issued = dict(
            self.env["crm.campaign.trace"]._read_group(
                [("offer_id", "in", self.ids)], ["offer_id"], ["__count"]
            )
        )
        accepted = dict(
            self.env["crm.campaign.trace"]._read_group(
                [("offer_id", "in", self.ids), ("offer_accepted_at", "!=", False)],
                ["offer_id"],
                ["__count"],
            )
        )
        for offer in self:
            offer.issued_count = issued.get(offer._origin, 0)
            offer.accepted_count = accepted.get(offer._origin, 0)

    @api.constrains("code_kind", "code", "company_id", "active")
    def _check_code(self):
        for offer in self:
            if offer.code_kind != "shared":
                continue
            if not (offer.code or "").strip():
                raise ValidationError(
                    self.env._(
                        "Offer %(offer)s has a shared code type but no shared code. "
                        "Enter the code customers will type.",
                        offer=offer.name,
                    )
                )
            duplicate = self._search_shared_code(offer.code, offer.company_id) - offer
            if duplicate:
                raise ValidationError(
                    self.env._(
                        "The shared code %(code)s of offer %(offer)s is already the "
                        "code of offer %(other)s. Choose another code.",
                        code=offer.code,
                        offer=offer.name,
                        other=duplicate[0].name,
                    )
                )

    @api.constrains("date_start", "date_end", "discount_percent")
    def _check_values(self):
        for offer in self:
            if (
                offer.date_start
                and offer.date_end
                and offer.date_end < offer.date_start
            ):
                raise ValidationError(
                    self.env._(
                        "Offer %(offer)s ends on %(end)s, before it starts on "
                        "%(start)s.",
                        offer=offer.name,
                        end=offer.date_end,
                        start=offer.date_start,
                    )
                )
            if not 0 <= offer.discount_percent <= 100:
                raise ValidationError(
                    self.env._(
                        "The discount of offer %(offer)s must be between 0 and 100 "
                        "percent, got %(value)s.",
                        offer=offer.name,
                        value=offer.discount_percent,
                    )
                )

    @api.model
    def _search_shared_code(self, code, company):
        """Return the offers, archived included, whose shared code is ``code``
        in ``company``, ignoring case and surrounding spaces."""
        code = (code or "").strip().upper()
        if not code:
            return self.browse()
        # =ilike treats _ and % as wildcards, so the exact match is made here.
        candidates = self.with_context(active_test=False).search(
            [
                ("code_kind", "=", "shared"),
                ("code", "=ilike", code),
                ("company_id", "=", company.id),
            ]
        )
        return candidates.filtered(lambda offer: offer.code.strip().upper() == code)

    def _is_valid_on(self, day):
        """Return whether this offer is active and valid on the date ``day``."""
        self.ensure_one()
        return bool(
            self.active
            and (not self.date_start or self.date_start <= day)
            and (not self.date_end or day <= self.date_end)
        )

    def _generate_codes(self, count):
        """Return ``count`` new codes for this offer.

        Shared offers return their code ``count`` times. Unique offers draw
        random codes from ``secrets``; the unique index on the traces' codes
        rejects the (practically impossible) collision.
        """
        self.ensure_one()
        if self.code_kind == "shared":
            return [self.code.strip()] * count
        prefix = (self.code_prefix or "").strip().upper()
        return [
            prefix + "".join(secrets.choice(CODE_ALPHABET) for _i in range(CODE_LENGTH))
            for _n in range(count)
        ]

    def action_view_traces(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_campaign_automation.crm_campaign_trace_action"
        )
        action["domain"] = [("offer_id", "=", self.id)]
        action["context"] = {}
        return action
