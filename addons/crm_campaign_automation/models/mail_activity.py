from odoo import fields, models


class MailActivity(models.Model):
    _inherit = "mail.activity"

    campaign_trace_id = fields.Many2one(
        "crm.campaign.trace",
        compute="_compute_campaign_trace_id",
        help="Campaign call step whose trace created this activity.",
    )
    campaign_has_offer = fields.Boolean(compute="_compute_campaign_trace_id")

    def _compute_campaign_trace_id(self):
        traces = (
            self.env["crm.campaign.trace"]
            .sudo()
            .search([("activity_id", "in", self.ids)])
        )
        trace_by_activity = {trace.activity_id.id: trace for trace in traces}
        for activity in self:
            trace = trace_by_activity.get(activity.id)
            activity.campaign_trace_id = trace.id if trace else False
            activity.campaign_has_offer = bool(trace and trace.offer_id)

    def action_done_offer_accepted(self):
        """Mark the call done and record that the partner accepted the offer.

        Whoever may mark the activity done may record the outcome, so the
        trace is written as superuser after the activity access check.
        """
        self.check_access("write")
        traces = (
            self.env["crm.campaign.trace"]
            .sudo()
            .search([("activity_id", "in", self.ids)])
        )
        traces._accept_offer("call")
        return self.action_done()
