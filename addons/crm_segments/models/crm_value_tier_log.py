from odoo import fields, models

VALUE_TIERS = [
    ("one_to_one", "One-to-one"),
    ("database", "Database"),
    ("mass", "Mass"),
]


class CrmValueTierLog(models.Model):
    """Change of the value tier of one partner, written by the profile refresh."""

    _name = "crm.value.tier.log"
    _description = "Value Tier Change"
    _order = "date desc, id desc"
    _log_access = False

    partner_id = fields.Many2one(
        "res.partner", required=True, index=True, ondelete="cascade", readonly=True
    )
    company_id = fields.Many2one("res.company", index=True, readonly=True)
    previous_tier = fields.Selection(VALUE_TIERS, readonly=True)
    tier = fields.Selection(VALUE_TIERS, string="New Tier", readonly=True)
    date = fields.Datetime(required=True, readonly=True, index=True)
