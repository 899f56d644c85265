from odoo import api, models


class MailBlacklist(models.Model):
    _name = "mail.blacklist"
    _inherit = ["mail.blacklist", "crm.consent.blacklist.mixin"]

    _crm_consent_channel_code = "email"

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        records.filtered("active")._crm_consent_sync("refused")
        return records

    def write(self, vals):
        return self._crm_consent_write_active(vals, super().write)

    def _add(self, email, message=None):
        return super(
            MailBlacklist, self.with_context(crm_consent_blacklist_reason=message)
        )._add(email, message=message)

    def _remove(self, email, message=None):
        return super(
            MailBlacklist, self.with_context(crm_consent_blacklist_reason=message)
        )._remove(email, message=message)

    def _crm_consent_partners(self):
        emails = [email for email in self.mapped("email") if email]
        if not emails:
            return self.env["res.partner"]
        return (
            self.env["res.partner"]
            .sudo()
            .with_context(active_test=False)
            .search([("email_normalized", "in", emails)])
        )
