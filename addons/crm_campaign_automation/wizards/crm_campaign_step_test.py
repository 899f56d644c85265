import re

from odoo import api, fields, models


class CrmCampaignStepTest(models.TransientModel):
    _name = "crm.campaign.step.test"
    _description = "Campaign Step Test Send"

    step_id = fields.Many2one("crm.campaign.step", required=True, ondelete="cascade")
    kind = fields.Selection(related="step_id.kind")
    recipients = fields.Text(
        required=True,
        help="E-mail addresses or phone numbers, separated by commas or new lines.",
    )

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if "recipients" in fields_list and not values.get("recipients"):
            values["recipients"] = self.env.user.email or ""
        return values

    def action_send(self):
        self.ensure_one()
        recipients = [
            item.strip()
            for item in re.split(r"[,;\n]", self.recipients)
            if item.strip()
        ]
        if self.step_id.kind == "sms":
            self.step_id.action_test_send(numbers=recipients)
        else:
            self.step_id.action_test_send(emails=recipients)
        return {"type": "ir.actions.act_window_close"}
