from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools.sql import create_index

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
