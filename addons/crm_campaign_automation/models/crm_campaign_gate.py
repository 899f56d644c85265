from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

from ..tools import next_allowed_moment


class CrmCampaignGate(models.AbstractModel):
    """The contact gate: decides, for a batch of due traces, which may touch
    their partner now, which must wait and which are refused.

    Consent and contact pressure are decided by one SQL query for the whole
    batch; quiet hours are then computed from each partner's time zone.
    """

    _name = "crm.campaign.gate"
    _description = "Campaign Contact Gate"

    @api.model
    def _check(self, traces):
        """Return ``(refused, delayed)`` for the contact steps among ``traces``.

        ``refused`` maps a trace id to its reason, ``consent`` or ``pressure``;
        ``delayed`` maps a trace id to the naive UTC moment it may run. Traces
        of steps without a channel (actions) are neither. Pressure counts the
        partner's marketing contacts done within the company's period plus the
        contacts of this batch with a higher campaign priority, so the
        campaign with the highest priority wins the remaining budget.
        """
        contact_traces = traces.filtered(lambda trace: trace._get_channel())
        if not contact_traces:
            return {}, {}
        now = fields.Datetime.now()
        self._flush_gate_inputs()

        pairs = {
            (trace._get_channel(), trace.campaign_id.purpose_id)
            for trace in contact_traces
        }
        consent = self.env["crm.consent"].sudo()
        partner_ids = list(set(contact_traces.partner_id.ids))
        allowed = SQL(" UNION ALL ").join(
            SQL(
                "SELECT allowed.id AS partner_id, %s AS channel_id, %s AS purpose_id"
                " FROM (%s) allowed",
                channel.id,
                purpose.id,
                consent._contactable_query(channel, purpose, partner_ids=partner_ids),
            )
            for channel, purpose in pairs
        )
        rows = self.env.execute_query(
            SQL(
                """
                WITH batch AS (
                    SELECT trace.id AS trace_id,
                           trace.partner_id,
                           trace.scheduled_at,
                           COALESCE(variant.channel_id, step.channel_id)
                               AS channel_id,
                           campaign.purpose_id,
                           campaign.priority,
                           NOT COALESCE(purpose.is_transactional, FALSE) AS is_marketing,
                           COALESCE(company.campaign_pressure_limit, 0) AS pressure_limit,
                           COALESCE(company.campaign_pressure_days, 7) AS pressure_days
                      FROM crm_campaign_trace trace
                      JOIN crm_campaign_step step ON step.id = trace.step_id
                 LEFT JOIN crm_campaign_variant variant ON variant.id = trace.variant_id
                      JOIN crm_campaign campaign ON campaign.id = trace.campaign_id
                      JOIN crm_consent_purpose purpose ON purpose.id = campaign.purpose_id
                      JOIN res_company company ON company.id = campaign.company_id
                     WHERE trace.id = ANY(%(trace_ids)s)
                ), allowed AS (
                    %(allowed)s
                ), checked AS (
                    SELECT batch.*,
                           allowed.partner_id IS NOT NULL AS has_consent,
                           (
                               SELECT COUNT(*)
                                 FROM crm_campaign_trace done
                                 JOIN crm_campaign_step done_step
                                   ON done_step.id = done.step_id
                                 JOIN crm_campaign done_campaign
                                   ON done_campaign.id = done.campaign_id
                                 JOIN crm_consent_purpose done_purpose
                                   ON done_purpose.id = done_campaign.purpose_id
                                WHERE done.partner_id = batch.partner_id
                                  AND done.state = 'done'
                                  AND done_step.channel_id IS NOT NULL
                                  AND NOT COALESCE(done_purpose.is_transactional, FALSE)
                                  AND done.executed_at
                                      >= %(now)s - make_interval(days => batch.pressure_days)
                           ) AS pressure_used
                      FROM batch
                 LEFT JOIN allowed
                        ON allowed.partner_id = batch.partner_id
                       AND allowed.channel_id = batch.channel_id
                       AND allowed.purpose_id = batch.purpose_id
                     WHERE batch.channel_id IS NOT NULL
                ), ranked AS (
                    SELECT checked.*,
                           ROW_NUMBER() OVER (
                               PARTITION BY checked.partner_id,
                                            checked.has_consent AND checked.is_marketing
                                   ORDER BY checked.priority DESC,
                                            checked.scheduled_at,
                                            checked.trace_id
                           ) AS pressure_rank
                      FROM checked
                )
                SELECT ranked.trace_id,
                       CASE
                           WHEN NOT ranked.has_consent THEN 'consent'
                           WHEN ranked.is_marketing
                                AND ranked.pressure_limit > 0
                                AND ranked.pressure_used + ranked.pressure_rank
                                    > ranked.pressure_limit
                               THEN 'pressure'
                       END AS refusal,
                       partner.tz
                  FROM ranked
                  JOIN res_partner partner ON partner.id = ranked.partner_id
                """,
                trace_ids=contact_traces.ids,
                allowed=allowed,
                now=now,
            )
        )

        refused = {}
        delayed = {}
        traces_by_id = {trace.id: trace for trace in contact_traces}
        for trace_id, refusal, partner_tz in rows:
            if refusal:
                refused[trace_id] = refusal
                continue
            trace = traces_by_id[trace_id]
            campaign = trace.campaign_id
            company = campaign.company_id
            allowed_at = next_allowed_moment(
                now,
                partner_tz or campaign.tz,
                company.campaign_hour_from,
                company.campaign_hour_to,
                company._campaign_allowed_weekdays(),
            )
            if allowed_at > now:
                delayed[trace_id] = allowed_at
        return refused, delayed

    @api.model
    def _get_pressure_used(self, partner_ids, company):
        """Return ``{partner_id: count}`` of marketing contacts done within the
        pressure period of ``company``."""
        if not partner_ids:
            return {}
        self._flush_gate_inputs()
        since = fields.Datetime.now() - timedelta(days=company.campaign_pressure_days)
        rows = self.env.execute_query(
            SQL(
                """
                SELECT done.partner_id, COUNT(*)
                  FROM crm_campaign_trace done
                  JOIN crm_campaign_step step ON step.id = done.step_id
                  JOIN crm_campaign campaign ON campaign.id = done.campaign_id
                  JOIN crm_consent_purpose purpose ON purpose.id = campaign.purpose_id
                 WHERE done.partner_id = ANY(%s)
                   AND done.state = 'done'
                   AND step.channel_id IS NOT NULL
                   AND NOT COALESCE(purpose.is_transactional, FALSE)
                   AND done.executed_at >= %s
              GROUP BY done.partner_id
                """,
                list(partner_ids),
                since,
            )
        )
        return dict(rows)

    def _flush_gate_inputs(self):
        self.env["crm.campaign.trace"].flush_model(
            [
                "partner_id",
                "state",
                "executed_at",
                "scheduled_at",
                "step_id",
                "variant_id",
            ]
        )
        self.env["crm.campaign.variant"].flush_model(["channel_id"])
        self.env["crm.campaign.step"].flush_model(["channel_id"])
        self.env["crm.campaign"].flush_model(["purpose_id", "priority", "company_id"])
        self.env["res.company"].flush_model(
            ["campaign_pressure_limit", "campaign_pressure_days"]
        )
        self.env["res.partner"].flush_model(
            ["active", "email_normalized", "phone_e164", "mobile_e164", "street", "tz"]
        )
        self.env["crm.consent"].flush_model()
        self.env["crm.consent.event"].flush_model()
        self.env["crm.consent.purpose"].flush_model(["is_transactional"])
        self.env["mail.blacklist"].flush_model(["email", "active"])
        self.env["phone.blacklist"].flush_model(["number", "active"])
