import logging
import time
from datetime import timedelta

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.osv import expression
from odoo.tools import SQL
from odoo.tools.safe_eval import safe_eval

from ..tools import experiment_stats, local_to_utc
from ..tools.experiment_assignment import assignment_fraction, pick_weighted
from ..tools.schedule import utc_to_local

_logger = logging.getLogger(__name__)

# Settings that change what the experiment measures, so that writing one
# clears the stored running minimum of the sequential p-values.
SEQUENTIAL_RESET_FIELDS = frozenset(
    {"test_metric", "test_exclude_machine_opens", "test_machine_open_seconds"}
)

STEP_KINDS = [
    ("email", "E-mail"),
    ("sms", "SMS"),
    ("call", "Call"),
    ("postal", "Postal Letter"),
    ("web", "Web Offer Page"),
    ("action", "Action"),
]

# Consent channel (crm_consent data record) checked by the gate for each kind.
# Actions touch no partner directly, so the gate lets them through.
KIND_CHANNELS = {
    "email": "crm_consent.channel_email",
    "sms": "crm_consent.channel_sms",
    "call": "crm_consent.channel_phone",
    "postal": "crm_consent.channel_postal",
    "web": "crm_consent.channel_email",
}

TRIGGERS = [
    ("begin", "At entry"),
    ("after_step", "After the parent step"),
    ("opened", "Parent e-mail opened"),
    ("not_opened", "Parent e-mail not opened"),
    ("clicked", "Parent message clicked"),
    ("not_clicked", "Parent message not clicked"),
    ("replied", "Parent e-mail replied"),
    ("bounced", "Parent e-mail bounced"),
    ("purchased", "Purchase since the parent step"),
    ("not_purchased", "No purchase since the parent step"),
]

INTERVAL_TYPES = [
    ("hours", "Hours"),
    ("days", "Days"),
    ("weeks", "Weeks"),
    ("months", "Months"),
]

ACTION_KINDS = [
    ("add_tag", "Add a tag"),
    ("remove_tag", "Remove a tag"),
    ("server_action", "Run a server action"),
]

TEST_METRICS = [
    ("open", "Open rate"),
    ("click", "Click rate"),
    ("reply", "Reply rate"),
    ("conversion", "Conversion rate"),
    ("revenue", "Revenue per recipient"),
]

TEST_STATES = [
    ("none", "No test"),
    ("running", "Running"),
    ("decided", "Decided"),
]

TIER_FILTERS = [
    ("all", "All partners"),
    ("one_to_one", "One-to-one tier only"),
    ("automated", "Database and mass tiers only"),
]


