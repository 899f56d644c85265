import csv
import io
import logging

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import html2plaintext
from odoo.tools.sql import create_index

_logger = logging.getLogger(__name__)

EXPORT_COLUMNS = [
    "event_id",
    "partner_id",
    "partner_name",
    "channel",
    "purpose",
    "previous_state",
    "state",
    "date",
    "recorded_at",
    "source",
    "legal_basis",
    "proof",
    "ip_address",
    "user_agent",
    "origin",
    "consent_text_version",
    "consent_text",
    "recorded_by",
    "expiry_date",
]

CONSENT_STATES = [
    ("granted", "Granted"),
    ("refused", "Refused"),
    ("pending", "Pending"),
]

CONSENT_SOURCES = [
    ("api", "API"),
    ("form", "Back-office form"),
    ("import", "Import"),
    ("blacklist", "Blacklist"),
    ("preference_centre", "Preference centre"),
    ("double_opt_in", "Double opt-in"),
    ("unsubscribe", "Unsubscribe link"),
    ("suppression_list", "Suppression list"),
    ("purchase", "Purchase"),
    ("campaign", "Campaign"),
    ("expiry", "Expiry"),
]

LEGAL_BASES = [
    ("consent", "Consent"),
    ("contract", "Contract"),
    ("legal_obligation", "Legal obligation"),
    ("vital_interests", "Vital interests"),
    ("public_task", "Public task"),
    ("legitimate_interests", "Legitimate interests"),
]


