from odoo import fields, models
from odoo.tools import SQL

from odoo.addons.crm_campaign_automation.models.crm_campaign_step import STEP_KINDS
from odoo.addons.crm_segments.models.crm_value_tier_log import VALUE_TIERS

from .crm_campaign_report import CrmCampaignReport

# Funnel stages in order, with the measure of crm.campaign.report each one
# counts. The numeric prefix makes grouped reads, which order a selection by
# its stored value, list the stages in funnel order.
FUNNEL_STAGES = [
    ("1_sent", "Sent", "sent"),
    ("2_delivered", "Delivered", "delivered"),
    ("3_opened", "Opened", "opened"),
    ("4_clicked", "Clicked", "clicked"),
    ("5_accepted", "Offer Accepted", "accepted"),
    ("6_converted", "Converted", "converted"),
]


class CrmCampaignFunnelReport(models.Model):
    """Campaign funnel: the measures of ``crm.campaign.report`` unpivoted
    into one row per trace and stage, so that a bar graph grouped by stage
    draws the funnel."""

    _name = "crm.campaign.funnel.report"
    _description = "Campaign Funnel"
    _auto = False
    _order = "stage"
    _rec_name = "stage"
    _depends = CrmCampaignReport._depends

    campaign_id = fields.Many2one("crm.campaign", readonly=True)
    step_id = fields.Many2one("crm.campaign.step", readonly=True)
    kind = fields.Selection(STEP_KINDS, string="Channel", readonly=True)
    value_tier = fields.Selection(VALUE_TIERS, readonly=True)
    date = fields.Date(readonly=True, help="Day the step ran, in UTC.")
    company_id = fields.Many2one("res.company", readonly=True)
    stage = fields.Selection(
        [(code, label) for code, label, _measure in FUNNEL_STAGES], readonly=True
    )
    partners = fields.Integer(readonly=True, help="Steps that reached this stage.")

    @property
    def _table_query(self):
        stages = SQL(", ").join(
            SQL("(%s, %s, report.%s)", number, code, SQL.identifier(measure))
            for number, (code, _label, measure) in enumerate(FUNNEL_STAGES, start=1)
        )
        return SQL(
            """
            SELECT report.id * %(count)s + stage.number AS id,
                   report.campaign_id,
                   report.step_id,
                   report.kind,
                   report.value_tier,
                   report.date,
                   report.company_id,
                   stage.code AS stage,
                   stage.partners
              FROM (%(report)s) report
        CROSS JOIN LATERAL (VALUES %(stages)s) AS stage(number, code, partners)
             WHERE report.sent = 1
            """,
            count=len(FUNNEL_STAGES) + 1,
            report=self.env["crm.campaign.report"]._table_query,
            stages=stages,
        )
