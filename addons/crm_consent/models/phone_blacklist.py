from odoo import api, models


class PhoneBlacklist(models.Model):
    """SMS blacklist: Odoo's phone blacklist blocks SMS only, not calls."""

    _name = "phone.blacklist"
    _inherit = ["phone.blacklist", "crm.consent.blacklist.mixin"]

    _crm_consent_channel_code = "sms"

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        records.filtered("active")._crm_consent_sync("refused")
        return records

    def write(self, vals):
        return self._crm_consent_write_active(vals, super().write)

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
