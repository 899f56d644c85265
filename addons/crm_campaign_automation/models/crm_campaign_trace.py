import csv
import io
import logging
import time
from collections import defaultdict
from datetime import timedelta

import lxml.html
import psycopg2
from markupsafe import Markup

from odoo import api, fields, models, modules
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tools import SQL, is_html_empty, mail
from odoo.tools.mail import URL_SKIP_PROTOCOL_REGEX

from odoo.addons.link_tracker.tools.html import find_links_with_urls_and_labels

from .crm_campaign_step import STEP_KINDS

_logger = logging.getLogger(__name__)

TRACE_STATES = [
    ("scheduled", "Scheduled"),
    ("done", "Done"),
    ("skipped", "Skipped"),
    ("error", "Error"),
    ("canceled", "Canceled"),
]

SKIP_REASONS = [
    ("consent", "No consent for the channel"),
    ("pressure", "Contact pressure budget used up"),
    ("quiet_hours", "Delayed by quiet hours"),
    ("filter", "Partner filter or value tier not matched"),
    ("trigger", "Trigger condition not met"),
    ("goal", "Goal reached"),
    ("stopped", "Campaign or journey stopped"),
    ("holdout", "Holdout group: receives nothing"),
    ("experiment", "Waiting for the experiment's winner"),
]

CONSENT_STATES = [
    ("granted", "Granted"),
    ("refused", "Refused"),
    ("pending", "Pending confirmation"),
    ("expired", "Grant expired"),
    ("blacklisted", "Blacklisted address"),
    ("none", "Never asked"),
]

# Hours a partner outside the test sample waits before the executor checks
# again when the test has no end date. Deciding the test releases it at once.
EXPERIMENT_WAIT_HOURS = 1

# Response triggers read from the parent step's mailing.trace. Each test returns
# True when the response happened; the not_* triggers use the negation.
RESPONSE_TESTS = {
    "opened": lambda trace: bool(
        trace.open_datetime or trace.trace_status in ("open", "reply")
    ),
    "clicked": lambda trace: bool(trace.links_click_datetime),
    "replied": lambda trace: bool(
        trace.reply_datetime or trace.trace_status == "reply"
    ),
    "bounced": lambda trace: trace.trace_status == "bounce",
}

BATCH_SIZE = 200

# Consecutive attempts at a batch that a concurrent transaction made fail
# (serialization failure, deadlock, lock timeout, or a unique key both
# inserted) before the executor gives up and lets the cron run fail.
MAX_BATCH_ATTEMPTS = 5

# Seconds a cron run keeps claiming batches before it re-triggers itself. Half
# of the real-time limit of an Odoo 18 cron worker, --limit-time-real-cron,
# which defaults to --limit-time-real (120 s).
CRON_TIME_LIMIT = 60

# Columns of the address list handed to the mailing house with postal steps.
POSTAL_CSV_HEADER = [
    "trace_id",
    "name",
    "street",
    "street2",
    "zip",
    "city",
    "state",
    "country",
]


