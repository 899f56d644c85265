from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    crm_consent_double_opt_in_days = fields.Integer(
        string="Double opt-in period (days)",
        config_parameter="crm_consent.double_opt_in_days",
        default=7,
        help="Days a customer has to confirm a double opt-in request before it "
        "lapses and is recorded as refused.",
    )
    crm_consent_link_validity_days = fields.Integer(
        string="Link validity (days)",
        config_parameter="crm_consent.link_validity_days",
        default=365,
        help="Days a preference centre or unsubscribe link keeps working.",
    )
    crm_consent_repermission_months = fields.Integer(
        string="Re-permission age (months)",
        config_parameter="crm_consent.repermission_months",
        default=24,
        help="Grants older than this are listed for re-permission.",
    )

    def action_crm_consent_rotate_secret(self):
        """Invalidate every preference, unsubscribe and confirmation link sent so far."""
        self.env["crm.consent.token"]._rotate_secret()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._(
                    "Links signed with the previous secret no longer work."
                ),
            },
        }
