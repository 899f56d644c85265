from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from .crm_campaign_step import INTERVAL_TYPES, KIND_CHANNELS, STEP_KINDS


class CrmCampaignVariant(models.Model):
    """One version of a campaign step in an experiment.

    Each empty override falls back to the step's own content, so a variant
    without overrides is the step itself (the control) and a winner always
    has something to send.
    """

    _name = "crm.campaign.variant"
    _description = "Campaign Step Variant"
    _order = "step_id, sequence, id"

    step_id = fields.Many2one(
        "crm.campaign.step", required=True, index=True, ondelete="cascade"
    )
    campaign_id = fields.Many2one(related="step_id.campaign_id", store=True)
    company_id = fields.Many2one(related="step_id.company_id", store=True)
    sequence = fields.Integer(default=10)
    name = fields.Char(required=True)
    weight = fields.Integer(
        default=1,
        required=True,
        help="Share of the test audience that receives this variant, relative to "
        "the weights of the other variants: weights 1 and 3 send it to a quarter "
        "and three quarters.",
    )
    kind = fields.Selection(
        STEP_KINDS,
        string="Channel",
        help="Channel of this variant. Empty: the step's kind.",
    )
    channel_id = fields.Many2one(
        "crm.consent.channel",
        string="Consent Channel",
        compute="_compute_channel_id",
        store=True,
        help="Consent channel the gate checks for this variant's channel override.",
    )
    subject = fields.Char(
        help="E-mail subject replacing the template's; placeholders such as "
        "{{ object.name }} are rendered per partner. Empty: the template's subject.",
    )
    mail_template_id = fields.Many2one(
        "mail.template",
        string="E-mail Template",
        domain="[('model', '=', 'res.partner')]",
        help="Template replacing the step's. Empty: the step's template.",
    )
    body_html = fields.Html(
        string="Body",
        sanitize="email_outgoing",
        help="E-mail body replacing the template's, rendered per partner as a "
        "QWeb template. Empty: the template's body.",
    )
    sms_template_id = fields.Many2one(
        "sms.template",
        string="SMS Template",
        domain="[('model', '=', 'res.partner')]",
        help="SMS template replacing the step's. Empty: the step's template.",
    )
    interval_number = fields.Integer(
        string="Delay",
        help="Delay replacing the step's, used only when a delay unit is set.",
    )
    interval_type = fields.Selection(
        INTERVAL_TYPES,
        string="Delay Unit",
        help="Set it to replace the step's delay. Empty: the step's delay.",
    )
    is_winner = fields.Boolean(
        readonly=True,
        copy=False,
        help="Chosen as the winner of the step's experiment.",
    )
    trace_ids = fields.One2many("crm.campaign.trace", "variant_id", string="Traces")

    recipient_count = fields.Integer(
        string="Recipients",
        compute="_compute_results",
        help="Partners of the test sample this variant was sent to.",
    )
    success_count = fields.Float(
        string="Successes",
        compute="_compute_results",
        help="Recipients who opened, clicked, replied or bought, as the step's "
        "metric says; for revenue, the revenue of the recipients.",
    )
    rate = fields.Float(
        compute="_compute_results",
        digits=(16, 4),
        help="Successes per recipient: a rate, or the revenue per recipient.",
    )
    interval_low = fields.Float(
        compute="_compute_results",
        digits=(16, 4),
        help="Lower bound of the 95 % interval of the rate (Wilson score interval; "
        "normal interval for revenue).",
    )
    interval_high = fields.Float(
        compute="_compute_results",
        digits=(16, 4),
        help="Upper bound of the 95 % interval of the rate.",
    )
    probability_best = fields.Float(
        string="Probability to Be Best",
        compute="_compute_results",
        digits=(16, 4),
        help="Posterior probability that this variant has the best rate of the "
        "step's variants.",
    )
    p_value = fields.Float(
        string="P-Value",
        compute="_compute_results",
        digits=(16, 4),
        help="Always-valid p-value of the sequential test between this variant "
        "and the variant with the best rate, corrected for the number of "
        "variant pairs. For the best variant, the largest of its p-values "
        "against the others: it wins once this is at most the significance "
        "level. It stays valid however often the results are checked.",
    )

    @api.depends("kind")
    def _compute_channel_id(self):
        for variant in self:
            xmlid = KIND_CHANNELS.get(variant.kind)
            variant.channel_id = (
                self.env.ref(xmlid, raise_if_not_found=False) if xmlid else False
            )

    def _compute_results(self):
        results = {}
        for step in self._origin.step_id:
            for row in step._get_experiment_rows():
                results[row["variant_id"]] = row
        for variant in self:
            row = results.get(variant._origin.id, {})
            variant.recipient_count = row.get("recipients", 0)
            variant.success_count = row.get("successes", 0.0)
            variant.rate = row.get("rate", 0.0)
            variant.interval_low = row.get("interval_low", 0.0)
            variant.interval_high = row.get("interval_high", 0.0)
            variant.probability_best = row.get("probability_best", 0.0)
            variant.p_value = row.get("p_value", 1.0)

    @api.constrains("weight")
    def _check_weight(self):
        for variant in self:
            if variant.weight <= 0:
                raise ValidationError(
                    self.env._(
                        "The weight of variant %(variant)s must be a positive whole "
                        "number, got %(value)s.",
                        variant=variant.name,
                        value=variant.weight,
                    )
                )

    @api.constrains("interval_number")
    def _check_interval(self):
        for variant in self:
            if variant.interval_number < 0:
                raise ValidationError(
                    self.env._(
                        "The delay of variant %(variant)s is negative (%(value)s). "
                        "Enter 0 or more.",
                        variant=variant.name,
                        value=variant.interval_number,
                    )
                )

    @api.ondelete(at_uninstall=False)
    def _unlink_except_sent(self):
        sent = self.filtered(
            lambda variant: any(trace.state == "done" for trace in variant.trace_ids)
        )
        if sent:
            raise UserError(
                self.env._(
                    "Variant %(variant)s was already sent, so deleting it would lose "
                    "its results. Stop the campaign or leave the variant in place.",
                    variant=sent[0].name,
                )
            )

    def _get_kind(self):
        """Return the channel kind this variant runs on."""
        self.ensure_one()
        return self.kind or self.step_id.kind

    def action_set_winner(self):
        """Declare this variant the winner of its step's experiment by hand."""
        for variant in self:
            variant.step_id._set_winner(variant, reason="manual")
        return True
