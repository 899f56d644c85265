from odoo import api, fields, models
from odoo.tools import SQL

from ..tools import normalize_phone

# (field name, channel code) of the "may be contacted for marketing" filters.
MARKETING_FILTERS = {
    "may_email_marketing": "email",
    "may_phone_marketing": "phone",
    "may_sms_marketing": "sms",
    "may_postal_marketing": "postal",
    "may_whatsapp_marketing": "whatsapp",
}


class ResPartner(models.Model):
    _inherit = "res.partner"

    consent_ids = fields.One2many("crm.consent", "partner_id", string="Consents")
    consent_event_count = fields.Integer(
        compute="_compute_consent_event_count",
        groups="crm_consent.group_marketing_user",
    )
    phone_e164 = fields.Char(
        string="Phone (E.164)",
        compute="_compute_phone_e164",
        store=True,
        index="btree_not_null",
        help="Phone number in international E.164 form, read with the partner's "
        "country, then the company's.",
    )
    mobile_e164 = fields.Char(
        string="Mobile (E.164)",
        compute="_compute_phone_e164",
        store=True,
        index="btree_not_null",
    )
    may_email_marketing = fields.Boolean(
        string="May be e-mailed for marketing",
        compute="_compute_may_marketing",
        search="_search_may_email_marketing",
    )
    may_phone_marketing = fields.Boolean(
        string="May be called for marketing",
        compute="_compute_may_marketing",
        search="_search_may_phone_marketing",
    )
    may_sms_marketing = fields.Boolean(
        string="May receive marketing SMS",
        compute="_compute_may_marketing",
        search="_search_may_sms_marketing",
    )
    may_postal_marketing = fields.Boolean(
        string="May receive marketing letters",
        compute="_compute_may_marketing",
        search="_search_may_postal_marketing",
    )
    may_whatsapp_marketing = fields.Boolean(
        string="May receive marketing WhatsApp messages",
        compute="_compute_may_marketing",
        search="_search_may_whatsapp_marketing",
    )

    @api.depends("phone", "mobile", "country_id")
    def _compute_phone_e164(self):
        fallback = self.env.company.country_id.code
        for partner in self:
            country = partner.country_id.code
            partner.phone_e164 = normalize_phone(partner.phone, country, fallback)
            partner.mobile_e164 = normalize_phone(partner.mobile, country, fallback)

    def _compute_consent_event_count(self):
        counts = dict(
            self.env["crm.consent.event"]._read_group(
                [("partner_id", "in", self.ids)], ["partner_id"], ["__count"]
            )
        )
        for partner in self:
            partner.consent_event_count = counts.get(partner._origin, 0)

    def _compute_may_marketing(self):
        consent = self.env["crm.consent"].sudo()
        for field_name, channel_code in MARKETING_FILTERS.items():
            if (
                not self.env["crm.consent.channel"]
                .sudo()
                .search_count([("code", "=", channel_code)])
            ):
                self[field_name] = False
                continue
            allowed = set(consent._filter_contactable(self._origin.ids, channel_code))
            for partner in self:
                partner[field_name] = partner._origin.id in allowed

    def _search_may_marketing(self, channel_code, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise NotImplementedError(
                self.env._(
                    "Operation not supported: %(operator)s %(value)r",
                    operator=operator,
                    value=value,
                )
            )
        consent = self.env["crm.consent"].sudo()
        channel = consent._get_channel(channel_code)
        purpose = consent._get_purpose("marketing")
        self.flush_model(
            ["active", "email_normalized", "phone_e164", "mobile_e164", "street"]
        )
        consent.flush_model()
        self.env["mail.blacklist"].flush_model(["email", "active"])
        self.env["phone.blacklist"].flush_model(["number", "active"])
        query = consent._contactable_query(channel, purpose)
        positive = (operator == "=") == value
        return [("id", "in" if positive else "not in", SQL("(%s)", query))]

    def _search_may_email_marketing(self, operator, value):
        return self._search_may_marketing("email", operator, value)

    def _search_may_phone_marketing(self, operator, value):
        return self._search_may_marketing("phone", operator, value)

    def _search_may_sms_marketing(self, operator, value):
        return self._search_may_marketing("sms", operator, value)

    def _search_may_postal_marketing(self, operator, value):
        return self._search_may_marketing("postal", operator, value)

    def _search_may_whatsapp_marketing(self, operator, value):
        return self._search_may_marketing("whatsapp", operator, value)

    # ------------------------------------------------------------------
    # Public API (XML-RPC contract)
    # ------------------------------------------------------------------

    def consent_record(
        self,
        channel_code,
        state,
        purpose_code="marketing",
        source="api",
        proof=False,
        legal_basis="consent",
        date=False,
        expiry_date=False,
    ):
        """Record a consent change of these partners for one channel and purpose.

        :param str channel_code: ``email``, ``phone``, ``sms``, ``postal``,
            ``whatsapp`` or the code of a channel added by a manager
        :param str state: ``granted``, ``refused`` or ``pending``
        :param str purpose_code: code of the purpose, ``marketing`` by default
        :param str source: where the change comes from (``api``, ``form``,
            ``import``, ``blacklist``, ...)
        :param str proof: evidence kept with the event, such as the form or
            the message in which the customer answered
        :param str legal_basis: GDPR article 6 basis, ``consent`` by default
        :param date: when the customer decided (UTC); now by default. An older
            date adds history without overriding a newer current state.
        :param expiry_date: day after which a grant no longer allows contact
        :returns: True

        One event is appended per partner, in a single SQL statement for the
        whole recordset. Refusing or granting the marketing purpose by e-mail
        or SMS also adds or lifts the address in Odoo's blacklists.
        """
        consent = self.env["crm.consent"]
        consent._record(
            self,
            consent._get_channel(channel_code),
            consent._get_purpose(purpose_code),
            state,
            source=source,
            proof=proof,
            legal_basis=legal_basis,
            date=date,
            expiry_date=expiry_date,
        )
        return True

    def consent_get(self, channel_code, purpose_code="marketing", at=False):
        """Return the consent state of these partners for a channel and purpose.

        :param at: a UTC datetime to read the state as it stood then, from the
            ledger; the current state by default
        :returns: a list of ``{'partner_id': id, 'state': state}`` in the order
            of the recordset, where ``state`` is False for a partner never asked
        """
        consent = self.env["crm.consent"]
        channel = consent._get_channel(channel_code)
        purpose = consent._get_purpose(purpose_code)
        if at:
            at = fields.Datetime.to_datetime(at)
            events = self.env["crm.consent.event"].search(
                [
                    ("partner_id", "in", self.ids),
                    ("channel_id", "=", channel.id),
                    ("purpose_id", "=", purpose.id),
                    ("date", "<=", at),
                ],
                order="date desc, id desc",
            )
            states = {}
            for event in events:
                states.setdefault(event.partner_id.id, event.state)
        else:
            states = {
                record.partner_id.id: record.state
                for record in consent.search(
                    [
                        ("partner_id", "in", self.ids),
                        ("channel_id", "=", channel.id),
                        ("purpose_id", "=", purpose.id),
                    ]
                )
            }
        return [
            {"partner_id": partner.id, "state": states.get(partner.id, False)}
            for partner in self
        ]

    def consent_filter_contactable(
        self, channel_code, purpose_code="marketing", at=False
    ):
        """Return the ids of these partners that may be contacted.

        The contact gate of the suite: one SQL query for the whole recordset,
        checking the partner's consent for the channel and purpose (granted
        and not expired, or never refused for an opt-out purpose), the
        contact detail the channel needs and, for marketing, the blacklists.
        With ``at``, consent is read as it stood at that UTC datetime.
        """
        return self.env["crm.consent"]._filter_contactable(
            self.ids, channel_code, purpose_code, at=at
        )

    def action_view_consent_events(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_consent.crm_consent_event_action"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"default_partner_id": self.id}
        return action
