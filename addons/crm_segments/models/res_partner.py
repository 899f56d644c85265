import logging
import threading
import time

from odoo import api, fields, models
from odoo.tools import SQL

from .crm_rfm_segment import RFM_SEGMENTS
from .crm_value_tier_log import VALUE_TIERS
from .sql_tools import jit_disabled

_logger = logging.getLogger(__name__)

# Partners per transaction of the profile refresh: bounds the Python memory
# (ids and preferred channels) and the row locks held at once.
PROFILE_BATCH_SIZE = 5000
# Temporary table of the full refresh, dropped at the end of the refresh or
# of the transaction.
PROFILE_STAGE_TABLE = "crm_segments_profile_stage"


class ResPartner(models.Model):
    _inherit = "res.partner"

    profile_outdated = fields.Boolean(
        copy=False,
        index=True,
        readonly=True,
        help="Set when the customer ledger of the partner changed; the profile "
        "refresh clears it.",
    )
    profile_date = fields.Datetime(
        string="Profile Refreshed On", copy=False, readonly=True
    )
    profile_company_id = fields.Many2one(
        "res.company",
        copy=False,
        readonly=True,
        index="btree_not_null",
        help="Company of the latest purchase, whose customers the partner is "
        "ranked with for RFM scores and value tiers.",
    )
    profile_currency_id = fields.Many2one(
        "res.currency",
        string="Profile Currency",
        related="profile_company_id.currency_id",
    )
    transaction_ids = fields.One2many(
        "crm.customer.transaction", "partner_id", string="Customer Ledger"
    )
    first_purchase_date = fields.Date(copy=False, readonly=True, index="btree_not_null")
    last_purchase_date = fields.Date(copy=False, readonly=True, index="btree_not_null")
    purchase_count = fields.Integer(
        string="Purchases", copy=False, readonly=True, index=True
    )
    revenue_total = fields.Monetary(
        string="Revenue",
        currency_field="profile_currency_id",
        copy=False,
        readonly=True,
        help="Sum of the purchases, refunds not deducted, in company currency.",
    )
    average_order_value = fields.Monetary(
        currency_field="profile_currency_id",
        copy=False,
        readonly=True,
        help="Revenue divided by the number of purchases.",
    )
    customer_lifetime_value = fields.Monetary(
        string="Lifetime Value",
        currency_field="profile_currency_id",
        copy=False,
        readonly=True,
        index="btree_not_null",
        help="Historical customer lifetime value: what the customer has spent "
        "so far, purchases minus refunds, in company currency.",
    )
    rfm_recency = fields.Integer(
        string="Recency Score", copy=False, readonly=True, aggregator="avg"
    )
    rfm_frequency = fields.Integer(
        string="Frequency Score", copy=False, readonly=True, aggregator="avg"
    )
    rfm_monetary = fields.Integer(
        string="Monetary Score", copy=False, readonly=True, aggregator="avg"
    )
    rfm_segment = fields.Selection(
        RFM_SEGMENTS, string="RFM Segment", copy=False, readonly=True, index=True
    )
    value_tier = fields.Selection(
        VALUE_TIERS,
        copy=False,
        readonly=True,
        index=True,
        help="One-to-one: personal relationship marketing by the salesperson. "
        "Database: targeted campaigns. Mass: broad campaigns.",
    )
    value_tier_log_ids = fields.One2many(
        "crm.value.tier.log", "partner_id", string="Tier History"
    )
    preferred_channel_id = fields.Many2one(
        "crm.consent.channel",
        copy=False,
        readonly=True,
        help="Contactable channel the customer responds to most; among equals, "
        "the channel of the latest marketing consent.",
    )
    purchased_category_ids = fields.Many2many(
        "product.category",
        "res_partner_purchased_category_rel",
        "partner_id",
        "category_id",
        string="Categories Bought",
        copy=False,
        readonly=True,
    )

    segment_ids = fields.Many2many(
        "crm.segment",
        "crm_segment_partner_rel",
        "partner_id",
        "segment_id",
        string="Segments",
        readonly=True,
        copy=False,
    )

    # ------------------------------------------------------------------
    # Public API (XML-RPC contract)
    # ------------------------------------------------------------------

    def profile_refresh(self):
        """Recompute the stored profile fields from the customer ledger.

        On an empty recordset, refresh every partner whose ledger changed since
        its last refresh; on a recordset, refresh the commercial partners of
        these partners. The aggregates are written batch by batch with SQL,
        then the RFM scores, segments and value tiers of every customer are
        recomputed, since quintiles move when any customer changes.

        :returns: True
        """
        if self:
            partner_ids = self.commercial_partner_id.ids
            for start in range(0, len(partner_ids), PROFILE_BATCH_SIZE):
                self._profile_refresh_batch(
                    partner_ids[start : start + PROFILE_BATCH_SIZE]
                )
        else:
            while partner_ids := self._profile_claim_outdated():
                self._profile_refresh_batch(partner_ids)
        self._rfm_refresh()
        self._value_tier_refresh()
        return True

    @api.model
    def _profile_refresh_all(self):
        """Refresh the profile of every partner with a ledger or a profile.

        Unlike the incremental refresh, the aggregates, RFM scores and value
        tiers of all customers are first computed in a temporary table, then
        written to res_partner by one UPDATE. Writing them in three passes
        rewrote each customer row, and all its index entries, three times,
        because the columns involved are indexed. The categories bought and
        the preferred channel follow, one statement each. No id list is held
        in Python.
        """
        started = time.monotonic()
        self.env["crm.customer.transaction"].flush_model()
        self.env["crm.rfm.segment"].flush_model()
        self.env["res.company"].flush_model()
        self.flush_model()
        stage = SQL.identifier(PROFILE_STAGE_TABLE)
        with jit_disabled(self.env.cr):
            self._profile_stage_create(stage)
            self.env.execute_query(
                self._rfm_query(fields.Date.context_today(self), table=stage)
            )
            promoted_rows = self._value_tier_update(table=stage)
            self.env.execute_query(
                SQL(
                    """
                    UPDATE res_partner partner
                       SET first_purchase_date = stage.first_purchase_date,
                           last_purchase_date = stage.last_purchase_date,
                           purchase_count = stage.purchase_count,
                           revenue_total = stage.revenue_total,
                           average_order_value = stage.average_order_value,
                           customer_lifetime_value = stage.customer_lifetime_value,
                           profile_company_id = stage.profile_company_id,
                           rfm_recency = stage.rfm_recency,
                           rfm_frequency = stage.rfm_frequency,
                           rfm_monetary = stage.rfm_monetary,
                           rfm_segment = stage.rfm_segment,
                           value_tier = stage.value_tier,
                           profile_outdated = FALSE,
                           profile_date = now() AT TIME ZONE 'UTC'
                      FROM %s stage
                     WHERE partner.id = stage.id;
                    DROP TABLE %s
                    """,
                    stage,
                    stage,
                )
            )
            self._refresh_purchased_categories(None)
        self.invalidate_model()
        self.env["crm.value.tier.log"].invalidate_model()
        # now() is the start of the transaction, the profile_date just written.
        self._refresh_preferred_channel(
            SQL(
                "SELECT id FROM res_partner WHERE profile_date = now() AT TIME ZONE 'UTC'"
            )
        )
        self.invalidate_model()
        promoted = self.browse([row[0] for row in promoted_rows])
        if promoted:
            self._schedule_one_to_one_activities(promoted)
        _logger.info(
            "Profile refresh of all customers in %.2fs",
            time.monotonic() - started,
        )
        return True

    @api.model
    def _profile_stage_create(self, stage):
        """Create the temporary table ``stage`` with the current profile
        columns of every partner to refresh and their new ledger aggregates."""
        self.env.execute_query(
            SQL(
                """
                DROP TABLE IF EXISTS %(stage)s;
                CREATE TEMPORARY TABLE %(stage)s ON COMMIT DROP AS
                WITH agg AS (%(aggregates)s)
                SELECT partner.id,
                       agg.first_date AS first_purchase_date,
                       agg.last_date AS last_purchase_date,
                       COALESCE(agg.purchases, 0) AS purchase_count,
                       agg.revenue AS revenue_total,
                       agg.revenue / NULLIF(agg.purchases, 0) AS average_order_value,
                       agg.net AS customer_lifetime_value,
                       agg.company_id AS profile_company_id,
                       partner.rfm_recency, partner.rfm_frequency,
                       partner.rfm_monetary, partner.rfm_segment,
                       partner.value_tier
                  FROM res_partner partner
                  LEFT JOIN agg ON agg.partner_id = partner.id
                 WHERE agg.partner_id IS NOT NULL
                    OR partner.profile_outdated
                    OR partner.profile_date IS NOT NULL;
                ALTER TABLE %(stage)s ADD PRIMARY KEY (id);
                ANALYZE %(stage)s
                """,
                stage=stage,
                aggregates=self._profile_aggregates_select(SQL()),
            )
        )

    def action_profile_refresh(self):
        self.profile_refresh()
        return True

    # ------------------------------------------------------------------
    # Crons
    # ------------------------------------------------------------------

    @api.model
    def _cron_profile_refresh(self):
        """Refresh outdated profiles, one committed transaction per batch."""
        cron = self.env["ir.cron"]
        done = 0
        refreshed = False
        while partner_ids := self._profile_claim_outdated():
            self._profile_refresh_batch(partner_ids)
            done += len(partner_ids)
            refreshed = True
            remaining = self.search_count([("profile_outdated", "=", True)])
            cron._notify_progress(done=done, remaining=remaining)
            self._commit_batch()
        if refreshed:
            self._rfm_refresh()
            self._value_tier_refresh()
            self._commit_batch()

    @api.model
    def _cron_rfm_refresh(self):
        """Rescore every customer: recency moves with the calendar alone."""
        self._rfm_refresh()
        self._value_tier_refresh()

    def _commit_batch(self):
        # Tests run in one transaction that must stay open.
        if not getattr(threading.current_thread(), "testing", False):
            self.env.cr.commit()  # pylint: disable=invalid-commit

    # ------------------------------------------------------------------
    # Set-based refresh
    # ------------------------------------------------------------------

    @api.model
    def _profile_claim_outdated(self, limit=PROFILE_BATCH_SIZE):
        """Lock and return the ids of up to ``limit`` outdated partners.

        ``SKIP LOCKED`` lets several workers refresh disjoint batches.
        """
        self.flush_model(["profile_outdated"])
        rows = self.env.execute_query(
            SQL(
                """
                SELECT id FROM res_partner
                 WHERE profile_outdated
                 ORDER BY id
                 LIMIT %s
                   FOR UPDATE SKIP LOCKED
                """,
                limit,
            )
        )
        return [row[0] for row in rows]

    @api.model
    def _profile_refresh_batch(self, partner_ids):
        """Write the ledger aggregates, bought categories and preferred channel
        of ``partner_ids`` and clear their outdated flag.
        """
        started = time.monotonic()
        self.env["crm.customer.transaction"].flush_model()
        self.flush_model()
        with jit_disabled(self.env.cr):
            self.env.execute_query(
                self._profile_aggregates_query(
                    SQL("WHERE tx.partner_id = ANY(%s)", partner_ids),
                    SQL("SELECT unnest(%s::int[])", partner_ids),
                )
            )
            self._refresh_purchased_categories(partner_ids)
        self._refresh_preferred_channel(partner_ids)
        self.invalidate_model()
        _logger.info(
            "Profile refresh: %s partners in %.2fs",
            len(partner_ids),
            time.monotonic() - started,
        )

    @api.model
    def _profile_aggregates_query(self, ledger_filter, target_ids):
        """Return the UPDATE that writes the ledger aggregates of the partners
        selected by ``target_ids`` (a query of ids) and clears their outdated
        flag. ``ledger_filter`` restricts the ledger rows read, and must keep
        every row of those partners."""
        return SQL(
            """
                WITH agg AS (%(aggregates)s),
                target AS (%(target_ids)s)
                UPDATE res_partner partner
                   SET first_purchase_date = agg.first_date,
                       last_purchase_date = agg.last_date,
                       purchase_count = COALESCE(agg.purchases, 0),
                       revenue_total = agg.revenue,
                       average_order_value = agg.revenue / NULLIF(agg.purchases, 0),
                       customer_lifetime_value = agg.net,
                       profile_company_id = agg.company_id,
                       profile_outdated = FALSE,
                       profile_date = now() AT TIME ZONE 'UTC'
                  FROM target AS batch(id)
                  LEFT JOIN agg ON agg.partner_id = batch.id
                 WHERE partner.id = batch.id
            """,
            aggregates=self._profile_aggregates_select(ledger_filter),
            target_ids=target_ids,
        )

    @api.model
    def _profile_aggregates_select(self, ledger_filter):
        """Return the query of the ledger aggregates per partner of the rows
        kept by ``ledger_filter`` (a WHERE clause, or empty for all)."""
        # TODO: rows of companies with different currencies are added up
        # without conversion.
        return SQL(
            """
            SELECT tx.partner_id,
                   MIN(tx.date) FILTER (WHERE tx.kind = 'purchase') AS first_date,
                   MAX(tx.date) FILTER (WHERE tx.kind = 'purchase') AS last_date,
                   COUNT(*) FILTER (WHERE tx.kind = 'purchase') AS purchases,
                   SUM(tx.amount) FILTER (WHERE tx.kind = 'purchase') AS revenue,
                   SUM(tx.amount) FILTER (
                       WHERE tx.kind IN ('purchase', 'refund')
                   ) AS net,
                   (ARRAY_AGG(tx.company_id ORDER BY tx.date DESC, tx.id DESC)
                       FILTER (WHERE tx.kind = 'purchase'))[1] AS company_id
              FROM crm_customer_transaction tx
             %s
             GROUP BY tx.partner_id
            """,
            ledger_filter,
        )

    @api.model
    def _refresh_purchased_categories(self, partner_ids):
        """Replace the categories bought by ``partner_ids`` (every partner when
        None) with the product categories of their confirmed orders and posted
        invoices in the ledger.
        """
        if partner_ids is None:
            rel_filter = tx_filter = SQL("TRUE")
        else:
            rel_filter = SQL("partner_id = ANY(%s)", partner_ids)
            tx_filter = SQL("tx.partner_id = ANY(%s)", partner_ids)
        self.env.execute_query(
            SQL(
                """
                DELETE FROM res_partner_purchased_category_rel
                 WHERE %(rel_filter)s;
                INSERT INTO res_partner_purchased_category_rel (partner_id, category_id)
                SELECT tx.partner_id, template.categ_id
                  FROM crm_customer_transaction tx
                  JOIN sale_order_line line
                    ON tx.res_model = 'sale.order' AND line.order_id = tx.res_id
                  JOIN product_product product ON product.id = line.product_id
                  JOIN product_template template ON template.id = product.product_tmpl_id
                 WHERE %(tx_filter)s AND tx.kind = 'purchase'
                 UNION
                SELECT tx.partner_id, template.categ_id
                  FROM crm_customer_transaction tx
                  JOIN account_move_line line
                    ON tx.res_model = 'account.move' AND line.move_id = tx.res_id
                  JOIN product_product product ON product.id = line.product_id
                  JOIN product_template template ON template.id = product.product_tmpl_id
                 WHERE %(tx_filter)s AND tx.kind = 'purchase'
                   AND line.display_type = 'product'
                """,
                rel_filter=rel_filter,
                tx_filter=tx_filter,
            )
        )

    @api.model
    def _channel_responses_query(self, target):
        """Return a query of ``(partner_id, channel_code, count)`` rows: the
        responses of the partners selected by ``target`` (a query of ids).

        Counts the e-mails the partners sent that Odoo received. Addons that
        record campaign responses extend this hook with their own channels,
        for instance with a UNION ALL.
        """
        self.env["mail.message"].flush_model(["author_id", "message_type"])
        return SQL(
            """
            SELECT author_id AS partner_id, 'email' AS channel_code, COUNT(*) AS count
              FROM mail_message
             WHERE author_id IN (%s) AND message_type = 'email'
             GROUP BY author_id
            """,
            target,
        )

    @api.model
    def _refresh_preferred_channel(self, partner_ids):
        """Set the preferred channel of ``partner_ids`` with one statement.

        ``partner_ids`` is a list of ids, or an SQL query of ids, whose
        partners are then checked against the consent gate all at once.
        Only channels the partner may be contacted on for marketing count (the
        consent gate of crm_consent). Among them, the one with most responses
        wins, then the one with the latest marketing consent, then the channel
        sequence.
        """
        consent = self.env["crm.consent"].sudo()
        channels = self.env["crm.consent.channel"].sudo().search([])
        purpose = consent._get_purpose("marketing")
        if isinstance(partner_ids, SQL):
            target, gate_ids = partner_ids, None
        else:
            target, gate_ids = SQL("SELECT unnest(%s::int[])", partner_ids), partner_ids
        self.flush_model(
            ["active", "email_normalized", "phone_e164", "mobile_e164", "street"]
        )
        consent.flush_model()
        self.env["mail.blacklist"].flush_model(["email", "active"])
        self.env["phone.blacklist"].flush_model(["number", "active"])
        self.env["crm.consent.regime"].flush_model()
        if channels:
            contactable = SQL(" UNION ALL ").join(
                SQL(
                    "SELECT %s AS channel_id, %s AS position, gate.id AS partner_id "
                    "FROM (%s) AS gate",
                    channel.id,
                    position,
                    consent._contactable_query(channel, purpose, partner_ids=gate_ids),
                )
                for position, channel in enumerate(channels)
            )
        else:
            contactable = SQL("SELECT NULL::int, NULL::int, NULL::int WHERE FALSE")
        with jit_disabled(self.env.cr):
            self.env.execute_query(
                SQL(
                    """
                    WITH target AS (%(target)s),
                    contactable AS (%(contactable)s),
                    responses AS (%(responses)s),
                    best AS (
                        SELECT DISTINCT ON (contactable.partner_id)
                               contactable.partner_id, contactable.channel_id
                          FROM contactable
                          JOIN crm_consent_channel channel
                            ON channel.id = contactable.channel_id
                          LEFT JOIN responses
                                 ON responses.partner_id = contactable.partner_id
                                AND responses.channel_code = channel.code
                          LEFT JOIN crm_consent consent
                                 ON consent.partner_id = contactable.partner_id
                                AND consent.channel_id = contactable.channel_id
                                AND consent.purpose_id = %(purpose)s
                                AND consent.state = 'granted'
                         WHERE contactable.partner_id IN (SELECT * FROM target)
                         ORDER BY contactable.partner_id,
                                  COALESCE(responses.count, 0) DESC,
                                  consent.date DESC NULLS LAST,
                                  contactable.position
                    ),
                    result AS (
                        SELECT batch.id, best.channel_id
                          FROM target AS batch(id)
                          LEFT JOIN best ON best.partner_id = batch.id
                    )
                    UPDATE res_partner partner
                       SET preferred_channel_id = result.channel_id
                      FROM result
                     WHERE partner.id = result.id
                       AND partner.preferred_channel_id
                           IS DISTINCT FROM result.channel_id
                    """,
                    target=target,
                    contactable=contactable,
                    responses=self._channel_responses_query(
                        SQL("SELECT * FROM target")
                    ),
                    purpose=purpose.id,
                )
            )

    @api.model
    def _rfm_refresh(self, today=None):
        """Score recency, frequency and monetary value of every customer.

        Each score is the quintile of the customer among the active customers
        of its profile company, those with a purchase in the company's RFM
        window ending ``today``: ``1 + floor(5 * percent_rank)``, capped at 5,
        so equal values get the same score. Recency ranks the last purchase
        date, frequency the number of purchases, monetary the purchases minus
        refunds, all within the window. Customers with purchases but none in
        the window lose their scores and are ``lost``. Only rows whose values
        change are written.
        """
        today = today or fields.Date.context_today(self)
        self.env["crm.customer.transaction"].flush_model()
        self.env["crm.rfm.segment"].flush_model()
        self.env["res.company"].flush_model(["rfm_window_days"])
        self.flush_model()
        with jit_disabled(self.env.cr):
            self.env.execute_query(self._rfm_query(today))
        self.invalidate_model(
            ["rfm_recency", "rfm_frequency", "rfm_monetary", "rfm_segment"]
        )

    @api.model
    def _rfm_query(self, today, table=None):
        score = "LEAST(5, 1 + FLOOR(5 * percent_rank() OVER (PARTITION BY company_id ORDER BY {})))::int"
        return SQL(
            """
            WITH window_start AS (
                SELECT id AS company_id,
                       %(today)s::date - GREATEST(COALESCE(rfm_window_days, 365), 1) + 1
                           AS since
                  FROM res_company
            ),
            in_window AS (
                SELECT tx.partner_id, tx.company_id,
                       MAX(tx.date) FILTER (WHERE tx.kind = 'purchase') AS last_date,
                       COUNT(*) FILTER (WHERE tx.kind = 'purchase') AS frequency,
                       COALESCE(SUM(tx.amount) FILTER (
                           WHERE tx.kind IN ('purchase', 'refund')), 0) AS monetary
                  FROM crm_customer_transaction tx
                  JOIN window_start ON window_start.company_id = tx.company_id
                 WHERE tx.date BETWEEN window_start.since AND %(today)s
                 GROUP BY tx.partner_id, tx.company_id
                HAVING COUNT(*) FILTER (WHERE tx.kind = 'purchase') > 0
            ),
            active AS (
                -- IS NOT DISTINCT FROM keeps the company test out of the join
                -- keys: a merge join on the company compares every customer
                -- with every ledger row of its company.
                SELECT in_window.*
                  FROM in_window
                  JOIN %(table)s partner ON partner.id = in_window.partner_id
                 WHERE partner.profile_company_id IS NOT DISTINCT FROM in_window.company_id
            ),
            scored AS (
                SELECT partner_id,
                       %(recency)s AS recency,
                       %(frequency)s AS frequency,
                       %(monetary)s AS monetary
                  FROM active
            ),
            target AS (
                SELECT partner.id,
                       scored.recency, scored.frequency, scored.monetary,
                       CASE WHEN scored.partner_id IS NULL THEN
                                CASE WHEN partner.purchase_count > 0 THEN 'lost' END
                            ELSE (
                                SELECT rule.code
                                  FROM crm_rfm_segment rule
                                 WHERE rule.active
                                   AND scored.recency BETWEEN rule.recency_min
                                                          AND rule.recency_max
                                   AND scored.frequency BETWEEN rule.frequency_min
                                                            AND rule.frequency_max
                                   AND scored.monetary BETWEEN rule.monetary_min
                                                           AND rule.monetary_max
                                 ORDER BY rule.sequence, rule.id
                                 LIMIT 1)
                       END AS segment
                  FROM %(table)s partner
                  LEFT JOIN scored ON scored.partner_id = partner.id
                 WHERE scored.partner_id IS NOT NULL
                    OR partner.purchase_count > 0
                    OR partner.rfm_segment IS NOT NULL
                    OR partner.rfm_recency IS NOT NULL
            )
            UPDATE %(table)s partner
               SET rfm_recency = target.recency,
                   rfm_frequency = target.frequency,
                   rfm_monetary = target.monetary,
                   rfm_segment = target.segment
              FROM target
             WHERE partner.id = target.id
               AND (partner.rfm_recency, partner.rfm_frequency, partner.rfm_monetary,
                    partner.rfm_segment)
                   IS DISTINCT FROM
                   (target.recency, target.frequency, target.monetary, target.segment)
            """,
            today=today,
            table=table or SQL.identifier(self._table),
            recency=SQL(score.format("last_date")),
            frequency=SQL(score.format("frequency")),
            monetary=SQL(score.format("monetary")),
        )

    @api.model
    def _value_tier_refresh(self):
        """Assign value tiers by the rules of each company and log the changes.

        The one-to-one rule is applied first, then the database rule to the
        remaining customers; the rest are ``mass``. A "top share" rule ranks
        the customers of the company by lifetime value (``cume_dist``, so
        customers tied at the boundary are all in). Partners without purchases
        have no tier. New one-to-one customers get a to-do activity for their
        salesperson.
        """
        self.flush_model()
        self.env["res.company"].flush_model()
        with jit_disabled(self.env.cr):
            rows = self._value_tier_update()
        self.invalidate_model(["value_tier"])
        self.env["crm.value.tier.log"].invalidate_model()
        promoted = self.browse([row[0] for row in rows])
        if promoted:
            self._schedule_one_to_one_activities(promoted)
        return promoted

    @api.model
    def _value_tier_update(self, table=None):
        """Write the value tiers, log the changes and return the ids of the
        partners who entered the one-to-one tier, as rows.

        ``table`` is ``res_partner`` or a table with the same profile
        columns, such as the staging table of the full refresh."""
        return self.env.execute_query(
            SQL(
                """
                WITH customers AS (
                    SELECT partner.id, partner.profile_company_id AS company_id,
                           partner.rfm_segment,
                           cume_dist() OVER (
                               PARTITION BY partner.profile_company_id
                               ORDER BY COALESCE(partner.customer_lifetime_value, 0) DESC
                           ) * 100 AS share
                      FROM %(table)s partner
                     WHERE partner.purchase_count > 0
                       AND partner.profile_company_id IS NOT NULL
                ),
                target AS (
                    SELECT customers.id, customers.company_id,
                           CASE
                               WHEN (company.tier_one_to_one_rule = 'top_percent'
                                     AND customers.share
                                         <= COALESCE(company.tier_one_to_one_percent, 0))
                                 OR (company.tier_one_to_one_rule = 'rfm_segments'
                                     AND customers.rfm_segment IN (
                                         SELECT rule.code
                                           FROM res_company_tier_one_to_one_rfm_rel rel
                                           JOIN crm_rfm_segment rule
                                             ON rule.id = rel.rfm_segment_id
                                          WHERE rel.company_id = company.id))
                               THEN 'one_to_one'
                               WHEN (company.tier_database_rule = 'top_percent'
                                     AND customers.share
                                         <= COALESCE(company.tier_database_percent, 0))
                                 OR (company.tier_database_rule = 'rfm_segments'
                                     AND customers.rfm_segment IN (
                                         SELECT rule.code
                                           FROM res_company_tier_database_rfm_rel rel
                                           JOIN crm_rfm_segment rule
                                             ON rule.id = rel.rfm_segment_id
                                          WHERE rel.company_id = company.id))
                               THEN 'database'
                               ELSE 'mass'
                           END AS tier
                      FROM customers
                      JOIN res_company company ON company.id = customers.company_id
                     UNION ALL
                    SELECT partner.id, partner.profile_company_id, NULL
                      FROM %(table)s partner
                     WHERE partner.value_tier IS NOT NULL
                       AND (partner.purchase_count IS NULL OR partner.purchase_count = 0
                            OR partner.profile_company_id IS NULL)
                ),
                changed AS (
                    UPDATE %(table)s partner
                       SET value_tier = target.tier
                      FROM target, %(table)s previous
                     WHERE partner.id = target.id
                       AND previous.id = target.id
                       AND partner.value_tier IS DISTINCT FROM target.tier
                 RETURNING partner.id, target.company_id, previous.value_tier AS previous_tier,
                           target.tier
                ),
                logged AS (
                    INSERT INTO crm_value_tier_log (partner_id, company_id, previous_tier, tier, date)
                    SELECT id, company_id, previous_tier, tier, now() AT TIME ZONE 'UTC'
                      FROM changed
                )
                SELECT id FROM changed WHERE tier = 'one_to_one'
                """,
                table=table or SQL.identifier(self._table),
            )
        )

    @api.model
    def _schedule_one_to_one_activities(self, partners):
        """Create one to-do for the salesperson of each partner in ``partners``."""
        activity_type = self.env.ref(
            "mail.mail_activity_data_todo", raise_if_not_found=False
        )
        model_id = self.env["ir.model"]._get_id("res.partner")
        vals_list = []
        for partner in partners.filtered("user_id"):
            vals_list.append(
                {
                    "res_model_id": model_id,
                    "res_id": partner.id,
                    "activity_type_id": activity_type.id if activity_type else False,
                    "user_id": partner.user_id.id,
                    "summary": self.env._("New one-to-one customer"),
                    "note": self.env._(
                        "%(partner)s entered the one-to-one value tier: plan a "
                        "personal contact.",
                        partner=partner.display_name,
                    ),
                }
            )
        if vals_list:
            self.env["mail.activity"].sudo().create(vals_list)
