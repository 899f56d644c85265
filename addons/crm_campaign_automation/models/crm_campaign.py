import logging
import secrets
import time
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL
from odoo.tools.safe_eval import safe_eval

from odoo.addons.base.models.res_partner import _tz_get

from ..tools import experiment_stats, local_to_utc

_logger = logging.getLogger(__name__)

# Partners enrolled per batch. The ORM cache is cleared after each batch, so
# enrolment memory grows with this number and not with the audience.
ENROLL_BATCH_SIZE = 2000

CAMPAIGN_STATES = [
    ("draft", "Draft"),
    ("running", "Running"),
    ("paused", "Paused"),
    ("done", "Done"),
]


class CrmCampaign(models.Model):
    """Marketing campaign: an audience walking through a tree of steps.

    Partners enter as participants, from the audience (segments and a domain)
    at launch and later as they join it, or from a date rule. Each step due for
    a participant is a ``crm.campaign.trace`` executed by the cron
    ``ir_cron_campaign_execute`` after the contact gate.
    """

    _name = "crm.campaign"
    _description = "Marketing Campaign"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "priority desc, id desc"

    name = fields.Char(required=True, tracking=True)
    utm_campaign_id = fields.Many2one(
        "utm.campaign",
        string="UTM Campaign",
        required=True,
        ondelete="restrict",
        copy=False,
        help="Campaign of the UTM parameters added to tracked links and of the "
        "mailing statistics; created with the campaign.",
    )
    active = fields.Boolean(default=True)
    utm_source_id = fields.Many2one(
        "utm.source",
        string="UTM Source",
        ondelete="set null",
        help="Source set on the opportunities the campaign creates. Empty: a "
        "source named after the campaign, created on first use.",
    )
    utm_medium_id = fields.Many2one(
        "utm.medium",
        string="UTM Medium",
        ondelete="set null",
        default=lambda self: self.env.ref("utm.utm_medium_email", False),
        help="Medium set on the opportunities the campaign creates.",
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    user_id = fields.Many2one(
        "res.users",
        string="Responsible",
        default=lambda self: self.env.user,
        tracking=True,
        help="Receives the call activities of partners without a salesperson.",
    )
    state = fields.Selection(
        CAMPAIGN_STATES,
        default="draft",
        required=True,
        tracking=True,
        index=True,
        copy=False,
    )
    priority = fields.Integer(
        default=10,
        tracking=True,
        help="When the contact-pressure budget of a partner cannot take every due "
        "step, steps of campaigns with a higher priority are sent first.",
    )
    tz = fields.Selection(
        _tz_get,
        string="Time Zone",
        default=lambda self: self.env.user.tz or "UTC",
        help="Time zone of step hours and quiet hours for partners without a time "
        "zone of their own.",
    )

    # Audience
    purpose_id = fields.Many2one(
        "crm.consent.purpose",
        string="Consent Purpose",
        required=True,
        default=lambda self: self.env.ref(
            "crm_consent.purpose_marketing", raise_if_not_found=False
        ),
        help="Purpose the partners are contacted for. The contact gate checks "
        "consent for this purpose on each step's channel.",
    )
    segment_ids = fields.Many2many(
        "crm.segment",
        "crm_campaign_segment_rel",
        "campaign_id",
        "segment_id",
        string="Segments",
        help="Members of any of these segments enter the campaign. Without "
        "segments, every partner matching the filter does.",
    )
    exclude_segment_ids = fields.Many2many(
        "crm.segment",
        "crm_campaign_exclude_segment_rel",
        "campaign_id",
        "segment_id",
        string="Excluded Segments",
        help="Members of these segments never enter the campaign.",
    )
    domain = fields.Char(
        string="Filter",
        default="[]",
        required=True,
        help="Odoo domain on contacts that partners must match to enter.",
    )
    entry_mode = fields.Selection(
        [
            ("audience", "Audience: at launch and as partners join"),
            ("date_rule", "Date rule: on a date of the partner"),
            ("event", "Event: a record created or changed to match a filter"),
        ],
        default="audience",
        required=True,
    )
    date_field_id = fields.Many2one(
        "ir.model.fields",
        string="Partner Date",
        domain="[('model', '=', 'res.partner'), ('ttype', 'in', ('date', 'datetime')),"
        " ('store', '=', True)]",
        ondelete="cascade",
        help="Date of the partner the rule counts from, such as the birthday or "
        "the last purchase.",
    )
    date_offset_days = fields.Integer(
        string="Offset (days)",
        help="Days added to the partner date; negative to enter before it.",
    )
    date_hour = fields.Float(
        string="Entry Hour",
        default=9.0,
        help="Local hour of entry, in the partner's time zone.",
    )
    date_yearly = fields.Boolean(
        string="Every Year",
        help="Enter on the anniversary of the date each year, as for birthdays.",
    )
    event_model_id = fields.Many2one(
        "ir.model",
        ondelete="cascade",
        help="Model whose records bring their partner into the campaign when they "
        "are created or changed and match the event filter.",
    )
    event_model = fields.Char(related="event_model_id.model", string="Event Model Name")
    event_domain = fields.Char(
        string="Event Filter",
        default="[]",
        help="Odoo domain on the event model that a record must match.",
    )
    event_partner_field_id = fields.Many2one(
        "ir.model.fields",
        domain="[('model_id', '=', event_model_id), ('ttype', '=', 'many2one'),"
        " ('relation', '=', 'res.partner')]",
        ondelete="cascade",
        help="Field of the event record holding the partner who enters. Empty for "
        "events on contacts themselves.",
    )
    event_last_check = fields.Datetime(
        readonly=True,
        copy=False,
        help="Records changed after this moment, in UTC, are read at the next "
        "enrolment.",
    )
    allow_reentry = fields.Boolean(
        string="Allow Re-entry",
        help="A partner who finished the campaign may enter it again. A partner is "
        "never in the same campaign twice at the same time.",
    )
    goal = fields.Selection(
        [("none", "None"), ("purchase", "Purchase")],
        default="none",
        required=True,
        help="Reaching the goal ends the partner's journey and counts as a "
        "conversion. Purchase: a sale order of the partner confirmed after entry.",
    )

    holdout_percent = fields.Float(
        string="Holdout (%)",
        help="Share of the entering partners, in percent, who receive nothing. "
        "Comparing their purchases with those of the treated partners measures "
        "what the campaign adds. Applies to partners entering after a change.",
    )
    experiment_seed = fields.Integer(
        string="Assignment Seed",
        default=lambda self: secrets.randbelow(2**31),
        copy=False,
        help="Number mixed into the hash that assigns partners to the holdout, "
        "test sample and variants. Changing it reshuffles later assignments.",
    )

    uplift_treated_rate = fields.Float(
        string="Treated Conversion Rate", compute="_compute_uplift", digits=(16, 4)
    )
    uplift_holdout_rate = fields.Float(
        string="Holdout Conversion Rate", compute="_compute_uplift", digits=(16, 4)
    )
    uplift_rate = fields.Float(
        string="Conversion Uplift",
        compute="_compute_uplift",
        digits=(16, 4),
        help="Conversion rate of the treated participants minus that of the "
        "holdout, with its 95 % interval (Newcombe hybrid score interval).",
    )
    uplift_rate_low = fields.Float(compute="_compute_uplift", digits=(16, 4))
    uplift_rate_high = fields.Float(compute="_compute_uplift", digits=(16, 4))
    uplift_revenue = fields.Float(
        string="Revenue Uplift per Participant",
        compute="_compute_uplift",
        help="Revenue per treated participant minus revenue per holdout "
        "participant, in the company currency, with its 95 % normal interval.",
    )
    uplift_revenue_low = fields.Float(compute="_compute_uplift")
    uplift_revenue_high = fields.Float(compute="_compute_uplift")

    step_ids = fields.One2many("crm.campaign.step", "campaign_id", string="Steps")
    participant_ids = fields.One2many(
        "crm.campaign.participant", "campaign_id", string="Participants"
    )
    trace_ids = fields.One2many("crm.campaign.trace", "campaign_id", string="Traces")
    launch_date = fields.Datetime(readonly=True, copy=False)
    stop_date = fields.Datetime(readonly=True, copy=False)

    step_count = fields.Integer(compute="_compute_statistics")
    participant_count = fields.Integer(compute="_compute_statistics")
    converted_count = fields.Integer(compute="_compute_statistics")
    trace_done_count = fields.Integer(compute="_compute_statistics")
    trace_skipped_count = fields.Integer(compute="_compute_statistics")
    trace_scheduled_count = fields.Integer(compute="_compute_statistics")

    preview_audience_count = fields.Integer(
        string="Audience", compute="_compute_preview"
    )
    preview_refused_consent = fields.Integer(
        string="Refused for Consent", compute="_compute_preview"
    )
    preview_refused_pressure = fields.Integer(
        string="Refused for Contact Pressure", compute="_compute_preview"
    )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if not vals.get("utm_campaign_id") and vals.get("name"):
                vals["utm_campaign_id"] = (
                    self.env["utm.campaign"]
                    .sudo()
                    .create({"title": vals["name"], "is_auto_campaign": True})
                    .id
                )
        return super().create(vals_list)

    def write(self, vals):
        result = super().write(vals)
        if vals.get("name"):
            self.utm_campaign_id.sudo().write({"title": vals["name"]})
        return result

    @api.constrains("domain")
    def _check_domain(self):
        for campaign in self:
            campaign._get_domain()

    @api.constrains("holdout_percent")
    def _check_holdout_percent(self):
        for campaign in self:
            if not 0 <= campaign.holdout_percent < 100:
                raise UserError(
                    self.env._(
                        "The holdout of campaign %(campaign)s must be at least 0 and "
                        "below 100 percent, got %(value)s.",
                        campaign=campaign.name,
                        value=campaign.holdout_percent,
                    )
                )

    @api.constrains("entry_mode", "date_field_id")
    def _check_date_rule(self):
        for campaign in self:
            if campaign.entry_mode == "date_rule" and not campaign.date_field_id:
                raise UserError(
                    self.env._(
                        "Campaign %(campaign)s enters partners on a date rule but has "
                        "no partner date. Choose the date field.",
                        campaign=campaign.name,
                    )
                )

    @api.constrains("entry_mode", "event_model_id", "event_partner_field_id")
    def _check_event_rule(self):
        for campaign in self.filtered(lambda c: c.entry_mode == "event"):
            model = campaign.event_model_id.model
            if not model or (
                model != "res.partner" and not campaign.event_partner_field_id
            ):
                raise UserError(
                    self.env._(
                        "Campaign %(campaign)s enters partners on an event but has "
                        "no event model or partner field. Choose both.",
                        campaign=campaign.name,
                    )
                )

    def _get_domain(self):
        self.ensure_one()
        try:
            domain = safe_eval(self.domain or "[]", {"uid": self.env.uid})
        except Exception as error:
            raise UserError(
                self.env._(
                    "The filter of campaign %(campaign)s is not a valid domain: "
                    "%(error)s",
                    campaign=self.name,
                    error=error,
                )
            ) from error
        if not isinstance(domain, list):
            raise UserError(
                self.env._(
                    "The filter of campaign %(campaign)s must be a list, got %(value)s.",
                    campaign=self.name,
                    value=self.domain,
                )
            )
        return domain

    # ------------------------------------------------------------------
    # Statistics and preview
    # ------------------------------------------------------------------

    def _compute_statistics(self):
        participant_data = {
            (campaign.id, state): count
            for campaign, state, count in self.env[
                "crm.campaign.participant"
            ]._read_group(
                [("campaign_id", "in", self.ids)],
                ["campaign_id", "state"],
                ["__count"],
            )
        }
        trace_data = {
            (campaign.id, state): count
            for campaign, state, count in self.env["crm.campaign.trace"]._read_group(
                [("campaign_id", "in", self.ids)],
                ["campaign_id", "state"],
                ["__count"],
            )
        }
        for campaign in self:
            key = campaign._origin.id
            campaign.step_count = len(campaign.step_ids)
            campaign.participant_count = sum(
                count for (cid, _state), count in participant_data.items() if cid == key
            )
            campaign.converted_count = participant_data.get((key, "converted"), 0)
            campaign.trace_done_count = trace_data.get((key, "done"), 0)
            campaign.trace_skipped_count = trace_data.get((key, "skipped"), 0)
            campaign.trace_scheduled_count = trace_data.get((key, "scheduled"), 0)

    def _compute_uplift(self):
        for campaign in self:
            uplift = (
                campaign._origin.get_holdout_uplift()
                if campaign._origin and campaign.holdout_percent
                else {}
            )
            campaign.uplift_treated_rate = uplift.get("treated_rate", 0.0)
            campaign.uplift_holdout_rate = uplift.get("holdout_rate", 0.0)
            campaign.uplift_rate = uplift.get("uplift", 0.0)
            campaign.uplift_rate_low = uplift.get("uplift_low", 0.0)
            campaign.uplift_rate_high = uplift.get("uplift_high", 0.0)
            campaign.uplift_revenue = uplift.get("revenue_uplift", 0.0)
            campaign.uplift_revenue_low = uplift.get("revenue_uplift_low", 0.0)
            campaign.uplift_revenue_high = uplift.get("revenue_uplift_high", 0.0)

    def _compute_preview(self):
        for campaign in self:
            preview = (
                campaign._origin.get_audience_preview() if campaign._origin else {}
            )
            campaign.preview_audience_count = preview.get("audience", 0)
            refused = preview.get("refused", {})
            campaign.preview_refused_consent = refused.get("consent", 0)
            campaign.preview_refused_pressure = refused.get("pressure", 0)

    def get_audience_preview(self):
        """Count the audience and the partners the gate would refuse right now.

        :returns: ``{'audience': int, 'refused': {'consent': int, 'pressure':
            int}}``. Consent counts partners refused on the channel of at least
            one first step; pressure counts the others whose contact budget is
            already used up. Quiet hours only delay a step, so they
            are not counted.
        """
        self.ensure_one()
        partner_ids = self._get_audience_partner_ids()
        result = {
            "audience": len(partner_ids),
            "refused": {"consent": 0, "pressure": 0},
        }
        if not partner_ids:
            return result
        channels = self.step_ids.filtered(lambda step: not step.parent_id).channel_id
        consent = self.env["crm.consent"].sudo()
        refused_consent = set()
        for channel in channels:
            allowed = set(
                consent._filter_contactable(
                    partner_ids, channel.code, self.purpose_id.code
                )
            )
            refused_consent.update(set(partner_ids) - allowed)
        result["refused"]["consent"] = len(refused_consent)
        if not self.purpose_id.is_transactional and channels:
            remaining = [pid for pid in partner_ids if pid not in refused_consent]
            used = self.env["crm.campaign.gate"]._get_pressure_used(
                remaining, self.company_id
            )
            limit = self.company_id.campaign_pressure_limit
            if limit:
                result["refused"]["pressure"] = sum(
                    1 for pid in remaining if used.get(pid, 0) >= limit
                )
        return result

    def get_holdout_uplift(self):
        """Compare the conversions and revenue of treated and holdout participants.

        A participant converts with a confirmed sale order of its commercial
        partner in the campaign's company dated at or after its entry,
        whatever the state of its journey. Revenue is the ledger amount of
        those orders (untaxed, company currency). Every journey counts once.

        :returns: dict with ``treated_count``, ``holdout_count``,
            ``treated_conversions``, ``holdout_conversions``, ``treated_rate``,
            ``holdout_rate``, ``uplift`` (treated rate minus holdout rate) and
            its 95 % Newcombe hybrid score interval ``uplift_low`` /
            ``uplift_high``, ``treated_revenue_per_participant``,
            ``holdout_revenue_per_participant``, ``revenue_uplift`` and its
            95 % normal interval of unequal variances ``revenue_uplift_low`` /
            ``revenue_uplift_high``. Without holdout participants the
            intervals are 0.
        """
        self.ensure_one()
        Participant = self.env["crm.campaign.participant"]
        Participant.flush_model(
            ["campaign_id", "is_holdout", "partner_id", "entry_date"]
        )
        purchase = Participant._purchase_after_sql(
            SQL.identifier("participant", "partner_id"),
            SQL.identifier("participant", "entry_date"),
            self.company_id.id,
        )
        rows = self.env.execute_query(
            SQL(
                """
                SELECT participant.is_holdout,
                       COUNT(*),
                       SUM(CASE WHEN purchase.order_count > 0 THEN 1 ELSE 0 END),
                       SUM(purchase.revenue),
                       SUM(purchase.revenue * purchase.revenue)
                  FROM crm_campaign_participant participant
                  JOIN LATERAL (%(purchase)s) purchase ON TRUE
                 WHERE participant.campaign_id = %(campaign_id)s
              GROUP BY participant.is_holdout
                """,
                purchase=purchase,
                campaign_id=self.id,
            )
        )
        groups = {bool(is_holdout): row for is_holdout, *row in rows}
        treated = groups.get(False, (0, 0, 0.0, 0.0))
        holdout = groups.get(True, (0, 0, 0.0, 0.0))
        treated_count, treated_conversions = treated[0], treated[1] or 0
        holdout_count, holdout_conversions = holdout[0], holdout[1] or 0
        treated_mean, treated_variance = experiment_stats.mean_and_variance(
            float(treated[2] or 0), float(treated[3] or 0), treated_count
        )
        holdout_mean, holdout_variance = experiment_stats.mean_and_variance(
            float(holdout[2] or 0), float(holdout[3] or 0), holdout_count
        )
        uplift, uplift_low, uplift_high = (
            experiment_stats.newcombe_difference_interval(
                treated_conversions, treated_count, holdout_conversions, holdout_count
            )
            if treated_count and holdout_count
            else (0.0, 0.0, 0.0)
        )
        revenue_uplift, revenue_low, revenue_high = (
            experiment_stats.mean_difference_interval(
                treated_mean,
                treated_variance,
                treated_count,
                holdout_mean,
                holdout_variance,
                holdout_count,
            )
            if treated_count and holdout_count
            else (0.0, 0.0, 0.0)
        )
        return {
            "treated_count": treated_count,
            "holdout_count": holdout_count,
            "treated_conversions": treated_conversions,
            "holdout_conversions": holdout_conversions,
            "treated_rate": treated_conversions / treated_count
            if treated_count
            else 0.0,
            "holdout_rate": holdout_conversions / holdout_count
            if holdout_count
            else 0.0,
            "uplift": uplift,
            "uplift_low": uplift_low,
            "uplift_high": uplift_high,
            "treated_revenue_per_participant": treated_mean,
            "holdout_revenue_per_participant": holdout_mean,
            "revenue_uplift": revenue_uplift,
            "revenue_uplift_low": revenue_low,
            "revenue_uplift_high": revenue_high,
        }

    # ------------------------------------------------------------------
    # Audience and enrolment
    # ------------------------------------------------------------------

    def _get_audience_domain(self):
        self.ensure_one()
        domain = list(self._get_domain())
        domain += [
            "|",
            ("company_id", "=", False),
            ("company_id", "=", self.company_id.id),
        ]
        if self.segment_ids:
            domain.append(("segment_ids", "in", self.segment_ids.ids))
        if self.exclude_segment_ids:
            domain.append(("segment_ids", "not in", self.exclude_segment_ids.ids))
        return domain

    def _get_audience_partner_ids(self):
        """Return the ids of the partners currently in the audience."""
        self.ensure_one()
        return (
            self.env["res.partner"]
            .with_context(active_test=True)
            .search(self._get_audience_domain(), order="id")
            .ids
        )

    def _enroll(self, partner_ids, entry_dates=None):
        """Add ``partner_ids`` as participants and schedule their first steps.

        Partners already running in the campaign are skipped, and so are those
        who were ever in it unless re-entry is allowed. ``entry_dates`` maps a
        partner id to the naive UTC moment of entry (date rules); by default
        they enter now. Returns the new participants, browsed from their ids
        without any field in the cache.

        Partners are enrolled in batches of ``ENROLL_BATCH_SIZE``. After each
        batch every pending write is flushed and the whole ORM cache of the
        environment is cleared, so memory depends on the batch size and not
        on the audience. Records held by the caller stay valid and are read
        again when used.
        """
        self.ensure_one()
        Participant = self.env["crm.campaign.participant"]
        unique_partner_ids = list(dict.fromkeys(partner_ids or ()))
        now = fields.Datetime.now()
        entry_dates = entry_dates or {}
        participant_ids = []
        # TODO: all batches run in the caller's transaction, so a launch on a
        # large audience holds its locks and rolls back entirely on error.
        # Committing per batch needs enrolment to move into a cron.
        for start in range(0, len(unique_partner_ids), ENROLL_BATCH_SIZE):
            batch_started = time.monotonic()
            batch_ids = unique_partner_ids[start : start + ENROLL_BATCH_SIZE]
            participants = self._enroll_batch(batch_ids, entry_dates, now)
            participant_ids.extend(participants.ids)
            self.env.invalidate_all()
            _logger.debug(
                "Campaign %s: enrolled %s of %s partners in %.2fs",
                self.id,
                len(participants),
                len(batch_ids),
                time.monotonic() - batch_started,
            )
        return Participant.browse(participant_ids)

    def _enroll_batch(self, partner_ids, entry_dates, now):
        """Create participants for the distinct ``partner_ids`` not yet in the
        campaign, with their root-step traces, and return the participants."""
        Participant = self.env["crm.campaign.participant"]
        Participant.flush_model(["campaign_id", "partner_id", "state"])
        state_filter = (
            SQL("AND participant.state = 'running'") if self.allow_reentry else SQL()
        )
        rows = self.env.execute_query(
            SQL(
                """
                SELECT participant.partner_id
                  FROM crm_campaign_participant participant
                 WHERE participant.campaign_id = %(campaign_id)s
                   AND participant.partner_id = ANY(%(partner_ids)s)
                   %(state_filter)s
                """,
                campaign_id=self.id,
                partner_ids=partner_ids,
                state_filter=state_filter,
            )
        )
        present = {row[0] for row in rows}
        participants = Participant.create(
            [
                {
                    "campaign_id": self.id,
                    "partner_id": partner_id,
                    "entry_date": entry_dates.get(partner_id, now),
                }
                for partner_id in partner_ids
                if partner_id not in present
            ]
        )
        root_steps = self.step_ids.filtered(lambda step: not step.parent_id)
        self.env["crm.campaign.trace"]._schedule(participants, root_steps)
        return participants

    def _enroll_audience(self):
        """Enroll the audience members not yet in each running campaign."""
        total = 0
        for campaign in self.filtered(
            lambda c: c.state == "running" and c.entry_mode == "audience"
        ):
            total += len(campaign._enroll(campaign._get_audience_partner_ids()))
        return total

    def _enroll_date_rule(self):
        """Enroll partners whose rule date falls on their local day now or tomorrow.

        The root steps are scheduled from the rule moment (the rule day at
        ``date_hour`` in the partner's time zone, else the campaign's), so a
        partner enrolled ahead of time waits for it. A partner enters once per
        occurrence: a participant whose entry is within a day of the moment
        already stands for it.
        """
        total = 0
        now = fields.Datetime.now()
        for campaign in self.filtered(
            lambda c: c.state == "running" and c.entry_mode == "date_rule"
        ):
            field_name = campaign.date_field_id.name
            candidates = self.env["res.partner"].search(
                campaign._get_audience_domain() + [(field_name, "!=", False)]
            )
            moments = {}
            for partner in candidates:
                moment = campaign._get_date_rule_moment(
                    partner[field_name], partner, now
                )
                if moment and now - timedelta(hours=1) <= moment < now + timedelta(
                    days=2
                ):
                    moments[partner.id] = moment
            if not moments:
                continue
            recent = self.env["crm.campaign.participant"].search(
                [
                    ("campaign_id", "=", campaign.id),
                    ("partner_id", "in", list(moments)),
                    ("entry_date", ">=", now - timedelta(days=2)),
                ]
            )
            for participant in recent:
                moment = moments.get(participant.partner_id.id)
                if moment and abs(participant.entry_date - moment) < timedelta(days=1):
                    del moments[participant.partner_id.id]
            total += len(campaign._enroll(list(moments), entry_dates=moments))
        return total

    def _enroll_events(self):
        """Enroll the partners of event records created or changed since the last
        check and matching the event filter.

        Records are found by ``write_date``, which creation sets too, so any
        change of a matching record counts as an event. The partner still has
        to match the campaign's audience.
        """
        total = 0
        now = fields.Datetime.now()
        for campaign in self.filtered(
            lambda c: c.state == "running" and c.entry_mode == "event"
        ):
            Model = self.env[campaign.event_model_id.model]
            domain = safe_eval(campaign.event_domain or "[]", {"uid": self.env.uid})
            since = campaign.event_last_check or campaign.launch_date or now
            records = Model.search(domain + [("write_date", ">=", since)])
            if campaign.event_partner_field_id:
                partners = records.mapped(campaign.event_partner_field_id.name)
            else:
                partners = records
            campaign.event_last_check = now
            if not partners:
                continue
            audience = self.env["res.partner"].search(
                [("id", "in", partners.ids), *campaign._get_audience_domain()]
            )
            total += len(campaign._enroll(audience.ids))
        return total

    def _get_date_rule_moment(self, value, partner, now):
        """Return the next UTC moment of the rule for a partner date ``value``."""
        self.ensure_one()
        day = value.date() if hasattr(value, "date") and callable(value.date) else value
        day = day + timedelta(days=self.date_offset_days)
        tz_name = partner.tz or self.tz
        if not self.date_yearly:
            return local_to_utc(day, self.date_hour, tz_name)
        for year in (now.year - 1, now.year, now.year + 1):
            try:
                occurrence = day.replace(year=year)
            except ValueError:
                # 29 February outside a leap year: the day before.
                occurrence = day.replace(year=year, day=28)
            moment = local_to_utc(occurrence, self.date_hour, tz_name)
            if moment >= now - timedelta(hours=1):
                return moment
        return False

    # ------------------------------------------------------------------
    # Actions (XML-RPC contract)
    # ------------------------------------------------------------------

    def action_launch(self):
        """Start the campaign: enroll its audience and schedule the first steps.

        Raises when a campaign is not a draft or has no step. Returns True.
        """
        for campaign in self:
            if campaign.state != "draft":
                raise UserError(
                    self.env._(
                        "Only a draft campaign can be launched; %(campaign)s is "
                        "%(state)s.",
                        campaign=campaign.name,
                        state=dict(CAMPAIGN_STATES)[campaign.state],
                    )
                )
            if not campaign.step_ids:
                raise UserError(
                    self.env._(
                        "Campaign %(campaign)s has no step. Add a step before "
                        "launching it.",
                        campaign=campaign.name,
                    )
                )
            campaign.step_ids._check_ready()
        started = time.monotonic()
        now = fields.Datetime.now()
        self.write({"state": "running", "launch_date": now})
        self.step_ids.filtered(
            lambda step: len(step.variant_ids) > 1 and step.test_state == "none"
        ).write(
            {"test_state": "running", "test_start_date": now, "test_p_values": False}
        )
        enrolled = self._enroll_audience() + self._enroll_date_rule()
        _logger.info(
            "Launched campaigns %s: %s participants enrolled in %.2fs",
            self.ids,
            enrolled,
            time.monotonic() - started,
        )
        self.env.ref("crm_campaign_automation.ir_cron_campaign_execute")._trigger()
        return True

    def action_pause(self):
        """Pause running campaigns: due steps wait until the campaign resumes."""
        for campaign in self:
            if campaign.state != "running":
                raise UserError(
                    self.env._(
                        "Only a running campaign can be paused; %(campaign)s is "
                        "%(state)s.",
                        campaign=campaign.name,
                        state=dict(CAMPAIGN_STATES)[campaign.state],
                    )
                )
        self.write({"state": "paused"})
        return True

    def action_resume(self):
        """Resume paused campaigns; steps that fell due meanwhile run next."""
        for campaign in self:
            if campaign.state != "paused":
                raise UserError(
                    self.env._(
                        "Only a paused campaign can be resumed; %(campaign)s is "
                        "%(state)s.",
                        campaign=campaign.name,
                        state=dict(CAMPAIGN_STATES)[campaign.state],
                    )
                )
        self.write({"state": "running"})
        self.env.ref("crm_campaign_automation.ir_cron_campaign_execute")._trigger()
        return True

    def action_stop(self):
        """Stop campaigns for good: scheduled steps are canceled with reason
        ``stopped`` and running participants end as canceled."""
        for campaign in self:
            if campaign.state not in ("running", "paused"):
                raise UserError(
                    self.env._(
                        "Only a running or paused campaign can be stopped; "
                        "%(campaign)s is %(state)s.",
                        campaign=campaign.name,
                        state=dict(CAMPAIGN_STATES)[campaign.state],
                    )
                )
        self.write({"state": "done", "stop_date": fields.Datetime.now()})
        traces = self.env["crm.campaign.trace"].search(
            [("campaign_id", "in", self.ids), ("state", "=", "scheduled")]
        )
        traces.write({"state": "canceled", "skip_reason": "stopped"})
        self.env["crm.campaign.participant"].search(
            [("campaign_id", "in", self.ids), ("state", "=", "running")]
        ).write({"state": "canceled"})
        return True

    def action_reset_draft(self):
        """Bring a stopped campaign without participants back to draft."""
        for campaign in self:
            if campaign.participant_ids:
                raise UserError(
                    self.env._(
                        "Campaign %(campaign)s already has participants and cannot "
                        "go back to draft. Duplicate it instead.",
                        campaign=campaign.name,
                    )
                )
        self.write({"state": "draft"})
        return True

    def action_execute(self):
        """Execute the due steps of these campaigns (of all running campaigns on an
        empty recordset), as the cron does. Returns the number of traces
        processed."""
        return self.env["crm.campaign.trace"]._execute_due(
            campaign_ids=self.ids or None
        )

    def action_enroll(self):
        """Enroll the partners who joined the audience, reached a date rule or
        triggered an event since the last enrolment. Returns the number of new
        participants."""
        return (
            self._enroll_audience() + self._enroll_date_rule() + self._enroll_events()
        )

    def action_enroll_now(self):
        """Enroll new members from the form and show how many entered."""
        count = self.action_enroll()
        return self._notify(self.env._("%(count)s new participants.", count=count))

    def action_execute_now(self):
        """Run the due steps from the form and show how many were processed."""
        count = self.action_execute()
        return self._notify(self.env._("%(count)s due steps processed.", count=count))

    def _notify(self, message):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "message": message,
                "type": "success",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def action_view_participants(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_campaign_automation.crm_campaign_participant_action"
        )
        action["domain"] = [("campaign_id", "=", self.id)]
        action["context"] = {"default_campaign_id": self.id}
        return action

    def action_view_traces(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_campaign_automation.crm_campaign_trace_action"
        )
        action["domain"] = [("campaign_id", "=", self.id)]
        return action

    # ------------------------------------------------------------------
    # Crons
    # ------------------------------------------------------------------

    @api.model
    def _cron_enroll(self):
        """Enroll new audience members and date-rule partners of running campaigns."""
        campaigns = self.search([("state", "=", "running")])
        started = time.monotonic()
        enrolled = campaigns.action_enroll()
        _logger.info(
            "Campaign enrolment: %s participants in %s campaigns in %.2fs",
            enrolled,
            len(campaigns),
            time.monotonic() - started,
        )
        if enrolled:
            self.env.ref("crm_campaign_automation.ir_cron_campaign_execute")._trigger()
