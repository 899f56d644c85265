from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    campaign_pressure_limit = fields.Integer(
        string="Marketing Contacts per Period",
        default=3,
        help="Maximum number of marketing contacts (e-mails, SMS, calls, letters) "
        "one partner receives from all campaigns within the period. 0 means no "
        "limit. Transactional campaigns do not count.",
    )
    campaign_pressure_days = fields.Integer(
        string="Contact Pressure Period (days)",
        default=7,
        help="Length of the sliding window, in days, over which marketing contacts "
        "are counted.",
    )
    campaign_hour_from = fields.Float(
        string="Contact From",
        default=9.0,
        help="Local hour, in the partner's time zone, from which campaign steps may "
        "reach partners.",
    )
    campaign_hour_to = fields.Float(
        string="Contact Until",
        default=21.0,
        help="Local hour, in the partner's time zone, after which campaign steps "
        "wait until the next allowed moment.",
    )
    campaign_weekday_0 = fields.Boolean(string="Monday", default=True)
    campaign_weekday_1 = fields.Boolean(string="Tuesday", default=True)
    campaign_weekday_2 = fields.Boolean(string="Wednesday", default=True)
    campaign_weekday_3 = fields.Boolean(string="Thursday", default=True)
    campaign_weekday_4 = fields.Boolean(string="Friday", default=True)
    campaign_weekday_5 = fields.Boolean(string="Saturday", default=True)
    campaign_weekday_6 = fields.Boolean(string="Sunday", default=False)

    def _campaign_allowed_weekdays(self):
        """Return the weekday numbers (Monday is 0) on which steps may contact."""
        self.ensure_one()
        return {day for day in range(7) if self[f"campaign_weekday_{day}"]}
