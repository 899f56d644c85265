from odoo import fields, models


class CrmConsentPurpose(models.Model):
    _name = "crm.consent.purpose"
    _description = "Consent Purpose"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    code = fields.Char(
        required=True,
        help="Technical code used by the API and by campaigns, for example 'marketing'.",
    )
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    regime = fields.Selection(
        [
            ("opt_in", "Opt-in: contact only after a grant"),
            ("opt_out", "Opt-out: contact until refused"),
        ],
        required=True,
        default="opt_in",
        help="Whether a partner who was never asked may be contacted for this purpose.",
    )
    is_transactional = fields.Boolean(
        string="Transactional",
        help="Messages the customer needs whatever their marketing choices, such as "
        "invoices and order confirmations. Blacklists do not refuse this purpose.",
    )
    description = fields.Text(translate=True)

    _sql_constraints = [
        (
            "code_unique",
            "unique (code)",
            "A consent purpose with this code already exists.",
        ),
    ]
