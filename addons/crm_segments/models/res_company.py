from odoo import fields, models

TIER_RULES = [
    ("top_percent", "Top share by lifetime value"),
    ("rfm_segments", "RFM segments"),
]


class ResCompany(models.Model):
    _inherit = "res.company"

    rfm_window_days = fields.Integer(
        string="RFM Window (days)",
        default=365,
        help="Purchases older than this many days do not count for the RFM "
        "scores; customers with no purchase in the window are lost.",
    )
    tier_one_to_one_rule = fields.Selection(
        TIER_RULES, string="One-to-one Tier Rule", default="top_percent", required=True
    )
    tier_one_to_one_percent = fields.Float(
        string="One-to-one Share (%)",
        default=5.0,
        help="Share of the company's customers, by lifetime value, in the "
        "one-to-one tier.",
    )
    tier_one_to_one_rfm_segment_ids = fields.Many2many(
        "crm.rfm.segment",
        "res_company_tier_one_to_one_rfm_rel",
        "company_id",
        "rfm_segment_id",
        string="One-to-one RFM Segments",
    )
    tier_database_rule = fields.Selection(
        TIER_RULES, string="Database Tier Rule", default="top_percent", required=True
    )
    tier_database_percent = fields.Float(
        string="Database Share (%)",
        default=50.0,
        help="Share of the company's customers, by lifetime value and counting "
        "the one-to-one tier, in the one-to-one or database tier.",
    )
    tier_database_rfm_segment_ids = fields.Many2many(
        "crm.rfm.segment",
        "res_company_tier_database_rfm_rel",
        "company_id",
        "rfm_segment_id",
        string="Database RFM Segments",
    )
