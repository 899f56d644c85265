from odoo import api, fields, models
from odoo.tools import email_normalize


class CrmConsentUnsubscribeRequest(models.Model):
    """An e-mail received at the ``mailto`` of the List-Unsubscribe header.

    Mail clients that do not POST the one-click URL send an e-mail instead,
    with subject ``unsubscribe <purpose code>``. Odoo's mail gateway routes
    it here through the ``unsubscribe`` alias. The sender's partners get a
    refusal of e-mail for that purpose, and the e-mail stays in the chatter
    as proof.
    """

    _name = "crm.consent.unsubscribe.request"
    _description = "Unsubscribe E-mail"
    _inherit = ["mail.thread"]
    _order = "id desc"
    _rec_name = "subject"

    subject = fields.Char(readonly=True)
    email_from = fields.Char(string="Sender", readonly=True)
    purpose_id = fields.Many2one("crm.consent.purpose", readonly=True)
    partner_ids = fields.Many2many("res.partner", string="Customers", readonly=True)

    @api.model
    def message_new(self, msg_dict, custom_values=None):
        subject = msg_dict.get("subject") or ""
        sender = email_normalize(msg_dict.get("email_from") or "")
        words = subject.lower().split()
        purpose_code = words[1] if len(words) > 1 and words[0] == "unsubscribe" else ""
        Purpose = self.env["crm.consent.purpose"].sudo()
        purpose = Purpose.search(
            [("code", "=", purpose_code)], limit=1
        ) or self.env.ref("crm_consent.purpose_marketing")
        partners = (
            self.env["res.partner"].sudo().search([("email_normalized", "=", sender)])
            if sender
            else self.env["res.partner"]
        )
        values = dict(
            custom_values or {},
            subject=subject,
            email_from=sender or msg_dict.get("email_from"),
            purpose_id=purpose.id,
            partner_ids=[fields.Command.set(partners.ids)],
        )
        request = super().message_new(msg_dict, custom_values=values)
        if partners and not purpose.is_transactional:
            self.env["crm.consent"].sudo()._record(
                partners,
                self.env.ref("crm_consent.channel_email"),
                purpose,
                "refused",
                source="unsubscribe",
                legal_basis=False,
                proof=self.env._(
                    "Unsubscribe e-mail from %(sender)s, message %(message)s",
                    sender=sender,
                    message=msg_dict.get("message_id") or "",
                ),
                origin="List-Unsubscribe mailto",
                only_current_states=[None, "granted", "pending"],
            )
        return request