class CrmConsentEvent(models.Model):
    """One change of a partner's consent for a channel and a purpose.

    The table is an append-only ledger. Rows are inserted by
    ``crm.consent._record_events`` only, and the ORM rejects every write and
    delete, for administrators too, so the ledger can serve as proof.
    """

    _name = "crm.consent.event"
    _description = "Consent Event"
    _order = "date desc, id desc"
    _rec_name = "partner_id"

    partner_id = fields.Many2one(
        "res.partner", required=True, readonly=True, index=True, ondelete="restrict"
    )
    channel_id = fields.Many2one(
        "crm.consent.channel", required=True, readonly=True, ondelete="restrict"
    )
    purpose_id = fields.Many2one(
        "crm.consent.purpose", required=True, readonly=True, ondelete="restrict"
    )
    previous_state = fields.Selection(
        CONSENT_STATES,
        readonly=True,
        help="State in force just before this event; empty when the partner had never "
        "been asked.",
    )
    state = fields.Selection(CONSENT_STATES, required=True, readonly=True)
    source = fields.Selection(CONSENT_SOURCES, required=True, readonly=True)
    legal_basis = fields.Selection(LEGAL_BASES, readonly=True)
    proof = fields.Text(
        readonly=True,
        help="Evidence of the change: the form, message or document it came from.",
    )
    user_id = fields.Many2one(
        "res.users", string="Recorded by", readonly=True, ondelete="restrict"
    )
    date = fields.Datetime(
        required=True,
        readonly=True,
        index=True,
        help="When the customer gave or withdrew the consent, in UTC. It may precede "
        "the recording date for imported history.",
    )
    expiry_date = fields.Date(readonly=True)
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    ip_address = fields.Char(string="IP address", readonly=True)
    user_agent = fields.Char(readonly=True)
    origin = fields.Char(
        readonly=True,
        help="Form, page or channel where the customer answered, for example "
        "'newsletter footer form' or 'preference centre'.",
    )
    consent_text_id = fields.Many2one(
        "crm.consent.text",
        string="Consent text",
        readonly=True,
        ondelete="restrict",
        help="Version of the wording the customer was shown.",
    )

    double_opt_in_url = fields.Char(
        compute="_compute_double_opt_in_url",
        groups="base.group_system",
        help="Signed link that confirms this pending grant.",
    )

    def _compute_double_opt_in_url(self):
        days = self._double_opt_in_days()
        token_model = self.env["crm.consent.token"]
        for event in self:
            if event.state != "pending" or not event.id:
                event.double_opt_in_url = False
                continue
            token = token_model._sign("confirm", [event.id], days)
            event.double_opt_in_url = (
                f"{event.partner_id.get_base_url()}/consent/confirm/{event.id}/{token}"
            )

    def _double_opt_in_days(self):
        return int(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("crm_consent.double_opt_in_days", 7)
        )

    def init(self):
        # The gate's history queries read the latest event per partner, channel
        # and purpose at a given date.
        create_index(
            self.env.cr,
            "crm_consent_event_history_idx",
            self._table,
            ["partner_id", "channel_id", "purpose_id", "date DESC", "id DESC"],
        )

    @api.model_create_multi
    def create(self, vals_list):
        if vals_list:
            raise UserError(
                self.env._(
                    "Consent events cannot be created directly. Record consent with "
                    "res.partner.consent_record() or on the partner form."
                )
            )
        return super().create(vals_list)

    def write(self, vals):
        if vals:
            raise UserError(
                self.env._(
                    "Consent events are an append-only ledger and cannot be modified. "
                    "Record a new consent change instead."
                )
            )
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_ledger(self):
        raise UserError(
            self.env._(
                "Consent events are an append-only ledger and cannot be deleted."
            )
        )

    # ------------------------------------------------------------------
    # Double opt-in
    # ------------------------------------------------------------------

    def _send_double_opt_in_request(self):
        """E-mail each pending event's partner the link that confirms it."""
        template = self.env.ref(
            "crm_consent.mail_template_double_opt_in", raise_if_not_found=False
        )
        events = self.filtered(lambda event: event.partner_id.email_normalized)
        if not template or not events:
            return
        template.sudo().send_mail_batch(events.ids)
        _logger.info("Sent %s double opt-in requests", len(events))

    def _confirm_double_opt_in(self, ip_address=False, user_agent=False):
        """Turn this pending event into a grant, with the confirmation as proof.

        Returns ``confirmed`` when the grant was recorded, ``already`` when
        the partner already confirmed, and ``outdated`` when a later choice
        replaced the request.
        """
        self.ensure_one()
        consent = self.env["crm.consent"].search(
            [
                ("partner_id", "=", self.partner_id.id),
                ("channel_id", "=", self.channel_id.id),
                ("purpose_id", "=", self.purpose_id.id),
            ]
        )
        if consent.state == "granted" and consent.source == "double_opt_in":
            return "already"
        if consent.state != "pending" or consent.last_event_id != self:
            return "outdated"
        self.env["crm.consent"]._record(
            self.partner_id,
            self.channel_id,
            self.purpose_id,
            "granted",
            source="double_opt_in",
            legal_basis=self.legal_basis or "consent",
            proof=self.env._(
                "Confirmed from the link e-mailed for request %(event)s of %(date)s.",
                event=self.id,
                date=fields.Datetime.to_string(self.date),
            ),
            ip_address=ip_address,
            user_agent=user_agent,
            origin=self.env._("Double opt-in confirmation e-mail"),
            consent_text=self.consent_text_id,
        )
        return "confirmed"

    # ------------------------------------------------------------------
    # Proof export
    # ------------------------------------------------------------------

    @api.model
    def _export_rows(self, partners):
        """Return every event of ``partners`` as plain dicts, oldest first."""
        events = self.search([("partner_id", "in", partners.ids)], order="date, id")
        return [
            {
                "event_id": event.id,
                "partner_id": event.partner_id.id,
                "partner_name": event.partner_id.display_name,
                "channel": event.channel_id.code,
                "purpose": event.purpose_id.code,
                "previous_state": event.previous_state or "",
                "state": event.state,
                "date": fields.Datetime.to_string(event.date),
                "recorded_at": fields.Datetime.to_string(event.create_date),
                "source": event.source,
                "legal_basis": event.legal_basis or "",
                "proof": event.proof or "",
                "ip_address": event.ip_address or "",
                "user_agent": event.user_agent or "",
                "origin": event.origin or "",
                "consent_text_version": event.consent_text_id.version or "",
                "consent_text": html2plaintext(event.consent_text_id.body or ""),
                "recorded_by": event.user_id.name or "",
                "expiry_date": fields.Date.to_string(event.expiry_date) or "",
            }
            for event in events
        ]

    @api.model
    def _rows_to_csv(self, rows):
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue()
