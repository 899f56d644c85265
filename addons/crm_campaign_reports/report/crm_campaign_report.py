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
    "accepted": "sum",
    "skipped": "sum",
    "held_out": "sum",
    "failed": "sum",
    "converted": "sum",
    "purchases": "sum",
    "revenue": "sum",
    "purchases_all_touch": "sum",
    "revenue_all_touch": "sum",
    "open_rate": "avg",
    "click_rate": "avg",
    "conversion_rate": "avg",
}

# Step kinds that reach a partner and so can be credited with a response.
TOUCH_KINDS = ("email", "sms", "call", "postal", "web")

# Sources of a consent refusal that count as an unsubscribe: choices the
# partner made (unsubscribe link or e-mail, preference centre, Odoo's mailing
# blacklist page) or reported to a user or an integration (back-office form,
# API). Imports, suppression lists and expiries are bulk or automatic changes,
# not responses to a campaign.
UNSUBSCRIBE_SOURCES = ("unsubscribe", "preference_centre", "blacklist", "form", "api")


class CrmCampaignReport(models.Model):
    """Responses to campaign steps, one row per trace that ran.

    A row is a trace done, skipped or in error, with its campaign, step,
    channel, partner, value tier at sending time and day, and 0/1 response
    flags, so that any grouping (pivot, graph) sums them. Responses:

    - delivered, opened, clicked, replied and bounced come from the
      ``mailing.trace`` of the e-mail or SMS, and calls and letters done count as
      delivered;
    - unsubscribed: a consent refusal of the partner on the step's consent
      channel, from one of ``UNSUBSCRIBE_SOURCES``, at or after the step and
      at most ``attribution_days`` days later, credited to the last step of
      any campaign that reached the partner on that channel before it;
    - converted: the participant reached the campaign goal, credited to its
      last trace done at or before the conversion date;
    - purchases and revenue (last touch): each purchase of the customer
      ledger (confirmed sales, in company currency) counts once, for the last
      step of any campaign of the same company that reached the buyer on or
      before the purchase day and at most ``attribution_days`` days before.
      A bounced, failed or canceled e-mail or SMS reached nobody and is no
      touch, for unsubscribes either;
    - purchases_all_touch and revenue_all_touch: the same purchase counts
      once for every campaign whose window contains it, on that campaign's
      last step before the purchase. Summed over several campaigns, all-touch
      revenue exceeds the ledger's revenue by design.
    """

    _name = "crm.campaign.report"
    _description = "Campaign Analysis"
    _auto = False
    _order = "date desc, campaign_id, step_id"
    _rec_name = "step_id"
    # Flushed before the view is read, so that pending ORM writes count.
    _depends = {
        "crm.campaign": ["attribution_days", "company_id"],
        "crm.campaign.participant": ["state", "conversion_date", "entry_date"],
        "crm.campaign.step": ["channel_id"],
        "crm.campaign.variant": ["channel_id"],
        "crm.campaign.trace": [
            "variant_id",
            "offer_accepted_at",
            "skip_reason",
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
        "crm.consent.event": ["partner_id", "channel_id", "source", "state", "date"],
        "crm.customer.transaction": [
            "partner_id",
            "date",
            "amount",
            "kind",
            "company_id",
        ],
        "crm.value.tier.log": ["partner_id", "date", "previous_tier"],
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
    variant_id = fields.Many2one(
        "crm.campaign.variant",
        readonly=True,
        help="Variant of the step's experiment the partner got. Empty for steps "
        "without experiment.",
    )
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    kind = fields.Selection(STEP_KINDS, string="Channel", readonly=True)
    value_tier = fields.Selection(
        VALUE_TIERS,
        readonly=True,
        help="Value tier of the partner when the step ran, read from the tier "
        "history, or the current tier when the history has no change since then.",
    )
    date = fields.Date(
        readonly=True,
        help="Day the step ran, in UTC, or was scheduled if it never ran.",
    )
    entry_date = fields.Date(
        readonly=True,
        help="Day the partner entered the campaign, in UTC.",
    )
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    member_segment_id = fields.Many2one(
        "crm.segment",
        string="Member of Segment",
        compute="_compute_member_segment_id",
        search="_search_member_segment_id",
        help="Filter on the partners who are members of a segment now.",
    )

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
        help="Steps after which the partner refused the step's channel within "
        "the attribution window (unsubscribe link, preference centre, blacklist, "
        "back-office form or API), credited to the last step that reached the "
        "partner on that channel.",
    )
    accepted = fields.Integer(
        string="Offers Accepted",
        readonly=True,
        help="Steps whose offer the partner accepted: code used on a sales "
        "order, web offer page accepted or call outcome logged, at any time.",
    )
    skipped = fields.Integer(
        readonly=True,
        help="Steps the contact gate rejected for consent or contact pressure. "
        "Steps of holdout participants count as held out instead.",
    )
    held_out = fields.Integer(
        readonly=True,
        help="Steps not sent because the participant is in the campaign's "
        "holdout group.",
    )
    failed = fields.Integer(readonly=True, help="Steps that ended in error.")
    converted = fields.Integer(
        readonly=True,
        help="Participants who reached the campaign goal, credited to their last "
        "step before the conversion.",
    )
    purchases = fields.Integer(
        string="Purchases (Last Touch)",
        readonly=True,
        help="Purchases of the customer ledger credited to this step because it "
        "was the last step of any campaign that reached the customer within the "
        "attribution window.",
    )
    revenue = fields.Monetary(
        string="Revenue (Last Touch)",
        readonly=True,
        help="Amount of the purchases credited by last touch, in company currency.",
    )
    purchases_all_touch = fields.Integer(
        string="Purchases (All Touch)",
        readonly=True,
        help="Purchases within the attribution window of this step's campaign, "
        "credited to the campaign's last step before each purchase, whatever "
        "other campaigns reached the customer.",
    )
    revenue_all_touch = fields.Monetary(
        string="Revenue (All Touch)",
        readonly=True,
        help="Amount of the purchases credited by all touch, in company "
        "currency. A purchase counts for every campaign that reached the "
        "customer, so totals over several campaigns exceed the revenue.",
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
            "crm_campaign_report_consent_refusal_index",
            "crm_consent_event",
            ["partner_id", "channel_id", "date"],
            where="state = 'refused'",
        )
        create_index(
            cr,
            "crm_campaign_report_tier_log_index",
            "crm_value_tier_log",
            ["partner_id", "date"],
        )
        create_index(
            cr,
            "crm_campaign_report_partner_commercial_index",
            "res_partner",
            ["commercial_partner_id"],
        )

    def _compute_member_segment_id(self):
        self.member_segment_id = False

    def _search_member_segment_id(self, operator, value):
        return [("partner_id.segment_ids", operator, value)]

    # ------------------------------------------------------------------
    # SQL of the view
    # ------------------------------------------------------------------

    # Each credit below is a subquery grouped by trace id, so that PostgreSQL
    # drops its LEFT JOIN when a read uses none of its columns.

    def _reached_sql(self):
        """Return the query of the traces that reached a partner: done, of a
        kind that touches the partner, and not a bounced, failed or canceled
        e-mail or SMS."""
        return SQL(
            """
            SELECT trace.id,
                   trace.partner_id,
                   trace.campaign_id,
                   trace.company_id,
                   trace.executed_at,
                   COALESCE(variant.channel_id, step.channel_id) AS channel_id,
                   COALESCE(campaign.attribution_days, 0) AS attribution_days
              FROM crm_campaign_trace trace
              JOIN crm_campaign_step step ON step.id = trace.step_id
              JOIN crm_campaign campaign ON campaign.id = trace.campaign_id
         LEFT JOIN crm_campaign_variant variant ON variant.id = trace.variant_id
         LEFT JOIN mailing_trace mailing ON mailing.id = trace.mailing_trace_id
             WHERE trace.state = 'done'
               AND trace.kind IN %(touch_kinds)s
               AND trace.executed_at IS NOT NULL
               AND COALESCE(mailing.trace_status, 'sent')
                   NOT IN ('bounce', 'error', 'cancel')
            """,
            touch_kinds=TOUCH_KINDS,
        )

    def _purchase_credit_sql(self):
        """Return a query of (trace_id, purchases, revenue, purchases_all_touch,
        revenue_all_touch), ranking the touches of each purchase once for
        both attributions."""
        return SQL(
            """
            SELECT ranked.trace_id,
                   COUNT(*) FILTER (WHERE ranked.last_rank = 1) AS purchases,
                   SUM(ranked.amount) FILTER (WHERE ranked.last_rank = 1) AS revenue,
                   COUNT(*) FILTER (WHERE ranked.campaign_rank = 1)
                       AS purchases_all_touch,
                   SUM(ranked.amount) FILTER (WHERE ranked.campaign_rank = 1)
                       AS revenue_all_touch
              FROM (
                  SELECT reached.id AS trace_id,
                         ledger.amount,
                         ROW_NUMBER() OVER (
                             PARTITION BY ledger.id
                             ORDER BY reached.executed_at DESC, reached.id DESC
                         ) AS last_rank,
                         ROW_NUMBER() OVER (
                             PARTITION BY ledger.id, reached.campaign_id
                             ORDER BY reached.executed_at DESC, reached.id DESC
                         ) AS campaign_rank
                    FROM crm_customer_transaction ledger
                    JOIN res_partner buyer
                      ON buyer.commercial_partner_id = ledger.partner_id
                    JOIN reached
                      ON reached.partner_id = buyer.id
                     AND reached.company_id = ledger.company_id
                     AND reached.executed_at < ledger.date + 1
                     AND ledger.date
                         <= reached.executed_at::date + reached.attribution_days
                   WHERE ledger.kind = 'purchase'
              ) ranked
             WHERE ranked.last_rank = 1 OR ranked.campaign_rank = 1
          GROUP BY ranked.trace_id
            """
        )

    def _unsubscribe_credit_sql(self):
        """Return a query of the trace ids credited with an unsubscribe."""
        return SQL(
            """
            SELECT ranked.trace_id
              FROM (
                  SELECT reached.id AS trace_id,
                         ROW_NUMBER() OVER (
                             PARTITION BY event.id
                             ORDER BY reached.executed_at DESC, reached.id DESC
                         ) AS rank
                    FROM crm_consent_event event
                    JOIN reached
                      ON reached.partner_id = event.partner_id
                     AND reached.channel_id = event.channel_id
                     AND reached.executed_at <= event.date
                     AND event.date <= reached.executed_at
                         + make_interval(days => reached.attribution_days)
                   WHERE event.state = 'refused'
                     AND event.source IN %(sources)s
              ) ranked
             WHERE ranked.rank = 1
          GROUP BY ranked.trace_id
            """,
            sources=UNSUBSCRIBE_SOURCES,
        )

    def _conversion_credit_sql(self):
        """Return a query of the trace ids credited with a participant's
        conversion."""
        return SQL(
            """
            SELECT ranked.trace_id
              FROM (
                  SELECT trace.id AS trace_id,
                         ROW_NUMBER() OVER (
                             PARTITION BY participant.id
                             ORDER BY trace.executed_at DESC, trace.id DESC
                         ) AS rank
                    FROM crm_campaign_participant participant
                    JOIN crm_campaign_trace trace
                      ON trace.participant_id = participant.id
                     AND trace.state = 'done'
                     AND trace.executed_at <= participant.conversion_date
                   WHERE participant.state = 'converted'
              ) ranked
             WHERE ranked.rank = 1
          GROUP BY ranked.trace_id
            """
        )

    def _tier_at_send_sql(self):
        """Return a query of (trace_id, previous_tier) of the first tier
        change of the partner after the trace ran, for traces followed by
        one."""
        return SQL(
            """
            SELECT DISTINCT ON (trace.id)
                   trace.id AS trace_id,
                   tier_log.previous_tier
              FROM crm_campaign_trace trace
              JOIN crm_value_tier_log tier_log
                ON tier_log.partner_id = trace.partner_id
               AND tier_log.date > COALESCE(trace.executed_at, trace.scheduled_at)
          ORDER BY trace.id, tier_log.date, tier_log.id
            """
        )

    def _facts_sql(self):
        """Return the query of one row per reported trace with its 0/1
        response flags and credited purchases, without the rates."""
        return SQL(
            """
            WITH reached AS (%(reached)s)
            SELECT trace.id,
                   trace.campaign_id,
                   trace.step_id,
                   trace.variant_id,
                   trace.partner_id,
                   trace.kind,
                   CASE WHEN next_tier_change.trace_id IS NOT NULL
                        THEN next_tier_change.previous_tier
                        ELSE partner.value_tier
                   END AS value_tier,
                   COALESCE(trace.executed_at, trace.scheduled_at)::date AS date,
                   participant.entry_date::date AS entry_date,
                   trace.company_id,
                   company.currency_id,
                   (trace.state = 'done')::integer AS sent,
                   (trace.state = 'done'
                    AND (mailing.trace_status IN ('sent', 'open', 'reply')
                         OR trace.kind IN ('call', 'postal')))::integer AS delivered,
                   (mailing.open_datetime IS NOT NULL
                    OR mailing.trace_status IN ('open', 'reply'))::integer AS opened,
                   (mailing.links_click_datetime IS NOT NULL)::integer AS clicked,
                   (mailing.reply_datetime IS NOT NULL
                    OR mailing.trace_status = 'reply')::integer AS replied,
                   (mailing.trace_status = 'bounce')::integer AS bounced,
                   (unsubscribe.trace_id IS NOT NULL)::integer AS unsubscribed,
                   (trace.offer_accepted_at IS NOT NULL)::integer AS accepted,
                   (trace.state = 'skipped'
                    AND trace.skip_reason IS DISTINCT FROM 'holdout')::integer AS skipped,
                   (trace.state = 'skipped'
                    AND trace.skip_reason = 'holdout')::integer AS held_out,
                   (trace.state = 'error')::integer AS failed,
                   (conversion.trace_id IS NOT NULL)::integer AS converted,
                   COALESCE(purchase.purchases, 0)::integer AS purchases,
                   COALESCE(purchase.revenue, 0) AS revenue,
                   COALESCE(purchase.purchases_all_touch, 0)::integer
                       AS purchases_all_touch,
                   COALESCE(purchase.revenue_all_touch, 0) AS revenue_all_touch
              FROM crm_campaign_trace trace
              JOIN crm_campaign_participant participant
                ON participant.id = trace.participant_id
              JOIN res_partner partner ON partner.id = trace.partner_id
              JOIN res_company company ON company.id = trace.company_id
         LEFT JOIN mailing_trace mailing ON mailing.id = trace.mailing_trace_id
         LEFT JOIN (%(tier)s) next_tier_change ON next_tier_change.trace_id = trace.id
         LEFT JOIN (%(purchase)s) purchase ON purchase.trace_id = trace.id
         LEFT JOIN (%(unsubscribe)s) unsubscribe ON unsubscribe.trace_id = trace.id
         LEFT JOIN (%(conversion)s) conversion ON conversion.trace_id = trace.id
             WHERE trace.state IN ('done', 'skipped', 'error')
            """,
            reached=self._reached_sql(),
            tier=self._tier_at_send_sql(),
            purchase=self._purchase_credit_sql(),
            unsubscribe=self._unsubscribe_credit_sql(),
            conversion=self._conversion_credit_sql(),
        )

    @property
    def _table_query(self):
        rates = [
            SQL(
                "%s AS %s",
                self._rate_sql(SQL.identifier(numerator), SQL.identifier(denominator)),
                SQL.identifier(rate),
            )
            for rate, (numerator, denominator) in RATES.items()
        ]
        return SQL(
            "SELECT facts.*, %s FROM (%s) facts",
            SQL(", ").join(rates),
            self._facts_sql(),
        )

    def _report_columns(self):
        """Return the column names of the view other than ``id``."""
        return [
            name
            for name, field in self.env["crm.campaign.report"]._fields.items()
            if field.store and name != "id"
        ]

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
