import logging

from odoo import http
from odoo.http import request

_logger = logging.getLogger(__name__)

ONE_CLICK_BODY = "One-Click"


class ConsentController(http.Controller):
    """Public consent pages reached from e-mails, without login.

    Every route checks a signed token (``crm.consent.token``, compared in
    constant time) before it escalates to ``sudo()``. A wrong, tampered or
    expired token, or an id that does not exist, gets the same neutral page,
    so no page reveals
    whether a partner exists.
    """

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def _proof(self):
        httprequest = request.httprequest
        return {
            "ip_address": httprequest.remote_addr,
            "user_agent": httprequest.headers.get("User-Agent") or False,
        }

    def _text_response(self, text, status):
        return request.make_response(
            text, [("Content-Type", "text/plain; charset=utf-8")], status=status
        )

    def _invalid_link(self):
        return request.render("crm_consent.consent_page_invalid_link", status=404)

    def _partner_from_token(self, partner_id, token, scope, extra_parts=()):
        if (
            not request.env["crm.consent.token"]
            .sudo()
            ._verify(token, scope, [partner_id, *extra_parts])
        ):
            return None
        partner = request.env["res.partner"].sudo().browse(partner_id).exists()
        if partner:
            request.update_context(lang=partner.lang or request.env.lang)
        return partner or None

    # ------------------------------------------------------------------
    # Preference centre
    # ------------------------------------------------------------------

    def _preference_rows(self, partner):
        """Return (channel, purpose, state) for every choice the page offers."""
        env = request.env
        channels = env["crm.consent.channel"].sudo().search([])
        purposes = (
            env["crm.consent.purpose"].sudo().search([("is_transactional", "=", False)])
        )
        states = {
            (consent.channel_id.id, consent.purpose_id.id): consent.state
            for consent in env["crm.consent"]
            .sudo()
            .search([("partner_id", "=", partner.id)])
        }
        return [
            (channel, purpose, states.get((channel.id, purpose.id), False))
            for purpose in purposes
            for channel in channels
        ]

    @http.route(
        "/consent/preferences/<int:partner_id>/<string:token>",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        sitemap=False,
    )
    def preferences(self, partner_id, token, **post):
        """Show a partner's choices per channel and purpose and record changes.

        A POST carries one ``choice_<channel id>_<purpose id>`` field per row,
        ``granted`` or ``refused``. Each row whose value differs from the
        current state becomes one event with the request's IP address and
        browser as proof.
        """
        partner = self._partner_from_token(partner_id, token, "preferences")
        if not partner:
            return self._invalid_link()
        rows = self._preference_rows(partner)
        saved = False
        if request.httprequest.method == "POST":
            changes = 0
            for channel, purpose, state in rows:
                answer = post.get(f"choice_{channel.id}_{purpose.id}")
                if answer not in ("granted", "refused") or answer == state:
                    continue
                partner.consent_record(
                    channel.code,
                    answer,
                    purpose.code,
                    source="preference_centre",
                    origin="preference centre",
                    **self._proof(),
                )
                changes += 1
            _logger.info(
                "Preference centre: %s changes for partner %s", changes, partner.id
            )
            rows = self._preference_rows(partner)
            saved = True
        return request.render(
            "crm_consent.consent_page_preferences",
            {"partner": partner, "rows": rows, "saved": saved, "token": token},
        )

    # ------------------------------------------------------------------
    # Double opt-in
    # ------------------------------------------------------------------

    @http.route(
        "/consent/confirm/<int:event_id>/<string:token>",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        sitemap=False,
    )
    def confirm(self, event_id, token, **post):
        """Confirm a double opt-in request.

        GET only shows a button, because mail scanners follow links: the
        grant is recorded by the POST that the customer's click sends.
        """
        if (
            not request.env["crm.consent.token"]
            .sudo()
            ._verify(token, "confirm", [event_id])
        ):
            return self._invalid_link()
        event = request.env["crm.consent.event"].sudo().browse(event_id).exists()
        if not event:
            return self._invalid_link()
        request.update_context(lang=event.partner_id.lang or request.env.lang)
        result = None
        if request.httprequest.method == "POST":
            result = event._confirm_double_opt_in(**self._proof())
        return request.render(
            "crm_consent.consent_page_confirm",
            {"event": event, "result": result, "token": token},
        )

    # ------------------------------------------------------------------
    # One-click unsubscribe (RFC 8058)
    # ------------------------------------------------------------------

    @http.route(
        "/consent/unsubscribe/<int:partner_id>/<string:channel_code>/"
        "<string:purpose_code>/<string:token>",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
        sitemap=False,
    )
    def unsubscribe(self, partner_id, channel_code, purpose_code, token, **post):
        """Record a refusal from a List-Unsubscribe header or the page's button.

        A POST whose body is ``List-Unsubscribe=One-Click`` (RFC 8058)
        refuses at once and returns 200 with a short text, without redirect
        or session. Any other POST body is rejected with 400. A GET shows a
        page whose button sends that same POST.
        """
        partner = self._partner_from_token(
            partner_id, token, "unsubscribe", (channel_code, purpose_code)
        )
        if request.httprequest.method == "GET":
            if not partner:
                return self._invalid_link()
            return request.render(
                "crm_consent.consent_page_unsubscribe",
                {
                    "partner": partner,
                    "channel_code": channel_code,
                    "purpose_code": purpose_code,
                },
            )
        if post.get("List-Unsubscribe") != ONE_CLICK_BODY:
            return self._text_response(
                "Expected the body List-Unsubscribe=One-Click.", status=400
            )
        consent = request.env["crm.consent"].sudo()
        known_codes = partner and (
            consent.env["crm.consent.channel"].search_count(
                [("code", "=", channel_code)]
            )
            and consent.env["crm.consent.purpose"].search_count(
                [("code", "=", purpose_code)]
            )
        )
        if not known_codes:
            return self._text_response("Invalid or expired link.", status=404)
        # A replayed request (a mail client retrying, a user clicking twice)
        # finds the refusal already in force and adds no duplicate event.
        if partner.consent_get(channel_code, purpose_code)[0]["state"] != "refused":
            partner.consent_record(
                channel_code,
                "refused",
                purpose_code,
                source="unsubscribe",
                proof="RFC 8058 one-click unsubscribe",
                legal_basis=False,
                origin="List-Unsubscribe header",
                **self._proof(),
            )
        return self._text_response("Unsubscribed.", status=200)