class CrmCampaignTrace(models.Model):
    """One step due for one participant, and what became of it.

    Traces are created ``scheduled`` and executed once by the cron, which
    claims them with ``FOR UPDATE SKIP LOCKED``. The unique key on
    (participant, step) prevents a second trace of the same step.
    """

    _name = "crm.campaign.trace"
    _description = "Campaign Trace"
    _order = "scheduled_at desc, id desc"
    _rec_name = "step_id"

    participant_id = fields.Many2one(
        "crm.campaign.participant", required=True, index=True, ondelete="cascade"
    )
    step_id = fields.Many2one(
        "crm.campaign.step", required=True, index=True, ondelete="cascade"
    )
    campaign_id = fields.Many2one(
        related="participant_id.campaign_id", store=True, index=True
    )
    company_id = fields.Many2one(related="campaign_id.company_id", store=True)
    partner_id = fields.Many2one(
        "res.partner", required=True, index=True, ondelete="cascade"
    )
    kind = fields.Selection(
        STEP_KINDS,
        compute="_compute_kind",
        store=True,
        help="Channel of the step, or of the variant when it overrides it.",
    )
    variant_id = fields.Many2one(
        "crm.campaign.variant",
        index="btree_not_null",
        ondelete="set null",
        readonly=True,
        help="Variant of the step's experiment this partner got.",
    )
    is_test_sample = fields.Boolean(
        string="In Test Sample",
        readonly=True,
        help="The variant was assigned by the experiment's split, not rolled out "
        "as the winner, so the trace counts in the experiment's results.",
    )
    parent_trace_id = fields.Many2one(
        "crm.campaign.trace",
        index="btree_not_null",
        ondelete="set null",
    )
    state = fields.Selection(
        TRACE_STATES, default="scheduled", required=True, index=True
    )
    skip_reason = fields.Selection(
        SKIP_REASONS,
        help="Why the step was skipped or canceled; 'Delayed by quiet hours' on a "
        "scheduled trace tells why it was moved to a later moment.",
    )
    consent_state = fields.Selection(
        CONSENT_STATES,
        readonly=True,
        help="Consent of the partner for the step's channel and the campaign's "
        "purpose, as the contact gate read it when it decided on this trace. "
        "Empty for steps without a channel.",
    )
    scheduled_at = fields.Datetime(required=True, index=True)
    executed_at = fields.Datetime(readonly=True)
    error_message = fields.Text(readonly=True)

    mail_mail_id = fields.Many2one("mail.mail", ondelete="set null", readonly=True)
    mailing_trace_id = fields.Many2one(
        "mailing.trace", ondelete="set null", readonly=True
    )
    sms_id = fields.Many2one(
        "sms.sms", string="SMS", ondelete="set null", readonly=True
    )
    activity_id = fields.Many2one("mail.activity", ondelete="set null", readonly=True)
    letter_html = fields.Html(
        string="Letter", readonly=True, help="Letter rendered for a postal step."
    )
    postal_attachment_id = fields.Many2one(
        "ir.attachment",
        string="Address List",
        ondelete="set null",
        readonly=True,
        help="CSV of the postal batch this letter belongs to, for the mailing house.",
    )
    mailing_trace_status = fields.Selection(
        related="mailing_trace_id.trace_status", string="Message Status"
    )

    _sql_constraints = [
        (
            "participant_step_unique",
            "unique (participant_id, step_id)",
            "A step runs at most once per participant.",
        ),
    ]

    def init(self):
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS crm_campaign_trace_due_index
                ON crm_campaign_trace (scheduled_at, id)
             WHERE state = 'scheduled'
            """
        )
        # The gate counts each partner's recent contacts among done traces.
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS crm_campaign_trace_done_partner_index
                ON crm_campaign_trace (partner_id, executed_at)
             WHERE state = 'done'
            """
        )

    @api.depends("step_id.kind", "variant_id.kind")
    def _compute_kind(self):
        for trace in self:
            trace.kind = trace.variant_id.kind or trace.step_id.kind

    def _get_channel(self):
        """Return the consent channel of this trace's step or variant."""
        self.ensure_one()
        return self.variant_id.channel_id or self.step_id.channel_id

    # ------------------------------------------------------------------
    # Scheduling
    # ------------------------------------------------------------------

    @api.model
    def _schedule(self, participants, steps, parent_traces=None):
        """Create the traces of ``steps`` for ``participants``.

        The delay counts from the participant's entry for root steps and from
        the parent trace's execution for child steps. Returns the new traces.
        """
        parent_by_participant = {
            trace.participant_id.id: trace for trace in (parent_traces or [])
        }
        vals_list = []
        for participant in participants:
            parent_trace = parent_by_participant.get(participant.id)
            base = (
                parent_trace.executed_at or fields.Datetime.now()
                if parent_trace
                else participant.entry_date
            )
            tz_name = participant.partner_id.tz or participant.campaign_id.tz
            for step in steps:
                variant, is_test_sample = self.env["crm.campaign.variant"], False
                if step.variant_ids and not participant.is_holdout:
                    variant, is_test_sample = step._get_variant_assignment(participant)
                vals_list.append(
                    {
                        "participant_id": participant.id,
                        "step_id": step.id,
                        "partner_id": participant.partner_id.id,
                        "parent_trace_id": parent_trace.id if parent_trace else False,
                        "scheduled_at": step._get_due_date(base, tz_name, variant),
                        "variant_id": variant.id,
                        "is_test_sample": is_test_sample,
                    }
                )
        return self.create(vals_list)

    def _schedule_children(self, triggers=None):
        """Schedule the child steps of these traces, optionally only those whose
        trigger is in ``triggers``."""
        for step, traces in self.grouped("step_id").items():
            children = step.child_ids
            if triggers is not None:
                children = children.filtered(lambda child: child.trigger in triggers)
            for child in children:
                self._schedule(traces.participant_id, child, parent_traces=traces)

    # ------------------------------------------------------------------
    # Executor
    # ------------------------------------------------------------------

    @api.model
    def _claim_due(self, campaign_ids=None, limit=BATCH_SIZE):
        """Lock and return up to ``limit`` due traces of running campaigns.

        ``SKIP LOCKED`` lets several workers claim disjoint batches: a trace
        locked by a transaction in progress is left to it.
        """
        self.flush_model(["state", "scheduled_at", "campaign_id"])
        self.env["crm.campaign"].flush_model(["state"])
        campaign_filter = (
            SQL("AND trace.campaign_id = ANY(%s)", list(campaign_ids))
            if campaign_ids
            else SQL()
        )
        rows = self.env.execute_query(
            SQL(
                """
                SELECT trace.id
                  FROM crm_campaign_trace trace
                  JOIN crm_campaign campaign ON campaign.id = trace.campaign_id
                 WHERE trace.state = 'scheduled'
                   AND trace.scheduled_at <= %(now)s
                   AND campaign.state = 'running'
                   %(campaign_filter)s
              ORDER BY trace.scheduled_at, trace.id
                 LIMIT %(limit)s
                   FOR UPDATE OF trace SKIP LOCKED
                """,
                now=fields.Datetime.now(),
                campaign_filter=campaign_filter,
                limit=limit,
            )
        )
        return self.browse([row[0] for row in rows])

    @api.model
    def _count_due(self, campaign_ids=None):
        domain = [
            ("state", "=", "scheduled"),
            ("scheduled_at", "<=", fields.Datetime.now()),
            ("campaign_id.state", "=", "running"),
        ]
        if campaign_ids:
            domain.append(("campaign_id", "in", list(campaign_ids)))
        return self.search_count(domain)

    @api.model
    def _execute_due(self, campaign_ids=None, batch_size=BATCH_SIZE, time_limit=None):
        """Execute due traces batch by batch; return the number processed.

        Each batch is committed on its own outside tests, so a crash re-runs
        only uncommitted traces and locks stay short. Stops when no due trace
        is left or after ``time_limit`` seconds, and then re-triggers the cron
        if work remains.
        """
        started = time.monotonic()
        done = 0
        failed_attempts = 0
        while True:
            batch_started = time.monotonic()
            try:
                traces = self._claim_due(campaign_ids=campaign_ids, limit=batch_size)
                if not traces:
                    break
                traces._execute_batch()
            except (psycopg2.IntegrityError, *PG_CONCURRENCY_EXCEPTIONS_TO_RETRY):
                failed_attempts += 1
                if modules.module.current_test or failed_attempts >= MAX_BATCH_ATTEMPTS:
                    raise
                # Another executor changed a row this batch uses; nothing of the
                # batch is kept, and its traces are claimed again.
                _logger.warning(
                    "Campaign executor: batch rolled back after a concurrent "
                    "update, attempt %s of %s",
                    failed_attempts,
                    MAX_BATCH_ATTEMPTS,
                    exc_info=True,
                )
                self.env.cr.rollback()
                self.env.reset()
                continue
            failed_attempts = 0
            done += len(traces)
            if not modules.module.current_test:
                self.env.cr.commit()  # pylint: disable=invalid-commit
            remaining = self._count_due(campaign_ids)
            _logger.info(
                "Campaign executor: %s traces in %.2fs, %s remaining",
                len(traces),
                time.monotonic() - batch_started,
                remaining,
            )
            self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
            if time_limit and time.monotonic() - started > time_limit:
                if remaining:
                    self.env.ref(
                        "crm_campaign_automation.ir_cron_campaign_execute"
                    )._trigger()
                break
        return done

    @api.model
    def _cron_execute(self):
        """Decide the experiments whose rule is met, then drive ``_execute_due``
        for at most CRON_TIME_LIMIT seconds per run."""
        self.env["crm.campaign.step"]._decide_experiments()
        self._execute_due(time_limit=CRON_TIME_LIMIT)

    def _execute_batch(self):
        """Run the goal check, filters, triggers, gate and channels on a batch."""
        now = fields.Datetime.now()
        traces = self._cancel_finished_journeys()
        traces = traces._cancel_unmatched_filters()
        traces = traces._cancel_unmet_triggers()
        traces = traces._skip_holdout(now)
        traces = traces._resolve_variants(now)

        refused, delayed, consent_states = self.env["crm.campaign.gate"]._check_batch(
            traces
        )
        by_consent_state = traces.filtered(
            lambda trace: trace.id in consent_states
        ).grouped(lambda trace: consent_states[trace.id])
        for consent_state, checked in by_consent_state.items():
            checked.consent_state = consent_state
        skipped_by_reason = traces.filtered(lambda trace: trace.id in refused).grouped(
            lambda trace: refused[trace.id]
        )
        for reason, skipped in skipped_by_reason.items():
            if skipped:
                skipped.write(
                    {"state": "skipped", "skip_reason": reason, "executed_at": now}
                )
                # The journey goes on by other channels: steps that only wait
                # for this one still run, response triggers cannot hold.
                skipped._schedule_children(triggers=("after_step",))
        # Partners of one time zone are delayed to the same moment, so one
        # write per distinct moment.
        delayed_by_moment = traces.filtered(lambda trace: trace.id in delayed).grouped(
            lambda trace: delayed[trace.id]
        )
        for moment, moved in delayed_by_moment.items():
            moved.write({"scheduled_at": moment, "skip_reason": "quiet_hours"})
        traces = traces.filtered(
            lambda trace: trace.id not in refused and trace.id not in delayed
        )
        # A trace delayed by quiet hours earlier runs now: its reason is stale.
        traces.filtered(lambda trace: trace.skip_reason == "quiet_hours").write(
            {"skip_reason": False}
        )

        # Outside the per-step savepoints: two executors creating the same
        # step's mailing must fail the batch for a retry, not the traces.
        for step in traces.step_id.filtered(lambda s: s.kind in ("email", "sms")):
            step._get_mailing()

        for (step, _variant), step_traces in traces.grouped(
            lambda trace: (trace.step_id, trace.variant_id)
        ).items():
            try:
                with self.env.cr.savepoint():
                    step_traces._execute_step(step)
                    step_traces.write({"state": "done", "executed_at": now})
            except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
                raise  # a concurrent executor's doing: the whole batch is retried
            except Exception as error:  # recorded on the traces, batch goes on
                _logger.exception(
                    "Campaign step %s failed on traces %s", step.id, step_traces.ids
                )
                step_traces.write(
                    {"state": "error", "executed_at": now, "error_message": str(error)}
                )
                continue
            step_traces._schedule_children()
        self.participant_id._complete_finished()

    def _cancel_finished_journeys(self):
        """Cancel traces of journeys that ended or reached their goal; return
        the others."""
        participants = self.participant_id
        participants._check_goal()
        ended = self.filtered(lambda trace: trace.participant_id.state != "running")
        for trace in ended:
            reason = "goal" if trace.participant_id.state == "converted" else "stopped"
            trace.write({"state": "canceled", "skip_reason": reason})
        return self - ended

    def _skip_holdout(self, now):
        """Skip every step of holdout participants, who receive nothing; return
        the other traces. No later step is scheduled for them."""
        holdout = self.filtered(lambda trace: trace.participant_id.is_holdout)
        holdout.write(
            {"state": "skipped", "skip_reason": "holdout", "executed_at": now}
        )
        return self - holdout

    def _resolve_variants(self, now):
        """Give each trace of a step with variants the variant it runs with now;
        return the traces that may run now.

        Partners outside a running test's sample wait: their trace moves to
        the test end, or EXPERIMENT_WAIT_HOURS later, with the reason
        ``experiment``, until a winner is decided. A trace whose variant
        changes (the winner after a decision) is due again after the
        variant's delay, counted from the parent step or the entry.
        """
        with_variants = self.filtered(lambda trace: trace.step_id.variant_ids)
        if not with_variants:
            return self
        starting = with_variants.step_id.filtered(
            lambda step: step.test_state == "none" and len(step.variant_ids) > 1
        )
        starting.write({"test_state": "running", "test_start_date": now})
        postponed = self.browse()
        # Traces are grouped by the values they get, so that each group is
        # one write however large the batch.
        updates = defaultdict(self.browse)
        for trace in with_variants:
            step = trace.step_id
            variant, is_test_sample = step._get_variant_assignment(trace.participant_id)
            if not variant:
                end = step.test_end_date
                wait_until = (
                    end
                    if end and end > now
                    else now + timedelta(hours=EXPERIMENT_WAIT_HOURS)
                )
                updates[
                    (("scheduled_at", wait_until), ("skip_reason", "experiment"))
                ] |= trace
                postponed |= trace
                continue
            if variant == trace.variant_id and is_test_sample == trace.is_test_sample:
                continue
            values = (("variant_id", variant.id), ("is_test_sample", is_test_sample))
            if variant != trace.variant_id:
                base = (
                    trace.parent_trace_id.executed_at or trace.participant_id.entry_date
                )
                tz_name = trace.partner_id.tz or trace.campaign_id.tz
                due = step._get_due_date(base, tz_name, variant)
                if due > now:
                    values += (("scheduled_at", due),)
                    postponed |= trace
            updates[values] |= trace
        for values, traces in updates.items():
            traces.write(dict(values))
        return self - postponed

    def _cancel_unmatched_filters(self):
        canceled = self.browse()
        for step, traces in self.grouped("step_id").items():
            domain = step._get_domain()
            if not domain:
                continue
            matching = (
                self.env["res.partner"]
                .with_context(active_test=False)
                .search([("id", "in", traces.partner_id.ids), *domain])
            )
            canceled |= traces.filtered(
                lambda trace, matching=matching: trace.partner_id not in matching
            )
        canceled.write({"state": "canceled", "skip_reason": "filter"})
        return self - canceled

    def _cancel_unmet_triggers(self):
        canceled = self.browse()
        for trace in self:
            trigger = trace.step_id.trigger
            if trigger in ("begin", "after_step"):
                continue
            if not trace._is_trigger_met(trigger):
                canceled |= trace
        canceled.write({"state": "canceled", "skip_reason": "trigger"})
        return self - canceled

    def _is_trigger_met(self, trigger):
        """Tell whether the response ``trigger`` happened since the parent step."""
        self.ensure_one()
        parent = self.parent_trace_id
        if not parent or parent.state != "done":
            return False
        if trigger in ("purchased", "not_purchased"):
            purchased = bool(
                self.env["sale.order"]
                .sudo()
                .search_count(
                    [
                        (
                            "partner_id",
                            "child_of",
                            self.partner_id.commercial_partner_id.id,
                        ),
                        ("state", "=", "sale"),
                        ("date_order", ">=", parent.executed_at),
                    ],
                    limit=1,
                )
            )
            return purchased if trigger == "purchased" else not purchased
        positive = trigger.removeprefix("not_")
        happened = bool(
            parent.mailing_trace_id
            and RESPONSE_TESTS[positive](parent.mailing_trace_id)
        )
        return happened if positive == trigger else not happened

    # ------------------------------------------------------------------
    # Channels
    # ------------------------------------------------------------------

    def _execute_step(self, step):
        """Run ``step`` on these traces, which share one variant or none."""
        self._issue_offers(step)
        kind = self.variant_id[:1].kind or step.kind
        method = getattr(self, f"_execute_{kind}")
        method(step)

    def _execute_email(self, step):
        """Render the step's template for the whole batch (per language) and queue
        one ``mail.mail`` with its ``mailing.trace`` per partner.

        Link tracking looks up or creates the trackers of the whole batch in
        one call, and ``_insert_mails`` writes the mails of the batch with one
        SQL statement.
        """
        mailing = step._get_mailing()
        partners = self.partner_id
        variant = self.variant_id[:1]
        template = variant.mail_template_id or step.mail_template_id
        rendered = template.sudo()._generate_template(
            partners.ids,
            ["subject", "body_html", "email_from", "reply_to", "mail_server_id"],
        )
        self._apply_variant_overrides(variant, rendered)
        placeholders = self._get_offer_placeholders()
        bodies = [
            self._replace_offer_placeholders(
                rendered[trace.partner_id.id].get("body_html") or "",
                *placeholders[trace.id],
            )
            for trace in self
        ]
        bodies = self._shorten_links_in_bodies(
            bodies, mailing._get_link_tracker_values(), skip_list=["/campaign/offer/"]
        )
        default_email_from = (
            self.campaign_id[:1].user_id.email_formatted
            or self.env.company.email_formatted
        )
        rows = []
        labels = {}
        for trace, body in zip(self, bodies, strict=True):
            partner = trace.partner_id
            values = rendered[partner.id]
            rows.append(
                {
                    "trace_id": trace.id,
                    "partner_id": partner.id,
                    "record_name": partner.display_name,
                    "email": partner.email_normalized or partner.email,
                    "subject": values.get("subject") or step.name,
                    "body_html": str(
                        self._append_preference_link(body, partner, labels)
                    ),
                    "email_from": values.get("email_from") or default_email_from,
                    "reply_to": values.get("reply_to") or None,
                    "mail_server_id": values.get("mail_server_id") or None,
                    "message_id": mail.generate_tracking_message_id(
                        f"campaign-trace-{trace.id}"
                    ),
                }
            )
        # The List-Unsubscribe headers are not stored: the mail.mail override
        # of _prepare_outgoing_list adds them when the mail is sent.
        self._insert_mails(rows, mailing)

    def _insert_mails(self, rows, mailing):
        """Queue one outgoing ``mail.mail`` per row, with its ``mail.message``,
        its recipient and its ``mailing.trace``, and link them to the traces.

        One INSERT per table for the whole batch: creating them through the
        ORM costs a default_get and several overrides per record, which was
        most of the executor's time. The rows match what
        ``mail.mail.create`` writes for the same values (message type
        ``email_outgoing``, author the current user's partner, state
        ``outgoing``), and the mailing traces what mass mailing writes.
        Every ``message_id`` must be unique, because it joins the inserted
        rows back to their traces.
        """
        # NOTE: overrides of mail.mail, mail.message or mailing.trace create()
        # in other modules do not run for campaign e-mails.
        if not rows:
            return
        self.flush_recordset(["mail_mail_id", "mailing_trace_id"])
        now = fields.Datetime.now()
        columns = [
            ("trace_id", "int4"),
            ("partner_id", "int4"),
            ("record_name", "varchar"),
            ("email", "varchar"),
            ("subject", "varchar"),
            ("body_html", "text"),
            ("email_from", "varchar"),
            ("reply_to", "varchar"),
            ("mail_server_id", "int4"),
            ("message_id", "varchar"),
        ]
        arrays = SQL(", ").join(
            SQL("%s::%s[]", [row[name] for row in rows], SQL(sql_type))
            for name, sql_type in columns
        )
        names = SQL(", ").join(SQL.identifier(name) for name, _type in columns)
        self.env.cr.execute(
            SQL(
                """
                WITH input AS (
                    SELECT * FROM unnest(%(arrays)s) AS input (%(names)s)
                ), message AS (
                    INSERT INTO mail_message (
                        model, res_id, record_name, message_type, subject, body,
                        email_from, reply_to, mail_server_id, message_id,
                        author_id, email_add_signature, date,
                        create_uid, create_date, write_uid, write_date
                    )
                    SELECT 'res.partner', partner_id, record_name,
                           'email_outgoing', subject, '', email_from, reply_to,
                           mail_server_id, message_id, %(author_id)s, TRUE,
                           date_trunc('second', %(now)s::timestamp),
                           %(uid)s, %(now)s, %(uid)s, %(now)s
                      FROM input
                 RETURNING id, message_id
                ), mail AS (
                    INSERT INTO mail_mail (
                        mail_message_id, state, body_html, auto_delete, mailing_id,
                        create_uid, create_date, write_uid, write_date
                    )
                    SELECT message.id, 'outgoing', input.body_html,
                           %(auto_delete)s, %(mailing_id)s,
                           %(uid)s, %(now)s, %(uid)s, %(now)s
                      FROM message
                      JOIN input ON input.message_id = message.message_id
                 RETURNING id, mail_message_id
                ), queued AS (
                    SELECT mail.id AS mail_id, input.*
                      FROM mail
                      JOIN message ON message.id = mail.mail_message_id
                      JOIN input ON input.message_id = message.message_id
                ), recipient AS (
                    INSERT INTO mail_mail_res_partner_rel (mail_mail_id, res_partner_id)
                    SELECT mail_id, partner_id FROM queued
                ), mailing_trace AS (
                    INSERT INTO mailing_trace (
                        trace_type, trace_status, model, res_id, email, message_id,
                        mail_mail_id, mail_mail_id_int, mass_mailing_id, campaign_id,
                        create_uid, create_date, write_uid, write_date
                    )
                    SELECT 'mail', 'outgoing', 'res.partner', partner_id, email,
                           message_id, mail_id, mail_id, %(mailing_id)s,
                           %(utm_campaign_id)s,
                           %(uid)s, %(now)s, %(uid)s, %(now)s
                      FROM queued
                 RETURNING id, message_id
                )
                UPDATE crm_campaign_trace trace
                   SET mail_mail_id = queued.mail_id,
                       mailing_trace_id = mailing_trace.id
                  FROM queued
                  JOIN mailing_trace ON mailing_trace.message_id = queued.message_id
                 WHERE trace.id = queued.trace_id
                """,
                arrays=arrays,
                names=names,
                author_id=self.env.user.partner_id.id,
                now=now,
                uid=self.env.uid,
                auto_delete=not mailing.keep_archives,
                mailing_id=mailing.id,
                utm_campaign_id=mailing.campaign_id.id or None,
            )
        )
        self.invalidate_recordset(["mail_mail_id", "mailing_trace_id"])
        for model in ("mail.mail", "mail.message", "mailing.trace"):
            self.env[model].invalidate_model()
        mailing.invalidate_recordset()

    def _shorten_links_in_bodies(self, bodies, tracker_values, skip_list=None):
        """Return ``bodies`` with their links replaced by tracked short links.

        Does what ``mail.render.mixin._shorten_links`` does for one body, but
        looks up or creates the link trackers of all bodies in one call.
        """
        base_url = self.env["ir.config_parameter"].sudo().get_param("web.base.url")
        short_prefix = base_url + "/r/"
        parsed = []
        url_values = {}
        for body in bodies:
            if not body or is_html_empty(body):
                parsed.append(None)
                continue
            root = lxml.html.fromstring(body)
            nodes, urls_and_labels = find_links_with_urls_and_labels(
                root,
                base_url,
                skip_regex=rf"^{URL_SKIP_PROTOCOL_REGEX}",
                skip_prefix=short_prefix,
                skip_list=skip_list,
            )
            parsed.append((root, nodes, urls_and_labels) if nodes else None)
            for item in urls_and_labels:
                url_values.setdefault((item["url"], item["label"]), item)
        if not url_values:
            return bodies
        # search_or_create costs a default_get per value, so each distinct
        # link and label is passed once.
        trackers = (
            self.env["link.tracker"]
            .sudo()
            .search_or_create(
                [dict(tracker_values, **item) for item in url_values.values()]
            )
        )
        short_urls = dict(zip(url_values, trackers.mapped("short_url"), strict=True))
        result = []
        for body, parsed_body in zip(bodies, parsed, strict=True):
            if not parsed_body:
                result.append(body)
                continue
            root, nodes, urls_and_labels = parsed_body
            for node, item in zip(nodes, urls_and_labels, strict=True):
                node.set("href", short_urls[item["url"], item["label"]])
            result.append(
                Markup(lxml.html.tostring(root, encoding="unicode", method="xml"))
            )
        return result

    def _apply_variant_overrides(self, variant, rendered):
        """Replace in ``rendered`` (values per partner id) the subject and body
        that ``variant`` overrides, rendered per partner in its language."""
        if not variant or not (variant.subject or variant.body_html):
            return
        render_mixin = self.env["mail.render.mixin"].sudo()
        partners_by_lang = self.partner_id.grouped(
            lambda partner: partner.lang or self.env.lang
        )
        for lang, partners in partners_by_lang.items():
            mixin = render_mixin.with_context(lang=lang)
            if variant.subject:
                subjects = mixin._render_template(
                    variant.subject, "res.partner", partners.ids
                )
                for partner_id, subject in subjects.items():
                    rendered[partner_id]["subject"] = subject
            if variant.body_html:
                bodies = mixin._render_template(
                    variant.body_html,
                    "res.partner",
                    partners.ids,
                    engine="qweb",
                    options={"post_process": True},
                )
                for partner_id, body in bodies.items():
                    rendered[partner_id]["body_html"] = body

    def _append_preference_link(self, body, partner, labels=None):
        """Append the link to the partner's consent preferences, when crm_consent
        provides it, after link tracking so that the signed URL stays intact.

        ``labels`` caches the translated link text per language for a batch.
        """
        if not hasattr(partner, "consent_preference_url"):
            return body
        url = partner.sudo().consent_preference_url()
        lang = partner.lang or self.env.lang
        labels = {} if labels is None else labels
        if lang not in labels:
            labels[lang] = self.with_context(lang=lang).env._(
                "Manage your communication preferences"
            )
        label = labels[lang]
        footer = Markup('<p style="font-size: 12px;"><a href="%s">%s</a></p>') % (
            url,
            label,
        )
        return mail.append_content_to_html(body, footer, plaintext=False)

    def _execute_sms(self, step):
        """Queue one ``sms.sms`` with its ``mailing.trace`` per partner."""
        mailing = step._get_mailing()
        template = self.variant_id[:1].sms_template_id or step.sms_template_id
        bodies = template.sudo()._render_field("body", self.partner_id.ids)
        sms_vals_list = []
        for trace in self:
            partner = trace.partner_id
            number = partner.mobile_e164 or partner.phone_e164
            sms_vals_list.append(
                {
                    "partner_id": partner.id,
                    "number": number,
                    "body": bodies[partner.id],
                    "mailing_id": mailing.id,
                    "state": "outgoing",
                    "mailing_trace_ids": [
                        fields.Command.create(
                            {
                                "trace_type": "sms",
                                "model": "res.partner",
                                "res_id": partner.id,
                                "sms_number": number,
                                "mass_mailing_id": mailing.id,
                                "campaign_id": mailing.campaign_id.id,
                            }
                        )
                    ],
                }
            )
        sms_records = self.env["sms.sms"].sudo().create(sms_vals_list)
        for trace, sms in zip(self, sms_records, strict=True):
            trace.write(
                {"sms_id": sms.id, "mailing_trace_id": sms.mailing_trace_ids[:1].id}
            )

    def _execute_call(self, step):
        """Create one call activity per partner for its salesperson, or the step's
        or campaign's user."""
        model = self.env["ir.model"]._get("res.partner")
        deadline = fields.Date.context_today(self) + timedelta(
            days=step.activity_deadline_days
        )
        activity_vals_list = []
        for trace in self:
            partner = trace.partner_id
            user = (
                step.activity_user_id
                or partner.user_id
                or partner.commercial_partner_id.user_id
                or trace.campaign_id.user_id
                or self.env.user
            )
            activity_vals_list.append(
                {
                    "res_model_id": model.id,
                    "res_id": partner.id,
                    "activity_type_id": step.activity_type_id.id,
                    "summary": step.activity_summary or step.name,
                    "note": step.activity_note,
                    "user_id": user.id,
                    "date_deadline": deadline,
                }
            )
        activities = self.env["mail.activity"].sudo().create(activity_vals_list)
        for trace, activity in zip(self, activities, strict=True):
            trace.activity_id = activity

    def _execute_action(self, step):
        partners = self.partner_id
        if step.action_kind == "add_tag":
            partners.write({"category_id": [fields.Command.link(step.tag_id.id)]})
        elif step.action_kind == "remove_tag":
            partners.write({"category_id": [fields.Command.unlink(step.tag_id.id)]})
        elif step.action_kind == "server_action":
            step.server_action_id.with_context(
                active_model="res.partner",
                active_ids=partners.ids,
                active_id=partners[:1].id,
            ).run()
        elif step.action_kind in ("add_segment", "remove_segment"):
            step.segment_id.sudo()._campaign_set_static_members(
                partners, add=step.action_kind == "add_segment"
            )
        elif step.action_kind == "create_opportunity":
            self._create_opportunities(step)

    def _create_opportunities(self, step):
        """Create one opportunity per trace, for its partner, with the
        campaign's UTM campaign, source and medium."""
        leads = self.env["crm.lead"].sudo()
        lead_vals_list = []
        for campaign, traces in self.grouped("campaign_id").items():
            source = campaign.utm_source_id
            if not source:
                source = self.env["utm.mixin"]._find_or_create_record(
                    "utm.source", campaign.name
                )
                campaign.sudo().utm_source_id = source
            for trace in traces:
                partner = trace.partner_id
                user = (
                    step.opportunity_user_id
                    or partner.user_id
                    or partner.commercial_partner_id.user_id
                    or campaign.user_id
                )
                vals = {
                    "name": step.opportunity_name
                    or f"{step.name} - {partner.display_name}",
                    "type": "opportunity",
                    "partner_id": partner.id,
                    "user_id": user.id,
                    "company_id": campaign.company_id.id,
                    "campaign_id": campaign.utm_campaign_id.id,
                    "source_id": source.id,
                    "medium_id": campaign.utm_medium_id.id,
                }
                # Without a team, crm.lead picks the salesperson's own team.
                if step.opportunity_team_id:
                    vals["team_id"] = step.opportunity_team_id.id
                lead_vals_list.append(vals)
        leads.create(lead_vals_list)

    def _execute_postal(self, step):
        """Render a letter per partner and attach the batch's address list (CSV)
        for the mailing house to the step.

        The letters are printed to PDF with the report "Campaign Letters" on
        the traces, which needs wkhtmltopdf on the server.
        """
        partners = self.partner_id
        template = self.variant_id[:1].mail_template_id or step.mail_template_id
        bodies = template.sudo()._render_field("body_html", partners.ids)
        for trace in self:
            trace.letter_html = bodies[trace.partner_id.id]

        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(POSTAL_CSV_HEADER)
        for trace in self:
            partner = trace.partner_id
            writer.writerow(
                [
                    trace.id,
                    partner.name or "",
                    partner.street or "",
                    partner.street2 or "",
                    partner.zip or "",
                    partner.city or "",
                    partner.state_id.name or "",
                    partner.country_id.name or "",
                ]
            )
        now = fields.Datetime.now()
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .create(
                {
                    "name": f"{step.name} {now:%Y-%m-%d %H%M%S} {self[:1].id}.csv",
                    "raw": buffer.getvalue().encode("utf-8-sig"),
                    "mimetype": "text/csv",
                    "res_model": "crm.campaign.step",
                    "res_id": step.id,
                }
            )
        )
        self.postal_attachment_id = attachment

    def _execute_web(self, step):
        """Publish the partner's web offer page; send its link by e-mail when
        the step has an e-mail template.

        ``_issue_offers`` already gave each trace its code and signed link.
        The e-mail, if any, is sent as by an e-mail step, with the
        placeholders [[offer_code]] and [[offer_url]] replaced.
        """
        if step.mail_template_id:
            self._execute_email(step)
