from odoo import models


class CrmConsentBlacklistMixin(models.AbstractModel):
    """Record changes of an Odoo blacklist in the consent ledger.

    Models that inherit it set ``_crm_consent_channel_code`` and implement
    ``_crm_consent_partners``, then call ``_crm_consent_sync`` from their
    ``create`` and ``write``: every path that adds or lifts an entry (the
    unsubscribe page, a user, a bounce rule, an import) ends in one of them.
    """

    _name = "crm.consent.blacklist.mixin"
    _description = "Consent Blacklist Synchronisation"

    _crm_consent_channel_code = None

    def _crm_consent_partners(self):
        """Return the partners whose address is one of these entries."""
        raise NotImplementedError

    def _crm_consent_sync(self, state):
        """Record ``refused`` for new entries or ``granted`` for lifted ones.

        The reason a user typed in ``_add`` or ``_remove`` reaches here in the
        context and becomes the proof of the events.
        """
        if self.env.context.get("crm_consent_skip_blacklist_sync") or not self:
            return
        partners = self._crm_consent_partners()
        if partners:
            self.env["crm.consent"]._record_blacklist_change(
                partners,
                self._crm_consent_channel_code,
                state,
                self.env.context.get("crm_consent_blacklist_reason"),
            )

    def _crm_consent_write_active(self, vals, write):
        """Call ``write(vals)`` and record the entries it activated or lifted."""
        if "active" not in vals:
            return write(vals)
        changed = self.filtered(lambda entry: entry.active != bool(vals["active"]))
        result = write(vals)
        changed._crm_consent_sync("refused" if vals["active"] else "granted")
        return result
