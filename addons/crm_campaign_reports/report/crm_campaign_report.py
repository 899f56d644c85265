from odoo import fields, models
from odoo.models import parse_read_group_spec
from odoo.tools import SQL
from odoo.tools.sql import create_index

from odoo.addons.crm_campaign_automation.models.crm_campaign_step import STEP_KINDS
from odoo.addons.crm_segments.models.crm_value_tier_log import VALUE_TIERS

# Rate fields as (numerator, denominator) measures. Grouped reads compute them
# from the sums of both, because averaging the rates of the rows would weigh a
# day with 1 message like a day with 10,000.
RATES = {
    "open_rate": ("opened", "delivered"),
    "click_rate": ("clicked", "delivered"),
    "conversion_rate": ("converted", "sent"),
}

# Measures shown per step in the PDF and XLSX reports, with their read_group
# aggregate. Any aggregate of a rate returns the ratio of the sums in RATES.
REPORT_MEASURES = {
    "sent": "sum",
    "delivered": "sum",
    "opened": "sum",
    "clicked": "sum",
    "replied": "sum",
    "bounced": "sum",
    "unsubscribed": "sum",
    "skipped": "sum",
    "failed": "sum",
    "converted": "sum",
    "revenue": "sum",
    "open_rate": "avg",
    "click_rate": "avg",
    "conversion_rate": "avg",
}

# Step kinds that reach a partner and so can be credited with a response.
TOUCH_KINDS = ("email", "sms", "call", "postal", "web")


