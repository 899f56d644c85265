import logging

from werkzeug.exceptions import Unauthorized

from odoo import http
from odoo.http import request

from odoo.addons.mass_mailing.controllers.main import MassMailController

_logger = logging.getLogger(__name__)


class CampaignMassMailController(MassMailController):
    @http.route()
    def track_mail_open(self, mail_id, token, **post):
        """Record whether a campaign e-mail was opened by an image proxy.

        The parent checks the token and raises before anything is recorded
        when it is wrong. A token that is not ASCII gets the same refusal
        here, because the parent's constant-time comparison raises a
        TypeError (a server error) on such text.
        """
        if not token.isascii():
            raise Unauthorized()
        response = super().track_mail_open(mail_id, token, **post)
        traces = (
            request.env["mailing.trace"]
            .sudo()
            .search([("mail_mail_id_int", "=", mail_id)])
        )
        traces._record_campaign_open(request.httprequest.user_agent.string)
        return response


class CampaignOfferController(http.Controller):
    """Public web offer page of a campaign trace, reached without login.

    The token in the URL is checked (HMAC, constant-time comparison, expiry,
    offer validity) before anything is read as superuser. A malformed,
    tampered, expired or unknown token gets the same neutral page with the
    same status, so the response never reveals whether a trace exists.
    """

    def _invalid_link(self):
        return request.render("crm_consent.consent_page_invalid_link", status=404)

    def _render_page_body(self, trace):
        """Render the step's web page content for the trace's partner, in the
        partner's language, or return the offer's description."""
        step = trace.step_id.with_context(lang=trace.partner_id.lang)
        if not step.web_body_html:
            return trace.offer_id.with_context(lang=trace.partner_id.lang).description
        rendered = (
            request.env["mail.render.mixin"]
            .sudo()
            .with_context(lang=trace.partner_id.lang)
            ._render_template(
                step.web_body_html,
                "res.partner",
                trace.partner_id.ids,
                engine="qweb",
            )
        )
        return rendered[trace.partner_id.id]

    @http.route(
        "/campaign/offer/<string:token>",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        sitemap=False,
    )
    def offer_page(self, token, **post):
        """Show the partner's offer page; a POST (the accept button, with a
        CSRF token) records the acceptance once and shows the page again."""
        trace = request.env["crm.campaign.trace"].sudo()._from_offer_token(token)
        if not trace:
            return self._invalid_link()
        partner = trace.partner_id
        request.update_context(lang=partner.lang or request.env.lang)
        trace = trace.with_context(lang=partner.lang or request.env.lang)
        just_accepted = False
        if request.httprequest.method == "POST" and trace.offer_id:
            just_accepted = bool(trace._accept_offer("web"))
            _logger.debug("Offer page of trace %s posted", trace.id)
        return request.render(
            "crm_campaign_automation.campaign_offer_page",
            {
                "trace": trace,
                "offer": trace.offer_id,
                "partner": partner,
                "body": self._render_page_body(trace),
                "just_accepted": just_accepted,
            },
        )
