from odoo import models


class MailMail(models.Model):
    _inherit = "mail.mail"

    def _prepare_outgoing_list(
        self, mail_server=False, recipients_follower_status=None
    ):
        """Use the crm_consent unsubscribe headers on campaign e-mails.

        mass_mailing sets ``List-Unsubscribe`` to its own opt-out page. Campaign
        e-mails use crm_consent's one-click URL and mailto instead, so that
        the refusal is recorded in the consent ledger.
        """
        email_list = super()._prepare_outgoing_list(
            mail_server=mail_server,
            recipients_follower_status=recipients_follower_status,
        )
        if (
            not self.mailing_id.crm_campaign_step_id
            or self.model != "res.partner"
            or not self.res_id
        ):
            return email_list
        partner = self.env["res.partner"].sudo().browse(self.res_id).exists()
        if not partner or not hasattr(partner, "_consent_list_unsubscribe_headers"):
            return email_list
        purpose_code = (
            self.mailing_id.crm_campaign_step_id.campaign_id.purpose_id.code
            or "marketing"
        )
        headers = partner._consent_list_unsubscribe_headers(purpose_code=purpose_code)
        for email_values in email_list:
            email_values["headers"].update(headers)
        return email_list
