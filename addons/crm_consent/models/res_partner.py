from odoo import api, fields, models
from odoo.exceptions import UserError
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
        double_opt_in=False,
        ip_address=False,
        user_agent=False,
        origin=False,
        consent_text_id=False,
    ):
        """Record a consent change of these partners for one channel and purpose.

        :param str channel_code: ``email``, ``phone``, ``sms``, ``postal``,
            ``whatsapp`` or the code of a channel added by a manager
        :param str state: ``granted``, ``refused`` or ``pending``
        :param str purpose_code: code of the purpose, ``marketing`` by default
        :param str source: where the change comes from (``api``, ``form``,
            ``import``, ``blacklist``, ...)
        :param str proof: evidence kept with the event, such as the form or
            the message in which the customer replied
        :param str legal_basis: GDPR article 6 basis, ``consent`` by default
        :param date: when the customer decided (UTC); now by default. An older
            date adds history without overriding a newer current state.
        :param expiry_date: day after which a grant no longer allows contact
        :param bool double_opt_in: with ``state='granted'`` on the e-mail
            channel, record ``pending`` and e-mail each partner a link that
            confirms the grant
        :param str ip_address: IP address the customer's request came from
        :param str user_agent: browser the customer answered with
        :param str origin: form, page or channel where the customer answered
        :param int consent_text_id: ``crm.consent.text`` shown to the customer;
            the current text of the purpose and channel by default
        :returns: True

        One event is appended per partner, in a single SQL statement for the
        whole recordset. Refusing or granting the marketing purpose by e-mail
        or SMS also adds or lifts the address in Odoo's blacklists.
        """
        consent = self.env["crm.consent"]
        channel = consent._get_channel(channel_code)
        purpose = consent._get_purpose(purpose_code)
        if consent_text_id:
            consent_text = self.env["crm.consent.text"].browse(consent_text_id).exists()
            if not consent_text:
                raise UserError(
                    self.env._(
                        "Consent text %(id)s does not exist.", id=consent_text_id
                    )
                )
        else:
            consent_text = (
                self.env["crm.consent.text"].sudo()._get_current(purpose, channel)
            )
        if double_opt_in and state == "granted":
            if channel.code != "email":
                raise UserError(
                    self.env._(
                        "Double opt-in confirms by e-mail, so it needs the 'email' "
                        "channel, not %(code)r.",
                        code=channel.code,
                    )
                )
            state = "pending"
        else:
            double_opt_in = False
        recorded_ids = consent._record(
            self,
            channel,
            purpose,
            state,
            source=source,
            proof=proof,
            legal_basis=legal_basis,
            date=date,
            expiry_date=expiry_date,
            ip_address=ip_address,
            user_agent=user_agent,
            origin=origin,
            consent_text=consent_text,
        )
        if double_opt_in and recorded_ids:
            events = (
                self.env["crm.consent.event"]
                .sudo()
                .search(
                    [
                        ("partner_id", "in", recorded_ids),
                        ("channel_id", "=", channel.id),
                        ("purpose_id", "=", purpose.id),
                        ("state", "=", "pending"),
                    ],
                    order="id desc",
                    limit=len(recorded_ids),
                )
            )
            events._send_double_opt_in_request()
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

        This is the contact gate of the suite, one SQL query for the whole
        recordset. It checks the partner's consent for the channel and
        purpose, the contact detail the channel needs and, for marketing, the
        blacklists. A grant must not be expired. A partner never asked passes
        only under an opt-out regime. With ``at``, consent is read as it
        stood at that UTC datetime.
        """
        return self.env["crm.consent"]._filter_contactable(
            self.ids, channel_code, purpose_code, at=at
        )

    def consent_preference_url(self):
        """Return the absolute URL of this partner's preference centre.

        The link needs no login: it carries a token signed for this partner
        that expires after the days set in the consent settings.
        """
        self.ensure_one()
        token = self.env["crm.consent.token"]._sign(
            "preferences", [self.id], self._consent_link_validity_days()
        )
        return f"{self.get_base_url()}/consent/preferences/{self.id}/{token}"

    def consent_export(self, export_format="json"):
        """Return the whole consent history of these partners, with proofs.

        :param str export_format: ``json`` for a list of dicts (one per event,
            oldest first) or ``csv`` for the same rows as CSV text
        """
        rows = self.env["crm.consent.event"]._export_rows(self)
        if export_format == "json":
            return rows
        if export_format == "csv":
            return self.env["crm.consent.event"]._rows_to_csv(rows)
        raise UserError(
            self.env._(
                "Unknown export format %(format)r. Use 'json' or 'csv'.",
                format=export_format,
            )
        )

    def _consent_link_validity_days(self):
        return int(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("crm_consent.link_validity_days", 365)
        )

    def consent_unsubscribe_url(self, channel_code="email", purpose_code="marketing"):
        """Return the one-click unsubscribe URL of this partner (RFC 8058).

        A POST of ``List-Unsubscribe=One-Click`` to it refuses the channel for
        the purpose; a GET shows a page with a button that does the same.
        Integrators that send e-mail through their own service put it in the
        ``List-Unsubscribe`` header.
        """
        self.ensure_one()
        token = self.env["crm.consent.token"]._sign(
            "unsubscribe",
            [self.id, channel_code, purpose_code],
            self._consent_link_validity_days(),
        )
        return (
            f"{self.get_base_url()}/consent/unsubscribe/{self.id}/"
            f"{channel_code}/{purpose_code}/{token}"
        )

    def _consent_list_unsubscribe_headers(self, purpose_code="marketing"):
        """Return the List-Unsubscribe headers for a marketing e-mail to this partner.

        ``List-Unsubscribe`` carries the suite's one-click URL and, when the
        ``unsubscribe`` alias has a domain, a mailto that the mail gateway
        turns into a refusal. ``List-Unsubscribe-Post``
        informs mail clients that a POST to the URL unsubscribes at once.
        """
        self.ensure_one()
        targets = [f"<{self.consent_unsubscribe_url('email', purpose_code)}>"]
        alias = self.env.ref(
            "crm_consent.mail_alias_unsubscribe", raise_if_not_found=False
        )
        if (
            alias
            and alias.sudo().alias_full_name
            and "@" in alias.sudo().alias_full_name
        ):
            targets.append(
                f"<mailto:{alias.sudo().alias_full_name}?subject=unsubscribe%20{purpose_code}>"
            )
        return {
            "List-Unsubscribe": ", ".join(targets),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }

    def _consent_grant_soft_opt_in(self, proof=False):
        """Grant marketing e-mail to customers where the soft opt-in regime applies.

        Called when these partners buy. The grant goes only to partners never
        asked about marketing e-mail whose country has the soft opt-in regime
        for e-mail. It is recorded on legitimate interest with source
        ``purchase``, and the customer can refuse it with one click like any
        grant.
        """
        consent = self.env["crm.consent"].sudo()
        channel = consent._get_channel("email")
        purpose = consent._get_purpose("marketing")
        regimes = (
            self.env["crm.consent.regime"]
            .sudo()
            .search([("channel_id", "=", channel.id), ("regime", "=", "soft_opt_in")])
        )
        eligible = self.filtered(
            lambda partner: any(
                regime.country_id == partner.country_id
                and regime.company_id == (partner.company_id or self.env.company)
                for regime in regimes
            )
        )
        if eligible:
            consent._record(
                eligible,
                channel,
                purpose,
                "granted",
                source="purchase",
                legal_basis="legitimate_interests",
                proof=proof or False,
                only_current_states=[None],
            )

    @api.model_create_multi
    def create(self, vals_list):
        partners = super().create(vals_list)
        partners._consent_apply_suppression()
        return partners

    def write(self, vals):
        result = super().write(vals)
        if {"email", "phone", "mobile", "country_id"} & set(vals):
            self._consent_apply_suppression()
        return result

    @api.model
    def _consent_apply_suppression(self, suppression_lists=None):
        """Refuse the channel of every suppression list that lists these partners.

        Called on a recordset, it checks those partners against every active
        list. Called with ``suppression_lists`` on an empty recordset, it
        checks every partner against those lists. One SQL query finds the
        matches by comparing SHA-256 digests of the normalised addresses.
        Returns the partners that matched.
        """
        List = self.env["crm.consent.suppression.list"].sudo()
        if suppression_lists is None:
            suppression_lists = List.search([])
        if not suppression_lists:
            return self.browse()
        self.flush_model(["email_normalized", "phone_e164", "mobile_e164"])
        self.env["crm.consent.suppression.entry"].flush_model()
        partner_filter = SQL("AND partner.id = ANY(%s)", self.ids) if self else SQL()
        rows = self.env.execute_query(
            SQL(
                """
                WITH partner_digest AS (
                    SELECT partner.id AS partner_id, 'email' AS kind,
                           encode(sha256(convert_to(partner.email_normalized, 'UTF8')), 'hex') AS digest
                      FROM res_partner partner
                     WHERE partner.email_normalized IS NOT NULL %(partner_filter)s
                 UNION ALL
                    SELECT partner.id, 'phone',
                           encode(sha256(convert_to(partner.phone_e164, 'UTF8')), 'hex')
                      FROM res_partner partner
                     WHERE partner.phone_e164 IS NOT NULL %(partner_filter)s
                 UNION ALL
                    SELECT partner.id, 'phone',
                           encode(sha256(convert_to(partner.mobile_e164, 'UTF8')), 'hex')
                      FROM res_partner partner
                     WHERE partner.mobile_e164 IS NOT NULL %(partner_filter)s
                )
                SELECT DISTINCT list.id, partner_digest.partner_id
                  FROM partner_digest
                  JOIN crm_consent_suppression_entry entry
                    ON entry.digest = partner_digest.digest
                  JOIN crm_consent_suppression_list list ON list.id = entry.list_id
                  JOIN crm_consent_channel channel ON channel.id = list.channel_id
                 WHERE list.id = ANY(%(list_ids)s)
                   AND partner_digest.kind = CASE
                           WHEN channel.address_type = 'email' THEN 'email' ELSE 'phone'
                       END
                """,
                list_ids=suppression_lists.ids,
                partner_filter=partner_filter,
            )
        )
        if not rows:
            return self.browse()
        partners_by_list = {}
        for list_id, partner_id in rows:
            partners_by_list.setdefault(list_id, []).append(partner_id)
        consent = (
            self.env["crm.consent"]
            .sudo()
            .with_context(crm_consent_skip_blacklist_sync=True)
        )
        purposes = (
            self.env["crm.consent.purpose"]
            .sudo()
            .search([("is_transactional", "=", False)])
        )
        matched = self.browse()
        for suppression_list in List.browse(list(partners_by_list)):
            partners = self.browse(partners_by_list[suppression_list.id])
            matched |= partners
            for purpose in purposes:
                consent._record(
                    partners,
                    suppression_list.channel_id,
                    purpose,
                    "refused",
                    source="suppression_list",
                    legal_basis=False,
                    proof=self.env._(
                        "Listed in suppression list %(name)s",
                        name=suppression_list.name,
                    ),
                    only_current_states=[None, "granted", "pending"],
                )
        return matched

    def action_view_consent_events(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_consent.crm_consent_event_action"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"default_partner_id": self.id}
        return action
