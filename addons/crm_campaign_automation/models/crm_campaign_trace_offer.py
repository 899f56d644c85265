import logging
import re
from datetime import date
from urllib.parse import quote as url_quote

from markupsafe import Markup

from odoo import fields, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

OFFER_ACCEPTED_VIA = [
    ("web", "Web offer page"),
    ("sale_order", "Code on a sale order"),
    ("call", "Call outcome"),
]

# Scope signed into the offer page tokens, so that a consent link token can
# never open an offer page, nor the reverse.
TOKEN_SCOPE = "campaign_offer"
TRACE_ID_PATTERN = re.compile(r"[1-9][0-9]{0,17}")

# Validity of an offer page link whose offer has no end date, or of a web step
# without an offer, in days from the execution of the step.
WEB_LINK_VALIDITY_DAYS = 90

# Placeholders replaced in the rendered body of campaign e-mails. Link
# tracking skips the offer page URL, which is personal and signed.
PLACEHOLDER_CODE = "[[offer_code]]"
PLACEHOLDER_URL = "[[offer_url]]"
QUOTED_PREFIX = url_quote("[[offer_", safe="")


class CrmCampaignTrace(models.Model):
    """Offer and web page side of the traces: the code a partner got, the
    signed link to the offer page and the acceptance of the offer."""

    _inherit = "crm.campaign.trace"

    offer_id = fields.Many2one(
        "crm.campaign.offer",
        index="btree_not_null",
        ondelete="restrict",
        readonly=True,
        help="Offer the step carried when it ran for this partner.",
    )
    offer_code_kind = fields.Selection(related="offer_id.code_kind", store=True)
    offer_code = fields.Char(
        index=True,
        readonly=True,
        copy=False,
        help="Code the partner got: the shared code of the offer or a code "
        "generated for this trace.",
    )
    offer_url = fields.Char(
        string="Offer Page Link",
        readonly=True,
        copy=False,
        help="Signed link to the partner's web offer page; anyone with the link "
        "can open the page, so share it only with the partner.",
    )
    offer_accepted_at = fields.Datetime(
        readonly=True, copy=False, index="btree_not_null"
    )
    offer_accepted_via = fields.Selection(OFFER_ACCEPTED_VIA, readonly=True, copy=False)
    offer_order_id = fields.Many2one(
        "sale.order",
        string="Order of the Offer",
        readonly=True,
        copy=False,
        ondelete="set null",
        help="Confirmed sale order on which the partner used the offer code.",
    )

    def init(self):
        result = super().init()
        # Generated codes identify one trace; shared codes repeat by design.
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS crm_campaign_trace_offer_code_unique
                ON crm_campaign_trace (offer_code)
             WHERE offer_code_kind = 'unique'
            """
        )
        return result

    # ------------------------------------------------------------------
    # Issuing codes and links
    # ------------------------------------------------------------------

    def _issue_offers(self, step):
        """Give these traces of ``step`` their offer code and offer page link.

        Steps with an offer and web steps get a link; steps with an offer get a
        code. Traces that already have a link keep it, so a retried step does
        not issue a second code.
        """
        if not step.offer_id and step.kind != "web":
            return
        traces = self.filtered(lambda trace: not trace.offer_url)
        if not traces:
            return
        offer = step.offer_id
        codes = offer._generate_codes(len(traces)) if offer else [False] * len(traces)
        validity_days = self._offer_link_validity_days(offer)
        base_url = self.browse().get_base_url()
        token_model = self.env["crm.consent.token"].sudo()
        for trace, code in zip(traces, codes, strict=True):
            signed = token_model._sign(TOKEN_SCOPE, [trace.id], validity_days)
            trace.write(
                {
                    "offer_id": offer.id,
                    "offer_code": code,
                    "offer_url": f"{base_url}/campaign/offer/{trace.id}.{signed}",
                }
            )

    def _offer_link_validity_days(self, offer):
        if not offer or not offer.date_end:
            return WEB_LINK_VALIDITY_DAYS
        # The token stays valid until the end of the offer's last day; the
        # page checks the offer dates again when it is opened.
        return max((offer.date_end - date.today()).days + 1, 1)

    def _get_offer_placeholders(self):
        """Return ``{trace id: (code, url)}`` for the e-mail placeholders.

        A trace with its own offer link uses it. Otherwise the placeholders
        take the code and link of the participant's latest executed trace
        that has a link, such as an earlier web step of the same campaign.
        """
        own = {trace.id: (trace.offer_code, trace.offer_url) for trace in self}
        missing = self.filtered(lambda trace: not trace.offer_url)
        if missing:
            earlier = self.search(
                [
                    ("participant_id", "in", missing.participant_id.ids),
                    ("offer_url", "!=", False),
                    ("state", "=", "done"),
                ],
                order="executed_at desc, id desc",
            )
            latest = {}
            for trace in earlier:
                latest.setdefault(trace.participant_id.id, trace)
            for trace in missing:
                source = latest.get(trace.participant_id.id)
                if source:
                    own[trace.id] = (source.offer_code, source.offer_url)
        return own

    def _replace_offer_placeholders(self, body, code, url):
        if "[[offer_" not in body and QUOTED_PREFIX not in body:
            return body
        # QWeb rendering percent-encodes the brackets of a placeholder used as
        # a link target, so both spellings are replaced.
        replacements = (
            (PLACEHOLDER_CODE, code or ""),
            (PLACEHOLDER_URL, url or ""),
            (url_quote(PLACEHOLDER_CODE, safe=""), code or ""),
            (url_quote(PLACEHOLDER_URL, safe=""), url or ""),
        )
        for placeholder, value in replacements:
            body = body.replace(placeholder, value)
        return body

    def _execute_call(self, step):
        """Add the partner's offer code and page link to the call activity,
        so that the caller can propose the offer and record its outcome."""
        result = super()._execute_call(step)
        if not step.offer_id:
            return result
        for trace in self.filtered("activity_id"):
            offer_line = Markup("<p>%s</p>") % trace.with_context(
                lang=trace.activity_id.user_id.lang or self.env.lang
            ).env._(
                "Offer %(offer)s: code %(code)s, page %(url)s",
                offer=step.offer_id.name,
                code=trace.offer_code or "-",
                url=trace.offer_url,
            )
            trace.activity_id.note = (trace.activity_id.note or Markup()) + offer_line
        return result

    # ------------------------------------------------------------------
    # Offer page tokens
    # ------------------------------------------------------------------

    def _from_offer_token(self, token):
        """Return the trace a signed offer page token opens, or an empty recordset.

        The token is ``<trace id>.<expiry>.<signature>``. It opens nothing when
        it is malformed, tampered with or expired, when the trace is gone or
        not executed, or when its offer is archived or past its end date, so
        the caller can respond to every failure the same way.
        """
        empty = self.browse()
        trace_text, _sep, signed = (token or "").partition(".")
        # ASCII digits without a leading zero, as the link was signed:
        # str.isdigit() also accepts "²", which int() rejects.
        if not TRACE_ID_PATTERN.fullmatch(trace_text):
            return empty
        trace_id = int(trace_text)
        token_model = self.env["crm.consent.token"].sudo()
        if not token_model._verify(signed, TOKEN_SCOPE, [trace_id]):
            return empty
        trace = self.sudo().browse(trace_id).exists()
        if not trace or trace.state != "done" or not trace.offer_url:
            return empty
        offer = trace.offer_id
        if offer and not offer._is_valid_on(fields.Date.context_today(trace)):
            return empty
        return trace

    # ------------------------------------------------------------------
    # Acceptance
    # ------------------------------------------------------------------

    def _accept_offer(self, via, order=None):
        """Record the acceptance of the offer of these traces, once each.

        Traces already accepted keep their first acceptance, so replaying an
        acceptance changes nothing. Returns the traces accepted now.
        """
        pending = self.filtered(
            lambda trace: trace.offer_id and not trace.offer_accepted_at
        )
        if not pending:
            return pending
        pending.write(
            {
                "offer_accepted_at": fields.Datetime.now(),
                "offer_accepted_via": via,
                "offer_order_id": order.id if order else False,
            }
        )
        _logger.info("Campaign offer accepted via %s on %s traces", via, len(pending))
        return pending

    def action_accept_offer_call(self):
        """Record that the partner accepted the offer during a call."""
        self._accept_offer("call")
        return True

    def _find_by_offer_code(self, code, partner, company):
        """Return ``(offer, trace)`` for a code typed on a sale order.

        A unique code returns its trace. A shared code returns its offer and
        the latest executed trace of ``partner``'s company that got it and has
        not accepted it yet, or an empty trace when there is none. Unknown
        codes return two empty recordsets.
        """
        code = (code or "").strip()
        traces = self.sudo()
        offers = self.env["crm.campaign.offer"].sudo()
        if not code:
            return offers, traces
        self.flush_model(["offer_code", "offer_code_kind", "company_id"])
        rows = self.env.execute_query(
            SQL(
                """
                SELECT id FROM crm_campaign_trace
                 WHERE upper(offer_code) = upper(%s)
                   AND offer_code_kind = 'unique'
                   AND company_id = %s
                 LIMIT 1
                """,
                code,
                company.id,
            )
        )
        if rows:
            trace = traces.browse(rows[0][0])
            return trace.offer_id, trace
        offer = offers._search_shared_code(code, company)[:1]
        if not offer:
            return offers, traces
        trace = traces.search(
            [
                ("offer_id", "=", offer.id),
                ("partner_id", "child_of", partner.commercial_partner_id.id),
                ("state", "=", "done"),
                ("offer_accepted_at", "=", False),
            ],
            order="executed_at desc, id desc",
            limit=1,
        )
        return offer, trace
