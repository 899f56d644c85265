from odoo import api, fields, models


class CrmConsentRequestWizard(models.TransientModel):
    """Ask partners by e-mail to confirm a subscription (double opt-in)."""

    _name = "crm.consent.request.wizard"
    _description = "Request Consent by E-mail"

    partner_ids = fields.Many2many("res.partner", string="Customers", required=True)
    purpose_id = fields.Many2one(
        "crm.consent.purpose",
        required=True,
        domain=[("is_transactional", "=", False)],
        default=lambda self: self.env.ref(
            "crm_consent.purpose_marketing", raise_if_not_found=False
        ),
    )
    proof = fields.Text(
        help="How the customers asked to subscribe, kept with the pending request.",
    )
    missing_email_count = fields.Integer(compute="_compute_missing_email_count")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if self.env.context.get("active_model") == "res.partner":
            values["partner_ids"] = [(6, 0, self.env.context.get("active_ids", []))]
        return values

    @api.depends("partner_ids")
    def _compute_missing_email_count(self):
        for wizard in self:
            wizard.missing_email_count = len(
                wizard.partner_ids.filtered(
                    lambda partner: not partner.email_normalized
                )
            )

    def action_send(self):
        """Record a pending grant per partner and e-mail each a confirmation link."""
        self.ensure_one()
        partners = self.partner_ids.filtered("email_normalized")
        partners.consent_record(
            "email",
            "granted",
            self.purpose_id.code,
            source="form",
            proof=self.proof or False,
            double_opt_in=True,
            origin=self.env._("Back-office consent request"),
        )
        return {"type": "ir.actions.act_window_close"}