class CrmCampaignStep(models.Model):
    """One step of a campaign: what to do, to whom and when.

    A root step (no parent) runs ``interval`` after the partner enters. A
    child step runs ``interval`` after its parent ran for that partner, if
    its trigger is met at that moment.
    """

    _name = "crm.campaign.step"
    _description = "Campaign Step"
    _order = "campaign_id, sequence, id"
    _parent_store = True

    name = fields.Char(required=True)
    sequence = fields.Integer(default=10)
    campaign_id = fields.Many2one(
        "crm.campaign", required=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(related="campaign_id.company_id", store=True)
    kind = fields.Selection(STEP_KINDS, required=True, default="email")
    channel_id = fields.Many2one(
        "crm.consent.channel",
        compute="_compute_channel_id",
        store=True,
        help="Consent channel the gate checks before this step reaches a partner.",
    )
    parent_id = fields.Many2one(
        "crm.campaign.step",
        string="Parent Step",
        index=True,
        ondelete="cascade",
        domain="[('campaign_id', '=', campaign_id), ('id', '!=', id)]",
    )
    parent_path = fields.Char(index=True)
    child_ids = fields.One2many("crm.campaign.step", "parent_id", string="Next Steps")
    trigger = fields.Selection(TRIGGERS, required=True, default="begin")
    interval_number = fields.Integer(string="Delay", default=0)
    interval_type = fields.Selection(
        INTERVAL_TYPES, string="Delay Unit", required=True, default="days"
    )
    local_hour = fields.Float(
        string="At Local Hour",
        help="If set, the step runs on the day its delay ends at this hour, in "
        "the partner's time zone or else the campaign's. Leave 0 to run when "
        "the delay ends.",
    )
    domain = fields.Char(
        string="Partner Filter",
        default="[]",
        help="Domain on contacts that the partner must match when the step is "
        "due; otherwise the step is canceled with the reason 'filter'.",
    )
    tier_filter = fields.Selection(
        TIER_FILTERS,
        string="Value Tiers",
        default="all",
        required=True,
        help="Route treatment by value tier: a personal step for one-to-one "
        "partners, automated steps for the database and mass tiers.",
    )

    # E-mail
    mail_template_id = fields.Many2one(
        "mail.template",
        string="E-mail Template",
        domain="[('model', '=', 'res.partner')]",
        help="Template on contacts, rendered per partner in the partner's language. "
        "Postal steps print its body as the letter.",
    )
    mailing_id = fields.Many2one(
        "mailing.mailing",
        readonly=True,
        copy=False,
        help="Hidden mailing that groups the e-mails or SMS of this step, so that "
        "Odoo records their bounces, opens, clicks and replies.",
    )
    # SMS
    sms_template_id = fields.Many2one(
        "sms.template",
        string="SMS Template",
        domain="[('model', '=', 'res.partner')]",
    )
    # Call
    activity_type_id = fields.Many2one(
        "mail.activity.type",
        default=lambda self: self.env.ref(
            "mail.mail_activity_data_call", raise_if_not_found=False
        ),
    )
    activity_summary = fields.Char()
    activity_note = fields.Html()
    activity_user_id = fields.Many2one(
        "res.users",
        string="Assign To",
        help="User who gets the activity. Empty: the partner's salesperson, else "
        "the campaign's responsible.",
    )
    activity_deadline_days = fields.Integer(string="Deadline (days)", default=2)
    # Action
    action_kind = fields.Selection(ACTION_KINDS, string="Action")
    tag_id = fields.Many2one("res.partner.category")
    server_action_id = fields.Many2one(
        "ir.actions.server",
        domain="[('model_id.model', '=', 'res.partner')]",
    )

    # Experiment
    variant_ids = fields.One2many(
        "crm.campaign.variant", "step_id", string="Variants", copy=True
    )
    test_sample_percent = fields.Float(
        string="Test Sample (%)",
        default=100.0,
        help="Share of the audience, in percent, that is split between the variants "
        "by their weights. The others wait for the winner. 100: the whole audience "
        "is split and no winner is rolled out.",
    )
    test_metric = fields.Selection(
        TEST_METRICS,
        string="Winner Metric",
        default="click",
        required=True,
        help="What the variants are compared on. Conversion and revenue count the "
        "confirmed sale orders of the partner's company after the step ran.",
    )
    test_min_sample = fields.Integer(
        string="Minimum Sample per Variant",
        default=100,
        help="Recipients every variant needs before a winner can be decided "
        "automatically.",
    )
    test_alpha = fields.Float(
        string="Significance Level",
        default=0.05,
        digits=(16, 4),
        help="Accepted chance, between 0 and 0.5, of declaring a winner when "
        "the variants perform the same, however often the results are checked. "
        "0.05 means a 5 % chance. A variant wins automatically when its "
        "always-valid p-value against every other variant is at most this "
        "level. Lower values need more recipients.",
    )
    test_end_date = fields.Datetime(
        string="Test End",
        help="When the test ends, in UTC: if no variant has won by then, the "
        "variant with the best rate so far wins, and the decision message says "
        "that the result was not significant. Empty: the test runs until "
        "decided.",
    )
    test_p_values = fields.Json(
        string="Sequential P-Values",
        readonly=True,
        copy=False,
        help="Running minimum of the always-valid p-value of each pair of "
        "variants over the executor's looks, keyed 'id1-id2' with id1 < id2. "
        "Cleared when the test starts or its metric changes.",
    )
    test_exclude_machine_opens = fields.Boolean(
        string="Exclude Machine Opens",
        default=True,
        help="Do not count opens from known image proxies or opens within the "
        "machine-open delay after sending in the open rate. Clicks and replies "
        "still count as opens.",
    )
    test_machine_open_seconds = fields.Integer(
        string="Machine-Open Delay (s)",
        default=10,
        help="Opens this many seconds or less after the e-mail was sent are "
        "treated as automatic prefetches, not as a reader's open.",
    )
    test_state = fields.Selection(
        TEST_STATES,
        string="Test Status",
        default="none",
        required=True,
        readonly=True,
        copy=False,
        help="Running from the first partner who gets a variant until a winner "
        "is decided.",
    )
    test_start_date = fields.Datetime(readonly=True, copy=False)
    test_decision_date = fields.Datetime(readonly=True, copy=False)
    winner_variant_id = fields.Many2one(
        "crm.campaign.variant",
        string="Winner",
        readonly=True,
        copy=False,
        domain="[('step_id', '=', id)]",
    )

    trace_ids = fields.One2many("crm.campaign.trace", "step_id", string="Traces")
    trace_done_count = fields.Integer(compute="_compute_trace_counts")
    trace_skipped_count = fields.Integer(compute="_compute_trace_counts")
    trace_scheduled_count = fields.Integer(compute="_compute_trace_counts")

    @api.depends("kind")
    def _compute_channel_id(self):
        for step in self:
            xmlid = KIND_CHANNELS.get(step.kind)
            step.channel_id = (
                self.env.ref(xmlid, raise_if_not_found=False) if xmlid else False
            )

    def _compute_trace_counts(self):
        data = {
            (step.id, state): count
            for step, state, count in self.env["crm.campaign.trace"]._read_group(
                [("step_id", "in", self.ids)], ["step_id", "state"], ["__count"]
            )
        }
        for step in self:
            step.trace_done_count = data.get((step._origin.id, "done"), 0)
            step.trace_skipped_count = data.get((step._origin.id, "skipped"), 0)
            step.trace_scheduled_count = data.get((step._origin.id, "scheduled"), 0)

    @api.constrains("parent_id", "trigger", "campaign_id")
    def _check_parent(self):
        if self._has_cycle():
            raise ValidationError(self.env._("A step cannot be its own ancestor."))
        for step in self:
            if step.parent_id and step.parent_id.campaign_id != step.campaign_id:
                raise ValidationError(
                    self.env._(
                        "Step %(step)s and its parent %(parent)s belong to different "
                        "campaigns.",
                        step=step.name,
                        parent=step.parent_id.name,
                    )
                )
            if step.parent_id and step.trigger == "begin":
                raise ValidationError(
                    self.env._(
                        "Step %(step)s has a parent, so its trigger cannot be 'At "
                        "entry'. Choose 'After the parent step' or a response.",
                        step=step.name,
                    )
                )
            if not step.parent_id and step.trigger != "begin":
                raise ValidationError(
                    self.env._(
                        "Step %(step)s has no parent, so its trigger must be 'At "
                        "entry'.",
                        step=step.name,
                    )
                )

    @api.constrains("interval_number", "local_hour")
    def _check_interval(self):
        for step in self:
            if step.interval_number < 0:
                raise ValidationError(
                    self.env._(
                        "The delay of step %(step)s is negative (%(value)s). Enter 0 "
                        "or more.",
                        step=step.name,
                        value=step.interval_number,
                    )
                )
            if not 0 <= step.local_hour < 24:
                raise ValidationError(
                    self.env._(
                        "The local hour of step %(step)s must be between 0 and 24, "
                        "got %(value)s.",
                        step=step.name,
                        value=step.local_hour,
                    )
                )

    @api.constrains(
        "test_sample_percent",
        "test_alpha",
        "test_min_sample",
        "test_machine_open_seconds",
    )
    def _check_test_settings(self):
        for step in self:
            if not 0 < step.test_sample_percent <= 100:
                raise ValidationError(
                    self.env._(
                        "The test sample of step %(step)s must be more than 0 and at "
                        "most 100 percent, got %(value)s.",
                        step=step.name,
                        value=step.test_sample_percent,
                    )
                )
            if not 0 < step.test_alpha < 0.5:
                raise ValidationError(
                    self.env._(
                        "The significance level of step %(step)s must be more than "
                        "0 and less than 0.5, got %(value)s. 0.05 is usual.",
                        step=step.name,
                        value=step.test_alpha,
                    )
                )
            if step.test_min_sample < 0 or step.test_machine_open_seconds < 0:
                raise ValidationError(
                    self.env._(
                        "The minimum sample and the machine-open delay of step "
                        "%(step)s cannot be negative.",
                        step=step.name,
                    )
                )

    def write(self, vals):
        # The running minimum of the p-values belongs to one metric: a new
        # metric starts a new sequential test.
        if SEQUENTIAL_RESET_FIELDS.intersection(vals) and "test_p_values" not in vals:
            vals = dict(vals, test_p_values=False)
        return super().write(vals)

    @api.onchange("parent_id")
    def _onchange_parent_id(self):
        if self.parent_id and self.trigger == "begin":
            self.trigger = "after_step"
        elif not self.parent_id:
            self.trigger = "begin"

    def _check_ready(self):
        """Raise when a step lacks what its kind needs to run."""
        for step in self:
            missing = {
                "email": not step.mail_template_id,
                "postal": not step.mail_template_id,
                "sms": not step.sms_template_id,
                "action": not step.action_kind
                or (step.action_kind in ("add_tag", "remove_tag") and not step.tag_id)
                or (step.action_kind == "server_action" and not step.server_action_id),
            }.get(step.kind, False)
            if missing:
                raise UserError(
                    self.env._(
                        "Step %(step)s of kind %(kind)s is incomplete: choose its "
                        "template or action before launching.",
                        step=step.name,
                        kind=dict(STEP_KINDS)[step.kind],
                    )
                )
            for variant in step.variant_ids:
                kind = variant._get_kind()
                template_missing = {
                    "email": not (variant.mail_template_id or step.mail_template_id),
                    "postal": not (variant.mail_template_id or step.mail_template_id),
                    "sms": not (variant.sms_template_id or step.sms_template_id),
                    "action": not step.action_kind,
                }.get(kind, False)
                if template_missing:
                    raise UserError(
                        self.env._(
                            "Variant %(variant)s of step %(step)s runs on channel "
                            "%(kind)s but neither it nor the step has a template "
                            "or action for that channel. Choose one before "
                            "launching.",
                            variant=variant.name,
                            step=step.name,
                            kind=dict(STEP_KINDS)[kind],
                        )
                    )
            step._get_domain()

    def _get_domain(self):
        self.ensure_one()
        try:
            domain = safe_eval(self.domain or "[]", {"uid": self.env.uid})
        except Exception as error:
            raise UserError(
                self.env._(
                    "The partner filter of step %(step)s is not a valid domain: "
                    "%(error)s",
                    step=self.name,
                    error=error,
                )
            ) from error
        if self.tier_filter == "one_to_one":
            domain = expression.AND([[("value_tier", "=", "one_to_one")], domain])
        elif self.tier_filter == "automated":
            domain = expression.AND(
                [[("value_tier", "in", ("database", "mass"))], domain]
            )
        return domain

    def _get_due_date(self, base, tz_name, variant=None):
        """Return the naive UTC moment this step is due, counted from ``base``.

        The delay is added to ``base``; a ``variant`` with a delay unit replaces
        the step's delay. With a local hour, the step runs at that hour of the
        resulting local day in ``tz_name``, even if that moment is earlier
        than ``base`` plus the delay.
        """
        self.ensure_one()
        number, unit = self.interval_number, self.interval_type
        if variant and variant.interval_type:
            number, unit = variant.interval_number, variant.interval_type
        delta = {
            "hours": timedelta(hours=number),
            "days": timedelta(days=number),
            "weeks": timedelta(weeks=number),
            "months": relativedelta(months=number),
        }[unit]
        due = base + delta
        if self.local_hour:
            local_day = utc_to_local(due, tz_name).date()
            due = local_to_utc(local_day, self.local_hour, tz_name)
        return due

    def _get_mailing(self):
        """Return the hidden mailing of this e-mail or SMS step, created on first use.

        The mailing is archived so that it stays out of the Email Marketing
        lists; it only carries the UTM data and groups the mailing traces.
        """
        self.ensure_one()
        if self.mailing_id:
            return self.mailing_id
        is_sms = self.kind == "sms"
        template = self.sms_template_id if is_sms else self.mail_template_id
        vals = {
            "subject": self.name if is_sms else (template.subject or self.name),
            "mailing_type": "sms" if is_sms else "mail",
            "mailing_model_id": self.env["ir.model"]._get("res.partner").id,
            "mailing_domain": "[]",
            "campaign_id": self.campaign_id.utm_campaign_id.id,
            "crm_campaign_step_id": self.id,
            "active": False,
            "state": "done",
        }
        if is_sms:
            vals["body_plaintext"] = template.body or self.name
        else:
            vals["body_html"] = template.body_html or ""
            vals["body_arch"] = template.body_html or ""
        mailing = self.env["mailing.mailing"].sudo().create(vals)
        self.sudo().mailing_id = mailing
        return mailing

    # ------------------------------------------------------------------
    # Experiments
    # ------------------------------------------------------------------

    def _get_sorted_variants(self):
        self.ensure_one()
        return self.variant_ids.sorted(lambda variant: (variant.sequence, variant.id))

    def _get_variant_assignment(self, participant):
        """Return ``(variant, is_test_sample)`` for ``participant`` on this step.

        An empty variant on a step with variants means that the participant
        is outside the test sample and waits for the winner. The assignment
        depends only on the campaign's seed, the campaign and the partner, so
        a partner keeps the same variant position on every step and in every
        run, and re-entering the campaign gives the same variant.
        """
        self.ensure_one()
        Variant = self.env["crm.campaign.variant"]
        variants = self._get_sorted_variants()
        if len(variants) <= 1:
            return variants, False
        rolls_out = self.test_sample_percent < 100
        if self.winner_variant_id and rolls_out:
            return self.winner_variant_id, False
        campaign = participant.campaign_id
        partner_id = participant.partner_id.id
        if rolls_out:
            fraction = assignment_fraction(
                campaign.experiment_seed, campaign.id, partner_id, "sample"
            )
            if fraction * 100 >= self.test_sample_percent:
                return Variant, False
        fraction = assignment_fraction(
            campaign.experiment_seed, campaign.id, partner_id, "variant"
        )
        return variants[pick_weighted(fraction, variants.mapped("weight"))], True

    def _get_success_sql(self):
        """Return the SQL condition of a success of the step's metric for a trace
        aliased ``trace`` joined to its mailing trace ``mailing_trace``.

        With machine opens excluded, an open counts only from a client that is
        not a known image proxy and more than the machine-open delay after
        sending. A click or a reply always counts as an open.
        """
        self.ensure_one()
        metric = self.test_metric
        if metric == "click":
            return SQL("mailing_trace.links_click_datetime IS NOT NULL")
        if metric == "reply":
            return SQL(
                "(mailing_trace.reply_datetime IS NOT NULL"
                " OR mailing_trace.trace_status = 'reply')"
            )
        if metric in ("conversion", "revenue"):
            return SQL("purchase.order_count > 0")
        engaged = SQL(
            "mailing_trace.links_click_datetime IS NOT NULL"
            " OR mailing_trace.reply_datetime IS NOT NULL"
            " OR mailing_trace.trace_status = 'reply'"
        )
        if not self.test_exclude_machine_opens:
            return SQL(
                "(%s OR mailing_trace.open_datetime IS NOT NULL"
                " OR mailing_trace.trace_status = 'open')",
                engaged,
            )
        # NOTE: mailing.trace keeps only the first open, so a reader who
        # opens after an image proxy's prefetch is counted only when the
        # proxy's user agent was recognised (crm_human_open_datetime).
        return SQL(
            """(%(engaged)s OR COALESCE(
                   mailing_trace.crm_human_open_datetime,
                   CASE WHEN NOT COALESCE(mailing_trace.crm_machine_open, FALSE)
                        THEN mailing_trace.open_datetime END
               ) > COALESCE(mailing_trace.sent_datetime, trace.executed_at)
                   + make_interval(secs => %(seconds)s))""",
            engaged=engaged,
            seconds=self.test_machine_open_seconds,
        )

    def _read_experiment_counts(self, variants):
        """Return ``{variant_id: (recipients, successes, revenue, revenue²)}``
        over the test-sample traces of ``variants`` that ran."""
        self.ensure_one()
        self.env["crm.campaign.trace"].flush_model(
            ["variant_id", "state", "is_test_sample", "mailing_trace_id", "partner_id"]
        )
        self.env["mailing.trace"].flush_model()
        Participant = self.env["crm.campaign.participant"]
        purchase = Participant._purchase_after_sql(
            SQL.identifier("trace", "partner_id"),
            SQL.identifier("trace", "executed_at"),
            self.company_id.id,
        )
        rows = self.env.execute_query(
            SQL(
                """
                SELECT trace.variant_id,
                       COUNT(*),
                       SUM(CASE WHEN %(success)s THEN 1 ELSE 0 END),
                       SUM(purchase.revenue),
                       SUM(purchase.revenue * purchase.revenue)
                  FROM crm_campaign_trace trace
             LEFT JOIN mailing_trace ON mailing_trace.id = trace.mailing_trace_id
                  JOIN LATERAL (%(purchase)s) purchase ON TRUE
                 WHERE trace.variant_id = ANY(%(variant_ids)s)
                   AND trace.state = 'done'
                   AND trace.is_test_sample
              GROUP BY trace.variant_id
                """,
                success=self._get_success_sql(),
                purchase=purchase,
                variant_ids=variants.ids,
            )
        )
        return {
            variant_id: (count, successes or 0, revenue or 0.0, squares or 0.0)
            for variant_id, count, successes, revenue, squares in rows
        }

    def _get_experiment_rows(self):
        """Return one dict of results per variant, in variant order: the keys of
        ``variants`` in ``get_experiment_results``."""
        return self._compute_experiment()[0]

    def _compute_experiment(self):
        """Return ``(rows, pair_p_values)``: the rows of ``_get_experiment_rows``
        and the always-valid p-value of each pair of variants, keyed by the
        pair of row indexes ``(i, j)`` with i < j.

        A pair's p-value is the minimum of the one stored from the executor's
        previous looks and 1 / Lambda of the current data. The current data
        count only once both variants have the minimum sample (and at least
        two recipients), because the normal approximation of the mSPRT is
        poor on a handful of recipients.
        """
        # NOTE: a look counts every recipient the step reached, including
        # those whose click, reply or purchase has not happened yet. The
        # mSPRT assumes complete outcomes, so very early looks compare early
        # responders.
        self.ensure_one()
        variants = self._get_sorted_variants()
        if not variants:
            return [], {}
        counts = self._read_experiment_counts(variants)
        rows = []
        moments = []
        for variant in variants:
            recipients, successes, revenue, squares = counts.get(
                variant.id, (0, 0, 0.0, 0.0)
            )
            row = {
                "variant_id": variant.id,
                "name": variant.name,
                "weight": variant.weight,
                "is_winner": variant.is_winner,
                "recipients": recipients,
            }
            if self.test_metric == "revenue":
                mean, variance = experiment_stats.mean_and_variance(
                    float(revenue), float(squares), recipients
                )
                low, high = experiment_stats.mean_interval(mean, variance, recipients)
                moments.append((mean, variance, recipients))
                row.update(
                    successes=float(revenue),
                    rate=mean,
                    std_error=(variance / recipients) ** 0.5 if recipients else 0.0,
                )
            else:
                low, high = experiment_stats.wilson_interval(successes, recipients)
                moments.append((successes, recipients))
                row.update(
                    successes=successes,
                    rate=successes / recipients if recipients else 0.0,
                )
            row.update(interval_low=low, interval_high=high)
            rows.append(row)

        if self.test_metric == "revenue":
            errors = [row.pop("std_error") for row in rows]
            if any(row["recipients"] < 2 for row in rows):
                # A mean of fewer than two values has no standard error, so
                # nothing is known yet about which variant is best.
                probabilities = [1.0 / len(rows)] * len(rows)
            else:
                probabilities = experiment_stats.normal_prob_best(
                    [row["rate"] for row in rows], errors
                )
        else:
            probabilities = experiment_stats.beta_prob_best(
                [
                    (row["successes"] + 1, row["recipients"] - row["successes"] + 1)
                    for row in rows
                ]
            )
        for row, probability in zip(rows, probabilities, strict=True):
            row["probability_best"] = probability

        pair_p_values = self._get_pair_p_values(rows, moments)
        p_values = experiment_stats.variant_p_values(
            [row["rate"] for row in rows], pair_p_values
        )
        for row, p_value in zip(rows, p_values, strict=True):
            row["p_value"] = p_value
        return rows, pair_p_values

    def _get_pair_p_values(self, rows, moments):
        stored = self.test_p_values or {}
        minimum = max(self.test_min_sample, 2)
        pair_p_values = {}
        for first in range(len(rows)):
            for second in range(first + 1, len(rows)):
                key = self._get_pair_key(rows[first], rows[second])
                p_value = stored.get(key, 1.0)
                if (
                    rows[first]["recipients"] >= minimum
                    and rows[second]["recipients"] >= minimum
                ):
                    if self.test_metric == "revenue":
                        log_ratio = (
                            experiment_stats.mean_difference_log_likelihood_ratio(
                                *moments[first], *moments[second]
                            )
                        )
                    else:
                        log_ratio = (
                            experiment_stats.rate_difference_log_likelihood_ratio(
                                *moments[first], *moments[second]
                            )
                        )
                    p_value = experiment_stats.msprt_p_value(log_ratio, p_value)
                pair_p_values[(first, second)] = p_value
        return pair_p_values

    @staticmethod
    def _get_pair_key(first_row, second_row):
        low, high = sorted((first_row["variant_id"], second_row["variant_id"]))
        return f"{low}-{high}"

    def get_experiment_results(self):
        """Return the results of this step's experiment.

        :returns: ``{'step_id', 'metric', 'method', 'state', 'decided',
            'winner_variant_id', 'min_sample', 'threshold', 'variants':
            [{'variant_id', 'name', 'weight', 'is_winner', 'recipients',
            'successes', 'rate', 'interval_low', 'interval_high',
            'probability_best', 'p_value'}]}``.
            For the revenue metric, ``successes`` is the revenue sum and
            ``rate`` the revenue per recipient. The interval is the 95 % Wilson
            interval of a rate, or the normal interval of the revenue mean.
            ``winner_variant_id`` is False while undecided.
            ``method`` is ``'msprt'``: the decision uses the always-valid
            mSPRT on every pair of variants with Bonferroni's correction.
            ``threshold`` is the significance level ``test_alpha``.
            ``p_value`` is the Bonferroni-adjusted always-valid p-value of the
            variant's test against the variant with the best rate. The best
            variant gets the largest of its p-values against the others, so
            it wins once that value is at most ``threshold`` and every variant
            has ``min_sample`` recipients.
        """
        self.ensure_one()
        return {
            "step_id": self.id,
            "metric": self.test_metric,
            "method": "msprt",
            "state": self.test_state,
            "decided": self.test_state == "decided",
            "winner_variant_id": self.winner_variant_id.id or False,
            "min_sample": self.test_min_sample,
            "threshold": self.test_alpha,
            "variants": self._get_experiment_rows(),
        }

    def action_decide_winner(self):
        """Decide these steps' experiments now with the current data: the variant
        most likely to be the best wins, even if the sequential test has not
        rejected yet. Returns True."""
        for step in self:
            if len(step.variant_ids) < 2:
                raise UserError(
                    self.env._(
                        "Step %(step)s has no experiment to decide: add at least "
                        "two variants.",
                        step=step.name,
                    )
                )
            rows = step._get_experiment_rows()
            best = max(rows, key=lambda row: row["probability_best"])
            step._set_winner(
                self.env["crm.campaign.variant"].browse(best["variant_id"]),
                reason="manual_data",
                row=best,
            )
        return True

    def _set_winner(self, variant, reason, row=None):
        """Record ``variant`` as the winner, release the partners waiting for it
        and log the decision in the campaign's chatter.

        ``reason`` is ``rule`` (the sequential test rejected at the significance
        level), ``end`` (test period over),
        ``manual_data`` (decided now from the data) or ``manual`` (chosen).
        """
        self.ensure_one()
        if variant.step_id != self:
            raise UserError(
                self.env._(
                    "Variant %(variant)s does not belong to step %(step)s.",
                    variant=variant.name,
                    step=self.name,
                )
            )
        now = fields.Datetime.now()
        (self.variant_ids - variant).filtered("is_winner").write({"is_winner": False})
        variant.is_winner = True
        self.write(
            {
                "winner_variant_id": variant.id,
                "test_state": "decided",
                "test_decision_date": now,
            }
        )
        waiting = self.env["crm.campaign.trace"].search(
            [
                ("step_id", "=", self.id),
                ("state", "=", "scheduled"),
                ("skip_reason", "=", "experiment"),
            ]
        )
        waiting.write({"scheduled_at": now, "skip_reason": False})
        self.campaign_id.message_post(
            body=self._get_decision_message(variant, reason, row)
        )
        _logger.info(
            "Experiment of step %s decided (%s): variant %s, %s waiting traces released",
            self.id,
            reason,
            variant.id,
            len(waiting),
        )
        if waiting:
            self.env.ref("crm_campaign_automation.ir_cron_campaign_execute")._trigger()

    def _get_decision_message(self, variant, reason, row):
        metric = dict(self._fields["test_metric"]._description_selection(self.env))[
            self.test_metric
        ]
        probability = (
            f"{row['probability_best'] * 100:.1f} %" if row else self.env._("unknown")
        )
        p_value = f"{row['p_value']:.4f}" if row else self.env._("unknown")
        alpha = f"{self.test_alpha:g}"
        if reason == "rule":
            return self.env._(
                "Step %(step)s: variant %(variant)s won the experiment on %(metric)s. "
                "Its always-valid p-value against every other variant is "
                "%(p_value)s, at most the significance level %(alpha)s; its "
                "probability of being the best is %(probability)s.",
                step=self.name,
                variant=variant.name,
                metric=metric,
                p_value=p_value,
                alpha=alpha,
                probability=probability,
            )
        if reason == "end":
            return self.env._(
                "Step %(step)s: the test period ended without a significant result "
                "(always-valid p-value %(p_value)s, significance level %(alpha)s). "
                "Variant %(variant)s, the best so far on %(metric)s with a "
                "probability of being the best of %(probability)s, goes to the "
                "rest of the audience.",
                step=self.name,
                variant=variant.name,
                metric=metric,
                p_value=p_value,
                alpha=alpha,
                probability=probability,
            )
        if reason == "manual_data":
            return self.env._(
                "Step %(step)s: %(user)s decided the experiment now; variant "
                "%(variant)s is the most likely to be the best on %(metric)s "
                "(%(probability)s).",
                step=self.name,
                user=self.env.user.name,
                variant=variant.name,
                metric=metric,
                probability=probability,
            )
        return self.env._(
            "Step %(step)s: %(user)s chose variant %(variant)s as the winner.",
            step=self.name,
            user=self.env.user.name,
            variant=variant.name,
        )

    @api.model
    def _decide_experiments(self):
        """Decide the running experiments of running campaigns whose rule is met.

        A variant wins when every variant reached the minimum sample, its rate
        is the best and its always-valid test against every other variant
        rejects equality at the significance level (see
        ``experiment_stats.decide_sequential_winner``). When the test end has
        passed, the variant with the best rate wins anyway. Each run is one
        look of the sequential tests, whose p-values are stored. Returns the
        steps decided.
        """
        started = time.monotonic()
        now = fields.Datetime.now()
        steps = self.search(
            [("test_state", "=", "running"), ("campaign_id.state", "=", "running")]
        )
        decided = self.browse()
        for step in steps:
            try:
                with self.env.cr.savepoint():
                    if step._decide_experiment(now):
                        decided |= step
            except Exception:  # one broken step must not block the others
                _logger.exception("Deciding the experiment of step %s failed", step.id)
        if steps:
            _logger.info(
                "Campaign experiments: %s running, %s decided in %.2fs",
                len(steps),
                len(decided),
                time.monotonic() - started,
            )
        return decided

    def _decide_experiment(self, now):
        """Decide this step's experiment if its rule is met; return True if so."""
        self.ensure_one()
        rows, pair_p_values = self._compute_experiment()
        if len(rows) < 2:
            return False
        stored = {
            self._get_pair_key(rows[first], rows[second]): p_value
            for (first, second), p_value in pair_p_values.items()
        }
        if stored != (self.test_p_values or {}):
            self.test_p_values = stored

        index = experiment_stats.decide_sequential_winner(
            [row["rate"] for row in rows],
            [row["recipients"] for row in rows],
            pair_p_values,
            self.test_min_sample,
            self.test_alpha,
        )
        reason = "rule"
        if index is None and self.test_end_date and self.test_end_date <= now:
            index = max(range(len(rows)), key=lambda i: rows[i]["rate"])
            reason = "end"
        if index is None:
            return False
        row = rows[index]
        self._set_winner(
            self.env["crm.campaign.variant"].browse(row["variant_id"]),
            reason=reason,
            row=row,
        )
        return True

    def action_test_send(self, emails=None, numbers=None):
        """Send this step once to test addresses, outside the campaign.

        :param emails: list of e-mail addresses (e-mail steps)
        :param numbers: list of phone numbers (SMS steps)
        :returns: ids of the ``mail.mail`` or ``sms.sms`` created

        The template is rendered on the current user's partner. No trace,
        participant or mailing statistic is created, and the gate is not run.
        """
        self.ensure_one()
        partner = self.env.user.partner_id
        if self.kind == "email":
            if not emails:
                raise UserError(self.env._("Enter at least one test e-mail address."))
            self._check_ready()
            rendered = self.mail_template_id._generate_template(
                partner.ids, ["subject", "body_html", "email_from", "reply_to"]
            )[partner.id]
            mails = (
                self.env["mail.mail"]
                .sudo()
                .create(
                    [
                        {
                            "subject": self.env._(
                                "[TEST] %(subject)s",
                                subject=rendered.get("subject") or "",
                            ),
                            "body_html": rendered.get("body_html") or "",
                            "email_from": rendered.get("email_from")
                            or self.env.user.email_formatted,
                            "reply_to": rendered.get("reply_to"),
                            "email_to": email,
                            "auto_delete": True,
                        }
                        for email in emails
                    ]
                )
            )
            return mails.ids
        if self.kind == "sms":
            if not numbers:
                raise UserError(self.env._("Enter at least one test phone number."))
            self._check_ready()
            body = self.sms_template_id._render_field("body", partner.ids)[partner.id]
            sms = (
                self.env["sms.sms"]
                .sudo()
                .create([{"number": number, "body": body} for number in numbers])
            )
            return sms.ids
        raise UserError(
            self.env._(
                "Only e-mail and SMS steps can be test-sent; step %(step)s is of kind "
                "%(kind)s.",
                step=self.name,
                kind=dict(STEP_KINDS)[self.kind],
            )
        )
