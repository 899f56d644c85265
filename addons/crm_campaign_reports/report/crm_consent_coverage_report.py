from odoo import fields, models
from odoo.models import parse_read_group_spec
from odoo.tools import SQL

from odoo.addons.crm_segments.models.crm_value_tier_log import VALUE_TIERS


class CrmConsentCoverageReport(models.Model):
    """Share of customers that campaigns may contact, per company, channel,
    purpose and value tier.

    Customers of a company are the partners with at least one row of that
    company in the customer ledger (``crm.customer.transaction``, a
    commercial partner). A customer is contactable on a channel for a
    purpose when crm_consent's contact gate (``crm.consent._contactable_query``
    without a date: current consent, contact detail, blacklists, opt-out
    regimes) lets it through, with the company's regimes for partners never
    asked. Active channels and purposes only.
    """

    _name = "crm.consent.coverage.report"
    _description = "Consent Coverage by Channel"
    _auto = False
    _order = "company_id, channel_id, purpose_id, value_tier"
    _rec_name = "channel_id"
    _depends = {
        "crm.consent": ["partner_id", "channel_id", "purpose_id", "state"],
        "crm.customer.transaction": ["partner_id", "company_id"],
        "res.partner": ["value_tier", "active", "email_normalized"],
    }

    company_id = fields.Many2one("res.company", readonly=True)
    channel_id = fields.Many2one("crm.consent.channel", readonly=True)
    purpose_id = fields.Many2one("crm.consent.purpose", readonly=True)
    value_tier = fields.Selection(
        VALUE_TIERS, readonly=True, help="Current value tier of the customers."
    )
    customers = fields.Integer(
        readonly=True, help="Customers with a purchase or refund in the ledger."
    )
    contactable = fields.Integer(
        readonly=True,
        help="Customers the contact gate lets through on this channel for this "
        "purpose today.",
    )
    coverage = fields.Float(
        string="Coverage (%)",
        readonly=True,
        aggregator="avg",
        digits=(16, 2),
        help="Contactable customers divided by customers, in percent.",
    )

    @property
    def _table_query(self):
        consent = self.env["crm.consent"].sudo()
        channels = self.env["crm.consent.channel"].sudo().search([])
        purposes = self.env["crm.consent.purpose"].sudo().search([])
        companies = self.env["res.company"].sudo().search([])
        parts = [
            SQL(
                """
                SELECT %(company)s AS company_id,
                       %(channel)s AS channel_id,
                       %(purpose)s AS purpose_id,
                       customer.partner_id,
                       customer.partner_id IN (%(contactable)s) AS is_contactable
                  FROM customer
                 WHERE customer.company_id = %(company)s
                """,
                company=company.id,
                channel=channel.id,
                purpose=purpose.id,
                contactable=consent.with_company(company)._contactable_query(
                    channel, purpose
                ),
            )
            for company in companies
            for channel in channels
            for purpose in purposes
        ]
        if not parts:
            parts = [
                SQL(
                    "SELECT NULL::integer, NULL::integer, NULL::integer, "
                    "NULL::integer, FALSE FROM customer WHERE FALSE"
                )
            ]
        # Row ids pack (company, channel, purpose, tier) in one bigint.
        return SQL(
            """
            WITH customer AS (
                SELECT DISTINCT ledger.partner_id, ledger.company_id
                  FROM crm_customer_transaction ledger
            ),
            gate (company_id, channel_id, purpose_id, partner_id, is_contactable) AS (
                %(parts)s
            )
            SELECT ROW_NUMBER() OVER (
                       ORDER BY gate.company_id, gate.channel_id, gate.purpose_id,
                                partner.value_tier
                   ) AS id,
                   gate.company_id,
                   gate.channel_id,
                   gate.purpose_id,
                   partner.value_tier,
                   COUNT(*)::integer AS customers,
                   COUNT(*) FILTER (WHERE gate.is_contactable)::integer AS contactable,
                   ROUND(100.0 * COUNT(*) FILTER (WHERE gate.is_contactable)
                         / COUNT(*), 2) AS coverage
              FROM gate
              JOIN res_partner partner ON partner.id = gate.partner_id
          GROUP BY gate.company_id, gate.channel_id, gate.purpose_id, partner.value_tier
            """,
            parts=SQL(" UNION ALL ").join(parts),
        )

    def _read_group_select(self, aggregate_spec, query):
        """Compute the coverage from the sums, whatever the aggregate."""
        if aggregate_spec != "__count":
            fname, _property, _func = parse_read_group_spec(aggregate_spec)
            if fname == "coverage":
                contactable = self._field_to_sql(self._table, "contactable", query)
                customers = self._field_to_sql(self._table, "customers", query)
                return SQL(
                    "ROUND(COALESCE(100.0 * SUM(%s) / NULLIF(SUM(%s), 0), 0), 2)",
                    contactable,
                    customers,
                )
        return super()._read_group_select(aggregate_spec, query)
