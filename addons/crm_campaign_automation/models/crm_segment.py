from odoo import fields, models
from odoo.osv import expression


class CrmSegment(models.Model):
    """Static members set by campaign actions, kept across refreshes."""

    _inherit = "crm.segment"

    campaign_added_partner_ids = fields.Many2many(
        "res.partner",
        "crm_segment_campaign_added_rel",
        "segment_id",
        "partner_id",
        string="Added by Campaigns",
        copy=False,
        help="Partners a campaign action added: they are members even when they "
        "do not match the segment's criteria.",
    )
    campaign_removed_partner_ids = fields.Many2many(
        "res.partner",
        "crm_segment_campaign_removed_rel",
        "segment_id",
        "partner_id",
        string="Removed by Campaigns",
        copy=False,
        help="Partners a campaign action removed: they are never members, even "
        "when they match the segment's criteria.",
    )

    def _get_member_domain(self):
        domain = super()._get_member_domain()
        if self.campaign_added_partner_ids:
            domain = expression.OR(
                [domain, [("id", "in", self.campaign_added_partner_ids.ids)]]
            )
        if self.campaign_removed_partner_ids:
            domain = expression.AND(
                [domain, [("id", "not in", self.campaign_removed_partner_ids.ids)]]
            )
        return domain

    def _campaign_set_static_members(self, partners, add=True):
        """Add ``partners`` to this segment, or remove them, and refresh it.

        The refresh applies the change at once and logs the entries and exits
        as any refresh does.
        """
        # NOTE: the refresh recomputes the whole segment once per executor
        # batch and step, so action steps on large segments are slow.
        self.ensure_one()
        if add:
            self.write(
                {
                    "campaign_added_partner_ids": [
                        fields.Command.link(pid) for pid in partners.ids
                    ],
                    "campaign_removed_partner_ids": [
                        fields.Command.unlink(pid) for pid in partners.ids
                    ],
                }
            )
        else:
            self.write(
                {
                    "campaign_added_partner_ids": [
                        fields.Command.unlink(pid) for pid in partners.ids
                    ],
                    "campaign_removed_partner_ids": [
                        fields.Command.link(pid) for pid in partners.ids
                    ],
                }
            )
        self._refresh_members()
