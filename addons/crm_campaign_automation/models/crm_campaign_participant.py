from odoo import fields, models
from odoo.tools import SQL

PARTICIPANT_STATES = [
    ("running", "Running"),
    ("completed", "Completed"),
    ("converted", "Converted"),
    ("canceled", "Canceled"),
]


class CrmCampaignParticipant(models.Model):
    """One journey of one partner through one campaign.

    A partial unique index allows at most one running participant per
    partner and campaign. A finished journey may be followed by another one
    when the campaign allows re-entry.
    """

    _name = "crm.campaign.participant"
    _description = "Campaign Participant"
    _order = "entry_date desc, id desc"
    _rec_name = "partner_id"

    campaign_id = fields.Many2one(
        "crm.campaign", required=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(related="campaign_id.company_id", store=True)
    partner_id = fields.Many2one(
        "res.partner", required=True, index=True, ondelete="cascade"
    )
    state = fields.Selection(
        PARTICIPANT_STATES, default="running", required=True, index=True
    )
    entry_date = fields.Datetime(
        required=True,
        default=fields.Datetime.now,
        help="When the partner entered, in UTC; first steps count their delay "
        "from it and the purchase goal counts orders confirmed after it.",
    )
    conversion_date = fields.Datetime(readonly=True)
    trace_ids = fields.One2many("crm.campaign.trace", "participant_id", string="Traces")

    def init(self):
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS crm_campaign_participant_running_unique
                ON crm_campaign_participant (campaign_id, partner_id)
             WHERE state = 'running'
            """
        )

    def action_cancel(self):
        """End these journeys: their scheduled steps are canceled."""
        self.write({"state": "canceled"})
        self.trace_ids.filtered(lambda trace: trace.state == "scheduled").write(
            {"state": "canceled", "skip_reason": "stopped"}
        )
        return True

    def _check_goal(self):
        """Mark as converted the running participants whose campaign goal is
        reached: a purchase goal needs a sale order of the partner's company
        confirmed after entry. Returns the converted participants."""
        candidates = self.filtered(
            lambda p: p.state == "running" and p.campaign_id.goal == "purchase"
        )
        if not candidates:
            return self.browse()
        self.flush_model(["partner_id", "entry_date", "state"])
        self.env["res.partner"].flush_model(["commercial_partner_id"])
        self.env["sale.order"].flush_model(["partner_id", "state", "date_order"])
        rows = self.env.execute_query(
            SQL(
                """
                SELECT participant.id, MIN(sale_order.date_order)
                  FROM crm_campaign_participant participant
                  JOIN res_partner partner ON partner.id = participant.partner_id
                  JOIN res_partner buyer
                    ON buyer.commercial_partner_id = partner.commercial_partner_id
                  JOIN sale_order ON sale_order.partner_id = buyer.id
                 WHERE participant.id = ANY(%s)
                   AND sale_order.state = 'sale'
                   AND sale_order.date_order >= participant.entry_date
              GROUP BY participant.id
                """,
                candidates.ids,
            )
        )
        converted = self.browse()
        for participant_id, order_date in rows:
            participant = self.browse(participant_id)
            participant.write({"state": "converted", "conversion_date": order_date})
            converted |= participant
        converted.trace_ids.filtered(lambda t: t.state == "scheduled").write(
            {"state": "canceled", "skip_reason": "goal"}
        )
        return converted

    def _complete_finished(self):
        """Mark running participants without scheduled steps as completed."""
        finished = self.filtered(
            lambda p: (
                p.state == "running"
                and not any(trace.state == "scheduled" for trace in p.trace_ids)
            )
        )
        finished.write({"state": "completed"})
        return finished
