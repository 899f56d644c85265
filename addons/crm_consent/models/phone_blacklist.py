from odoo import api, models


class PhoneBlacklist(models.Model):
    """Record SMS blacklist changes in the consent ledger.

    Odoo's phone blacklist blocks SMS only, so it maps to the ``sms`` channel
    and leaves phone calls and WhatsApp alone.
    """

    _inherit = "phone.blacklist"

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

    def _add(self, numbers, message=None):
        return super(
            PhoneBlacklist, self.with_context(crm_consent_blacklist_reason=message)
        )._add(numbers, message=message)

    def _remove(self, numbers, message=None):
        return super(
            PhoneBlacklist, self.with_context(crm_consent_blacklist_reason=message)
        )._remove(numbers, message=message)

    def _crm_consent_partners(self):
        numbers = [number for number in self.mapped("number") if number]
        if not numbers:
            return self.env["res.partner"]
        return (
            self.env["res.partner"]
            .sudo()
            .with_context(active_test=False)
            .search(
                ["|", ("phone_e164", "in", numbers), ("mobile_e164", "in", numbers)]
            )
        )

    def _crm_consent_sync_refusals(self):
        """Refuse SMS for every non-transactional purpose of the listed numbers."""
        if self.env.context.get("crm_consent_skip_blacklist_sync") or not self:
            return
        partners = self._crm_consent_partners()
        if partners:
            self.env["crm.consent"]._record_blacklist_change(
                partners,
                "sms",
                "refused",
                self.env.context.get("crm_consent_blacklist_reason"),
            )

    def _crm_consent_sync_grants(self):
        """Grant SMS marketing again to the partners of lifted numbers."""
        if self.env.context.get("crm_consent_skip_blacklist_sync") or not self:
            return
        partners = self._crm_consent_partners()
        if partners:
            self.env["crm.consent"]._record_blacklist_change(
                partners,
                "sms",
                "granted",
                self.env.context.get("crm_consent_blacklist_reason"),
            )
