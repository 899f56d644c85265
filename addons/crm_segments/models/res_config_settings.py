from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    rfm_window_days = fields.Integer(
        related="company_id.rfm_window_days", readonly=False
    )
    tier_one_to_one_rule = fields.Selection(
        related="company_id.tier_one_to_one_rule", readonly=False
    )
    tier_one_to_one_percent = fields.Float(
        related="company_id.tier_one_to_one_percent", readonly=False
    )
    tier_one_to_one_rfm_segment_ids = fields.Many2many(
        related="company_id.tier_one_to_one_rfm_segment_ids", readonly=False
    )
    tier_database_rule = fields.Selection(
        related="company_id.tier_database_rule", readonly=False
    )
    tier_database_percent = fields.Float(
        related="company_id.tier_database_percent", readonly=False
    )
    tier_database_rfm_segment_ids = fields.Many2many(
        related="company_id.tier_database_rfm_segment_ids", readonly=False
    )
