from odoo import fields, models

REGIMES = [
    ("opt_in", "Opt-in: consent first"),
    ("opt_out", "Opt-out: contact until refused"),
    ("soft_opt_in", "Soft opt-in: customers who bought, until refused"),
]


class CrmConsentRegime(models.Model):
    """Default contact rule of a company for one country and channel.

    It decides what the gate does for a partner of that country who was never
    asked, for every purpose that is not transactional. Without a regime for
    the partner's country, the purpose's own regime applies.
    """

    _name = "crm.consent.regime"
    _description = "Consent Regime"
    _order = "company_id, country_id, channel_id"

    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    country_id = fields.Many2one("res.country", required=True, index=True)
    channel_id = fields.Many2one(
        "crm.consent.channel", required=True, ondelete="cascade"
    )
    regime = fields.Selection(REGIMES, required=True, default="opt_in")
    note = fields.Char(help="Law or guideline behind the rule, for reference.")

    _sql_constraints = [
        (
            "company_country_channel_unique",
            "unique (company_id, country_id, channel_id)",
            "A company has one regime per country and channel.",
        ),
    ]
