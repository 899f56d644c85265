from odoo import api, models


class MailBlacklist(models.Model):
    """Record blacklist changes in the consent ledger.

    Every path that adds or lifts an entry (Odoo's unsubscribe page, a user,
    a bounce rule, an import) ends in ``create`` or ``write``, so hooking
    them is enough. ``_add`` and ``_remove`` also pass their message on, so
    the reason a user typed becomes the proof of the event.
    """

    _inherit = "mail.blacklist"

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        records.filtered("active")._crm_consent_sync_refusals()
        return records

    def write(self, vals):
        if "active" not in vals:
            return super().write(vals)
        changed = self.filtered(lambda entry: entry.active != bool(vals["active"]))
        result = super().write(vals)
        if vals["active"]:
            changed._crm_consent_sync_refusals()
        else:
            changed._crm_consent_sync_grants()
        return result

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

    def _crm_consent_sync_refusals(self):
        """Refuse e-mail for every non-transactional purpose of the listed addresses."""
        if self.env.context.get("crm_consent_skip_blacklist_sync") or not self:
            return
        partners = self._crm_consent_partners()
        if partners:
            self.env["crm.consent"]._record_blacklist_change(
                partners,
                "email",
                "refused",
                self.env.context.get("crm_consent_blacklist_reason"),
            )

    def _crm_consent_sync_grants(self):
        """Grant e-mail marketing again to the partners of lifted addresses."""
        if self.env.context.get("crm_consent_skip_blacklist_sync") or not self:
            return
        partners = self._crm_consent_partners()
        if partners:
            self.env["crm.consent"]._record_blacklist_change(
                partners,
                "email",
                "granted",
                self.env.context.get("crm_consent_blacklist_reason"),
            )
