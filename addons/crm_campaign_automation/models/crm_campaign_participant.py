from odoo import api, fields, models
from odoo.tools import SQL

from ..tools.experiment_assignment import assignment_fraction

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
    is_holdout = fields.Boolean(
        string="Holdout",
        readonly=True,
        index=True,
        help="In the campaign's holdout group: receives no step, and counts as "
        "the comparison group of the campaign's uplift. Assigned at entry from "
        "a hash of the campaign's seed and the partner, so the same partner "
        "gets the same answer each time it enters.",
    )
    trace_ids = fields.One2many("crm.campaign.trace", "participant_id", string="Traces")

    @api.model_create_multi
    def create(self, vals_list):
        campaigns = self.env["crm.campaign"].browse(
            {vals["campaign_id"] for vals in vals_list if vals.get("campaign_id")}
        )
        campaigns_by_id = {campaign.id: campaign.sudo() for campaign in campaigns}
        for vals in vals_list:
            campaign = campaigns_by_id.get(vals.get("campaign_id"))
            if "is_holdout" in vals or not campaign or not campaign.holdout_percent:
                continue
            fraction = assignment_fraction(
                campaign.experiment_seed, campaign.id, vals.get("partner_id"), "holdout"
            )
            vals["is_holdout"] = fraction * 100 < campaign.holdout_percent
        return super().create(vals_list)

    @api.model
    def _purchase_after_sql(self, partner_column, date_column, company_id):
        """Return a subquery of the purchases of a partner after a moment, for a
        ``JOIN LATERAL``: one row with ``order_count`` and ``revenue``.

        Orders count when confirmed, of the partner's commercial entity, in
        ``company_id`` and dated at or after ``date_column``. Revenue sums the
        customer-ledger amounts of those orders (company currency, untaxed).
        """
        self.env["res.partner"].flush_model(["commercial_partner_id"])
        self.env["sale.order"].flush_model(
            ["partner_id", "state", "date_order", "company_id"]
        )
        self.env["crm.customer.transaction"].flush_model(
            ["res_model", "res_id", "amount"]
        )
        return SQL(
            """
            SELECT COUNT(sale_order.id) AS order_count,
                   COALESCE(SUM(ledger.amount), 0) AS revenue
              FROM res_partner partner
              JOIN res_partner buyer
                ON buyer.commercial_partner_id = partner.commercial_partner_id
              JOIN sale_order ON sale_order.partner_id = buyer.id
         LEFT JOIN crm_customer_transaction ledger
                ON ledger.res_model = 'sale.order'
               AND ledger.res_id = sale_order.id
             WHERE partner.id = %(partner_column)s
               AND sale_order.state = 'sale'
               AND sale_order.company_id = %(company_id)s
               AND sale_order.date_order >= %(date_column)s
            """,
            partner_column=partner_column,
            date_column=date_column,
            company_id=company_id,
        )

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
