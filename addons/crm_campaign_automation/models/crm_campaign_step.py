from datetime import timedelta

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.osv import expression
from odoo.tools.safe_eval import safe_eval

from ..tools import local_to_utc
from ..tools.schedule import utc_to_local

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
    ("add_segment", "Add to a segment"),
    ("remove_segment", "Remove from a segment"),
    ("create_opportunity", "Create an opportunity"),
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
    segment_id = fields.Many2one(
        "crm.segment",
        help="Segment the partner is added to or removed from. The partner stays "
        "added or removed when the segment is refreshed.",
    )
    opportunity_name = fields.Char(
        help="Title of the opportunity; empty: the step name and the partner name.",
    )
    opportunity_user_id = fields.Many2one(
        "res.users",
        string="Opportunity Salesperson",
        help="Salesperson of the opportunity. Empty: the partner's salesperson, "
        "else the campaign's responsible.",
    )
    opportunity_team_id = fields.Many2one(
        "crm.team",
        string="Opportunity Sales Team",
        help="Sales team of the opportunity. Empty: the salesperson's team.",
    )
    # Offer and web page
    offer_id = fields.Many2one(
        "crm.campaign.offer",
        index="btree_not_null",
        help="Offer this step gives: each partner gets the offer's code and a "
        "signed link to the web offer page. In e-mail templates, [[offer_code]] "
        "and [[offer_url]] are replaced by them.",
    )
    web_body_html = fields.Html(
        string="Web Page Content",
        translate=True,
        sanitize=False,
        help="Content of the web offer page, rendered for the partner like an "
        "e-mail template body (QWeb, 'object' is the partner), in the partner's "
        "language. Empty: the offer's description.",
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

    @api.constrains("web_body_html")
    def _check_web_body_html(self):
        """Apply the rule of e-mail templates to the web page content: only
        template editors may write expressions beyond plain field reads,
        because the public page renders the content as superuser."""
        if self.env.su or self.env.user.has_group("mail.group_mail_template_editor"):
            return
        render_mixin = self.env["mail.render.mixin"]
        for step in self:
            if render_mixin._has_unsafe_expression_template_qweb(
                step.web_body_html, "res.partner"
            ):
                raise AccessError(
                    self.env._(
                        "The web page content of step %(step)s contains "
                        "expressions that only members of %(group)s may write.",
                        step=step.name,
                        group=self.env.ref("mail.group_mail_template_editor").name,
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
                "web": not step.web_body_html and not step.offer_id,
                "action": not step.action_kind
                or (step.action_kind in ("add_tag", "remove_tag") and not step.tag_id)
                or (step.action_kind == "server_action" and not step.server_action_id)
                or (
                    step.action_kind in ("add_segment", "remove_segment")
                    and not step.segment_id
                ),
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

    def _get_due_date(self, base, tz_name):
        """Return the naive UTC moment this step is due, counted from ``base``.

        The delay is added to ``base``. With a local hour, the step runs at
        that hour of the resulting local day in ``tz_name``, even if that
        moment is earlier than ``base`` plus the delay.
        """
        self.ensure_one()
        delta = {
            "hours": timedelta(hours=self.interval_number),
            "days": timedelta(days=self.interval_number),
            "weeks": timedelta(weeks=self.interval_number),
            "months": relativedelta(months=self.interval_number),
        }[self.interval_type]
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
