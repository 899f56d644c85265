from odoo import fields, models


class CrmConsentChannel(models.Model):
    _name = "crm.consent.channel"
    _description = "Consent Channel"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    code = fields.Char(
        required=True,
        help="Technical code used by the API and by campaigns, for example 'email'.",
    )
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    address_type = fields.Selection(
        [
            ("email", "E-mail address"),
            ("phone", "Phone number"),
            ("postal", "Postal address"),
            ("none", "None"),
        ],
        required=True,
        default="none",
        help="Contact detail a partner needs before this channel can reach them.",
    )
    description = fields.Text(translate=True)

    _sql_constraints = [
        (
            "code_unique",
            "unique (code)",
            "A consent channel with this code already exists.",
        ),
    ]
