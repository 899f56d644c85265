from odoo import fields, models
from odoo.tools import SQL

from .crm_campaign_report import CrmCampaignReport

# Multiplier of the trace id in the row id of the segment analysis, so that
# (trace, segment) pairs get distinct ids while segment ids stay below it.
SEGMENT_ID_FACTOR = 1_000_000


class CrmCampaignSegmentReport(models.Model):
    """Responses to campaign steps per segment of the partner.

    A partner can belong to several segments, so this analysis has one row
    per trace and segment the partner is a member of now
    (``crm.segment.partner_ids``, as last refreshed). A trace of a partner
    in two segments counts in both, and a partner in no segment does not
    appear: totals over segments are not the campaign's totals, which
    ``crm.campaign.report`` gives.
    """

    _name = "crm.campaign.segment.report"
    _inherit = "crm.campaign.report"
    _description = "Campaign Analysis per Segment"
    _auto = False
    _log_access = False
    _order = "date desc, segment_id, campaign_id, step_id"
    _depends = {
        **CrmCampaignReport._depends,
        "crm.segment": ["company_id", "partner_ids"],
    }

    segment_id = fields.Many2one("crm.segment", readonly=True)

    def init(self):
        # The indexes are created by crm.campaign.report.
        return

    @property
    def _table_query(self):
        base = self.env["crm.campaign.report"]
        return SQL(
            """
            SELECT %(columns)s,
                   report.id::bigint * %(factor)s + membership.segment_id AS id,
                   membership.segment_id
              FROM (%(report)s) report
              JOIN crm_segment_partner_rel membership
                ON membership.partner_id = report.partner_id
              JOIN crm_segment segment
                ON segment.id = membership.segment_id
               AND segment.company_id = report.company_id
            """,
            columns=SQL(", ").join(
                SQL.identifier("report", column) for column in base._report_columns()
            ),
            factor=SEGMENT_ID_FACTOR,
            report=base._table_query,
        )
