from odoo import fields, models
from odoo.models import parse_read_group_spec
from odoo.tools import SQL

# Weeks after entry followed per cohort; the row id packs the week number
# below this bound.
COHORT_WEEKS = 26


class CrmCampaignCohortReport(models.Model):
    """Cohort analysis of campaign participants, for Odoo Community's pivot.

    Odoo Community has no cohort view, so cohorts are rows of this SQL view:
    one per campaign, company, entry week (the Monday of the week the
    participants entered, UTC) and week since entry (0 for the entry week, up
    to ``COHORT_WEEKS`` or the current week). ``participants`` is the size of
    the cohort and ``converted`` the participants converted by the end of
    that week, so a pivot of entry week by week since entry with
    ``conversion_rate`` reads as a classic cohort table. Totals across weeks
    since entry add the same cohort several times: read the cells.
    """

    _name = "crm.campaign.cohort.report"
    _description = "Campaign Cohort Analysis"
    _auto = False
    _order = "entry_week desc, week_number"
    _rec_name = "entry_week"
    _depends = {
        "crm.campaign": ["company_id"],
        "crm.campaign.participant": [
            "campaign_id",
            "entry_date",
            "state",
            "conversion_date",
        ],
    }

    campaign_id = fields.Many2one("crm.campaign", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    entry_week = fields.Date(
        readonly=True, help="Monday of the week the participants entered, UTC."
    )
    week_number = fields.Integer(
        string="Weeks since Entry",
        readonly=True,
        aggregator=False,
        help="0 for the week of entry, 1 for the next week, and so on.",
    )
    participants = fields.Integer(
        readonly=True, help="Partners who entered the campaign that week."
    )
    converted = fields.Integer(
        readonly=True,
        help="Participants of the cohort who reached the goal by the end of "
        "this week since entry.",
    )
    conversion_rate = fields.Float(
        string="Conversion Rate (%)", readonly=True, aggregator="avg", digits=(16, 2)
    )

    @property
    def _table_query(self):
        return SQL(
            """
            SELECT MIN(participant.id) * %(id_factor)s + week.number AS id,
                   participant.campaign_id,
                   campaign.company_id,
                   date_trunc('week', participant.entry_date)::date AS entry_week,
                   week.number AS week_number,
                   COUNT(*)::integer AS participants,
                   COUNT(*) FILTER (
                       WHERE participant.state = 'converted'
                         AND participant.conversion_date
                             < date_trunc('week', participant.entry_date)
                               + make_interval(weeks => week.number + 1)
                   )::integer AS converted,
                   ROUND(100.0 * COUNT(*) FILTER (
                       WHERE participant.state = 'converted'
                         AND participant.conversion_date
                             < date_trunc('week', participant.entry_date)
                               + make_interval(weeks => week.number + 1)
                   ) / COUNT(*), 2) AS conversion_rate
              FROM crm_campaign_participant participant
              JOIN crm_campaign campaign ON campaign.id = participant.campaign_id
        CROSS JOIN LATERAL generate_series(
                   0,
                   LEAST(
                       %(weeks)s,
                       GREATEST(
                           0,
                           (now() AT TIME ZONE 'UTC')::date
                           - date_trunc('week', participant.entry_date)::date
                       ) / 7
                   )
               ) AS week(number)
             WHERE participant.entry_date IS NOT NULL
          GROUP BY participant.campaign_id,
                   campaign.company_id,
                   date_trunc('week', participant.entry_date)::date,
                   week.number
            """,
            id_factor=COHORT_WEEKS + 1,
            weeks=COHORT_WEEKS,
        )

    def _read_group_select(self, aggregate_spec, query):
        """Compute the conversion rate from the sums, whatever the aggregate."""
        if aggregate_spec != "__count":
            fname, _property, _func = parse_read_group_spec(aggregate_spec)
            if fname == "conversion_rate":
                converted = self._field_to_sql(self._table, "converted", query)
                participants = self._field_to_sql(self._table, "participants", query)
                return SQL(
                    "ROUND(COALESCE(100.0 * SUM(%s) / NULLIF(SUM(%s), 0), 0), 2)",
                    converted,
                    participants,
                )
        return super()._read_group_select(aggregate_spec, query)
