from odoo import http
from odoo.http import request

from odoo.addons.mass_mailing.controllers.main import MassMailController


class CampaignMassMailController(MassMailController):
    @http.route()
    def track_mail_open(self, mail_id, token, **post):
        """Record whether a campaign e-mail was opened by an image proxy.

        The parent checks the token and raises before anything is recorded
        when it is wrong.
        """
        response = super().track_mail_open(mail_id, token, **post)
        traces = (
            request.env["mailing.trace"]
            .sudo()
            .search([("mail_mail_id_int", "=", mail_id)])
        )
        traces._record_campaign_open(request.httprequest.user_agent.string)
        return response