class CrmCampaignReport(models.Model):
    """Offers and responses of campaigns per campaign, step, tier and day.

    One row per campaign, step, value tier of the partner and day of
    execution, over the traces that ran (done, skipped or in error).
    Responses are credited as follows:

    - opens, clicks, replies and bounces come from the ``mailing.trace`` of
      the e-mail or SMS;
    - a purchase of the ledger counts for the last trace that touched the
      buyer (any campaign of the same company) on or before the purchase day
      and at most ``attribution_days`` days before it;
    - an unsubscribe (consent event with source ``unsubscribe``) counts for
      the last trace that touched the partner before it, in the same window;
    - a conversion counts for the last trace of the participant that ran at or
      before its conversion date.
    """

    _name = "crm.campaign.report"
    _description = "Campaign Analysis"
    _auto = False
    _order = "date desc, campaign_id, step_id"
    _rec_name = "step_id"
    # Flushed before the view is read, so that pending ORM writes count.
    _depends = {
        "crm.campaign": ["attribution_days", "company_id"],
        "crm.campaign.participant": ["state", "conversion_date"],
        "crm.campaign.trace": [
            "campaign_id",
            "step_id",
            "partner_id",
            "participant_id",
            "kind",
            "state",
            "executed_at",
            "scheduled_at",
            "company_id",
            "mailing_trace_id",
        ],
        "crm.consent.event": ["partner_id", "source", "state", "date"],
        "crm.customer.transaction": [
            "partner_id",
            "date",
            "amount",
            "kind",
            "company_id",
        ],
        "mailing.trace": [
            "trace_status",
            "open_datetime",
            "links_click_datetime",
            "reply_datetime",
        ],
        "res.company": ["currency_id"],
        "res.partner": ["commercial_partner_id", "value_tier"],
    }

    campaign_id = fields.Many2one("crm.campaign", readonly=True)
    step_id = fields.Many2one("crm.campaign.step", readonly=True)
    kind = fields.Selection(STEP_KINDS, string="Channel", readonly=True)
    value_tier = fields.Selection(
        VALUE_TIERS,
        readonly=True,
        help="Current value tier of the partner, not the tier at sending time.",
    )
    date = fields.Date(
        readonly=True,
        help="Day the step ran, in UTC, or was scheduled if it never ran.",
    )
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)

    sent = fields.Integer(readonly=True, help="Steps done.")
    delivered = fields.Integer(
        readonly=True,
        help="E-mails and SMS the provider accepted (sent, opened or replied), "
        "plus calls and letters done.",
    )
    opened = fields.Integer(readonly=True)
    clicked = fields.Integer(readonly=True)
    replied = fields.Integer(readonly=True)
    bounced = fields.Integer(readonly=True)
    unsubscribed = fields.Integer(
        readonly=True,
        help="Partners who used an unsubscribe link within the attribution "
        "window after this step, credited to the last step that reached them.",
    )
    skipped = fields.Integer(
        readonly=True,
        help="Steps the contact gate rejected for consent or contact pressure.",
    )
    failed = fields.Integer(readonly=True, help="Steps that ended in error.")
    converted = fields.Integer(
        readonly=True,
        help="Participants who reached the campaign goal, credited to their last "
        "step before the conversion.",
    )
    revenue = fields.Monetary(
        readonly=True,
        help="Purchases of the customer ledger within the attribution window "
        "after the step, credited to the last step that reached the customer.",
    )
    open_rate = fields.Float(
        string="Open Rate (%)", readonly=True, aggregator="avg", digits=(16, 2)
    )
    click_rate = fields.Float(
        string="Click Rate (%)", readonly=True, aggregator="avg", digits=(16, 2)
    )
    conversion_rate = fields.Float(
        string="Conversion Rate (%)", readonly=True, aggregator="avg", digits=(16, 2)
    )

    def init(self):
        cr = self.env.cr
        create_index(
            cr,
            "crm_campaign_report_trace_touch_index",
            "crm_campaign_trace",
            ["partner_id", "executed_at"],
            where="state = 'done'",
        )
        create_index(
            cr,
            "crm_campaign_report_trace_participant_index",
            "crm_campaign_trace",
            ["participant_id", "executed_at"],
            where="state = 'done'",
        )
        create_index(
            cr,
            "crm_campaign_report_transaction_purchase_index",
            "crm_customer_transaction",
            ["partner_id", "date"],
            where="kind = 'purchase'",
        )
        create_index(
            cr,
            "crm_campaign_report_consent_unsubscribe_index",
            "crm_consent_event",
            ["partner_id", "date"],
            where="source = 'unsubscribe'",
        )

    @property
    def _table_query(self):
        return SQL(
            """
            WITH touch AS (
                SELECT trace.id,
                       trace.partner_id,
                       partner.commercial_partner_id,
                       trace.company_id,
                       trace.executed_at,
                       COALESCE(campaign.attribution_days, 0) AS attribution_days
                  FROM crm_campaign_trace trace
                  JOIN crm_campaign campaign ON campaign.id = trace.campaign_id
                  JOIN res_partner partner ON partner.id = trace.partner_id
                 WHERE trace.state = 'done'
                   AND trace.kind IN %(touch_kinds)s
                   AND trace.executed_at IS NOT NULL
            ),
            purchase AS (
                SELECT DISTINCT ON (ledger.id)
                       touch.id AS trace_id,
                       ledger.amount
                  FROM crm_customer_transaction ledger
                  JOIN touch
                    ON touch.commercial_partner_id = ledger.partner_id
                   AND touch.company_id = ledger.company_id
                   AND ledger.date >= touch.executed_at::date
                   AND ledger.date
                       <= touch.executed_at::date + touch.attribution_days
                 WHERE ledger.kind = 'purchase'
              ORDER BY ledger.id, touch.executed_at DESC, touch.id DESC
            ),
            revenue AS (
                SELECT trace_id, SUM(amount) AS amount
                  FROM purchase
              GROUP BY trace_id
            ),
            unsubscribe AS (
                SELECT DISTINCT touch_id AS trace_id
                  FROM (
                      SELECT DISTINCT ON (consent_event.id) touch.id AS touch_id
                        FROM crm_consent_event consent_event
                        JOIN touch
                          ON touch.partner_id = consent_event.partner_id
                         AND consent_event.date >= touch.executed_at
                         AND consent_event.date <= touch.executed_at
                             + make_interval(days => touch.attribution_days)
                       WHERE consent_event.source = 'unsubscribe'
                         AND consent_event.state = 'refused'
                    ORDER BY consent_event.id, touch.executed_at DESC, touch.id DESC
                  ) credited
            ),
            conversion AS (
                SELECT DISTINCT ON (participant.id) trace.id AS trace_id
                  FROM crm_campaign_participant participant
                  JOIN crm_campaign_trace trace
                    ON trace.participant_id = participant.id
                   AND trace.state = 'done'
                   AND trace.executed_at <= participant.conversion_date
                 WHERE participant.state = 'converted'
              ORDER BY participant.id, trace.executed_at DESC, trace.id DESC
            )
            SELECT MIN(trace.id) AS id,
                   trace.campaign_id,
                   trace.step_id,
                   trace.kind,
                   partner.value_tier,
                   COALESCE(trace.executed_at, trace.scheduled_at)::date AS date,
                   trace.company_id,
                   company.currency_id,
                   COUNT(*) FILTER (WHERE trace.state = 'done')::integer AS sent,
                   COUNT(*) FILTER (
                       WHERE trace.state = 'done'
                         AND (mailing.trace_status IN ('sent', 'open', 'reply')
                              OR trace.kind IN ('call', 'postal'))
                   )::integer AS delivered,
                   COUNT(*) FILTER (
                       WHERE mailing.open_datetime IS NOT NULL
                          OR mailing.trace_status IN ('open', 'reply')
                   )::integer AS opened,
                   COUNT(*) FILTER (
                       WHERE mailing.links_click_datetime IS NOT NULL
                   )::integer AS clicked,
                   COUNT(*) FILTER (
                       WHERE mailing.reply_datetime IS NOT NULL
                          OR mailing.trace_status = 'reply'
                   )::integer AS replied,
                   COUNT(*) FILTER (WHERE mailing.trace_status = 'bounce')::integer AS bounced,
                   COUNT(unsubscribe.trace_id)::integer AS unsubscribed,
                   COUNT(*) FILTER (WHERE trace.state = 'skipped')::integer AS skipped,
                   COUNT(*) FILTER (WHERE trace.state = 'error')::integer AS failed,
                   COUNT(conversion.trace_id)::integer AS converted,
                   COALESCE(SUM(revenue.amount), 0) AS revenue,
                   %(open_rate)s AS open_rate,
                   %(click_rate)s AS click_rate,
                   %(conversion_rate)s AS conversion_rate
              FROM crm_campaign_trace trace
              JOIN res_partner partner ON partner.id = trace.partner_id
              JOIN res_company company ON company.id = trace.company_id
         LEFT JOIN mailing_trace mailing ON mailing.id = trace.mailing_trace_id
         LEFT JOIN revenue ON revenue.trace_id = trace.id
         LEFT JOIN unsubscribe ON unsubscribe.trace_id = trace.id
         LEFT JOIN conversion ON conversion.trace_id = trace.id
             WHERE trace.state IN ('done', 'skipped', 'error')
          GROUP BY trace.campaign_id,
                   trace.step_id,
                   trace.kind,
                   partner.value_tier,
                   COALESCE(trace.executed_at, trace.scheduled_at)::date,
                   trace.company_id,
                   company.currency_id
            """,
            touch_kinds=TOUCH_KINDS,
            open_rate=self._rate_sql(
                SQL(
                    "COUNT(*) FILTER (WHERE mailing.open_datetime IS NOT NULL"
                    " OR mailing.trace_status IN ('open', 'reply'))"
                ),
                SQL(
                    "COUNT(*) FILTER (WHERE trace.state = 'done'"
                    " AND (mailing.trace_status IN ('sent', 'open', 'reply')"
                    " OR trace.kind IN ('call', 'postal')))"
                ),
            ),
            click_rate=self._rate_sql(
                SQL("COUNT(*) FILTER (WHERE mailing.links_click_datetime IS NOT NULL)"),
                SQL(
                    "COUNT(*) FILTER (WHERE trace.state = 'done'"
                    " AND (mailing.trace_status IN ('sent', 'open', 'reply')"
                    " OR trace.kind IN ('call', 'postal')))"
                ),
            ),
            conversion_rate=self._rate_sql(
                SQL("COUNT(conversion.trace_id)"),
                SQL("COUNT(*) FILTER (WHERE trace.state = 'done')"),
            ),
        )

    def _rate_sql(self, numerator, denominator):
        return SQL(
            "ROUND(COALESCE(100.0 * %s / NULLIF(%s, 0), 0), 2)",
            numerator,
            denominator,
        )

    def _read_group_select(self, aggregate_spec, query):
        """Compute rates from the sums of their measures, whatever the aggregate."""
        if aggregate_spec != "__count":
            fname, _property, _func = parse_read_group_spec(aggregate_spec)
            if fname in RATES:
                numerator, denominator = RATES[fname]
                return self._rate_sql(
                    SQL("SUM(%s)", self._field_to_sql(self._table, numerator, query)),
                    SQL("SUM(%s)", self._field_to_sql(self._table, denominator, query)),
                )
        return super()._read_group_select(aggregate_spec, query)
