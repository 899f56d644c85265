from odoo import fields, models


class MailingMailing(models.Model):
    _inherit = "mailing.mailing"

    crm_campaign_step_id = fields.Many2one(
        "crm.campaign.step",
        string="Campaign Step",
        index="btree_not_null",
        ondelete="set null",
        readonly=True,
        help="Campaign step whose messages this hidden mailing groups.",
    )
