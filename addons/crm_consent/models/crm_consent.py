import logging
import time

from odoo import api, fields, models, modules
from odoo.exceptions import UserError
from odoo.tools import SQL

from .crm_consent_event import CONSENT_SOURCES, CONSENT_STATES, LEGAL_BASES

_logger = logging.getLogger(__name__)


class CrmConsent(models.Model):
    """Current consent state of one partner for one channel and one purpose.

    Each row is the latest event of the ledger for its key. Rows are written
    by ``_record`` only, which appends the event at the same time, so the
    state and the ledger never disagree. A partner who was never asked has no
    row: "not asked" is neither granted nor refused.
    """

    _name = "crm.consent"
    _description = "Consent"
    _order = "partner_id, channel_id, purpose_id"
    _rec_name = "partner_id"

    partner_id = fields.Many2one(
        "res.partner", required=True, index=True, ondelete="cascade"
    )
    channel_id = fields.Many2one(
        "crm.consent.channel", required=True, index=True, ondelete="restrict"
    )
    purpose_id = fields.Many2one(
        "crm.consent.purpose", required=True, index=True, ondelete="restrict"
    )
    state = fields.Selection(CONSENT_STATES, required=True, index=True)
    legal_basis = fields.Selection(LEGAL_BASES, default="consent")
    source = fields.Selection(CONSENT_SOURCES, default="form", readonly=True)
    date = fields.Datetime(
        readonly=True, help="When the current state was given, in UTC."
    )
    expiry_date = fields.Date(
        help="After this day a grant no longer allows contact.",
    )
    last_event_id = fields.Many2one("crm.consent.event", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    needs_repermission = fields.Boolean(
        compute="_compute_needs_repermission",
        search="_search_needs_repermission",
        help="Granted longer ago than the re-permission age of the consent "
        "settings: ask the customer to confirm it again.",
    )

    def _repermission_limit(self):
        months = int(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("crm_consent.repermission_months", 24)
        )
        return fields.Datetime.subtract(fields.Datetime.now(), months=months)

    @api.depends("state", "date")
    def _compute_needs_repermission(self):
        limit = self._repermission_limit()
        for consent in self:
            consent.needs_repermission = bool(
                consent.state == "granted" and consent.date and consent.date < limit
            )

    def _search_needs_repermission(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise NotImplementedError(
                self.env._(
                    "Operation not supported: %(operator)s %(value)r",
                    operator=operator,
                    value=value,
                )
            )
        domain = [("state", "=", "granted"), ("date", "<", self._repermission_limit())]
        if (operator == "=") != value:
            return ["!", "&", *domain]
        return domain

    _sql_constraints = [
        (
            "partner_channel_purpose_unique",
            "unique (partner_id, channel_id, purpose_id)",
            "A partner has one consent state per channel and purpose.",
        ),
    ]

    # ------------------------------------------------------------------
    # ORM entry points: every change goes through _record
    # ------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):  # pylint: disable=method-required-super
        """Record each new line of the partner form as a consent event.

        ``_record`` inserts the row and its event in SQL, so calling super()
        would insert the row a second time.
        """
        keys = []
        for vals in vals_list:
            missing = [
                name
                for name in ("partner_id", "channel_id", "purpose_id", "state")
                if not vals.get(name)
            ]
            if missing:
                raise UserError(
                    self.env._(
                        "A consent needs a value for: %(fields)s.",
                        fields=", ".join(missing),
                    )
                )
            partner = self.env["res.partner"].browse(vals["partner_id"])
            channel = self.env["crm.consent.channel"].browse(vals["channel_id"])
            purpose = self.env["crm.consent.purpose"].browse(vals["purpose_id"])
            self._record(
                partner,
                channel,
                purpose,
                vals["state"],
                source=vals.get("source") or "form",
                legal_basis=vals.get("legal_basis") or "consent",
                expiry_date=vals.get("expiry_date"),
            )
            keys.append((partner.id, channel.id, purpose.id))
        return self._browse_keys(keys)

    def write(self, vals):
        """Record a state change made on the form as a consent event."""
        if {"partner_id", "channel_id", "purpose_id"} & set(vals):
            raise UserError(
                self.env._(
                    "The partner, channel and purpose of a consent cannot change. "
                    "Record a consent for the other combination instead."
                )
            )
        changes = {
            k: v
            for k, v in vals.items()
            if k in ("state", "legal_basis", "expiry_date")
        }
        if changes:
            for consent in self:
                self._record(
                    consent.partner_id,
                    consent.channel_id,
                    consent.purpose_id,
                    changes.get("state", consent.state),
                    source="form",
                    legal_basis=changes.get("legal_basis", consent.legal_basis),
                    expiry_date=changes.get("expiry_date", consent.expiry_date),
                )
        rest = {k: v for k, v in vals.items() if k not in changes}
        return super().write(rest) if rest else True

    @api.ondelete(at_uninstall=False)
    def _unlink_except_ledger(self):
        raise UserError(
            self.env._(
                "A consent cannot be deleted because the ledger must keep explaining "
                "it. Record a refusal instead."
            )
        )

    def _browse_keys(self, keys):
        if not keys:
            return self.browse()
        self.flush_model()
        rows = self.env.execute_query(
            SQL(
                """
                SELECT id FROM crm_consent
                 WHERE (partner_id, channel_id, purpose_id) IN %s
                """,
                tuple(keys),
            )
        )
        return self.browse([row[0] for row in rows])

    # ------------------------------------------------------------------
    # Recording
    # ------------------------------------------------------------------

    @api.model
    def _get_channel(self, channel_code):
        channel = self.env["crm.consent.channel"].sudo().with_context(active_test=False)
        channel = channel.search([("code", "=", channel_code)], limit=1)
        if not channel:
            codes = self.env["crm.consent.channel"].sudo().search([]).mapped("code")
            raise UserError(
                self.env._(
                    "Unknown consent channel %(code)r. Known channels: %(codes)s.",
                    code=channel_code,
                    codes=", ".join(codes),
                )
            )
        return channel

    @api.model
    def _get_purpose(self, purpose_code):
        purpose = self.env["crm.consent.purpose"].sudo().with_context(active_test=False)
        purpose = purpose.search([("code", "=", purpose_code)], limit=1)
        if not purpose:
            codes = self.env["crm.consent.purpose"].sudo().search([]).mapped("code")
            raise UserError(
                self.env._(
                    "Unknown consent purpose %(code)r. Known purposes: %(codes)s.",
                    code=purpose_code,
                    codes=", ".join(codes),
                )
            )
        return purpose

    @api.model
    def _check_choice(self, field_label, value, choices):
        allowed = [key for key, _label in choices]
        if value not in allowed:
            raise UserError(
                self.env._(
                    "Invalid %(field)s %(value)r. Expected one of: %(allowed)s.",
                    field=field_label,
                    value=value,
                    allowed=", ".join(allowed),
                )
            )

    def _parse_event_date(self, value):
        """Return ``value`` as a datetime, or raise a UserError naming it."""
        try:
            return fields.Datetime.to_datetime(value)
        except (TypeError, ValueError) as error:
            raise UserError(
                self.env._(
                    "Invalid consent date %(value)r. Expected a UTC date and time "
                    "such as 2024-05-31 14:30:00.",
                    value=value,
                )
            ) from error

    def _parse_expiry_date(self, value):
        """Return ``value`` as a date, or raise a UserError naming it."""
        try:
            return fields.Date.to_date(value)
        except (TypeError, ValueError) as error:
            raise UserError(
                self.env._(
                    "Invalid expiry date %(value)r. Expected a date such as "
                    "2024-05-31.",
                    value=value,
                )
            ) from error

    @api.model
    def _record(
        self,
        partners,
        channel,
        purpose,
        state,
        *,
        source="api",
        proof=False,
        legal_basis="consent",
        date=False,
        expiry_date=False,
        only_current_states=None,
        ip_address=False,
        user_agent=False,
        origin=False,
        consent_text=False,
    ):
        """Append consent events for ``partners`` and update their current state.

        All partners are written by two SQL statements whatever their number:
        one inserts the events, one upserts the current states. The current
        state only moves when the new event is at least as recent as it, so
        importing old history never overrides a newer choice. With
        ``only_current_states``, a list of states where None means "never
        asked", only partners currently in one of them get an event; blacklist
        synchronisation uses it so that a repeated blacklisting does not repeat
        refusals and lifting one does not grant what was never asked.

        Then e-mail and SMS blacklists follow the marketing purpose, unless the
        context has ``crm_consent_skip_blacklist_sync``. Returns the ids of the
        partners that got an event.
        """
        self._check_choice(self.env._("consent state"), state, CONSENT_STATES)
        self._check_choice(self.env._("consent source"), source, CONSENT_SOURCES)
        if legal_basis:
            self._check_choice(self.env._("legal basis"), legal_basis, LEGAL_BASES)
        self.check_access("create")
        self.check_access("write")
        partners.check_access("read")
        if not partners:
            return []

        started = time.monotonic()
        date = self._parse_event_date(date) or fields.Datetime.now()
        expiry_date = self._parse_expiry_date(expiry_date) or None
        self.env["res.partner"].flush_model(["company_id"])
        self.flush_model()
        self.env["crm.consent.event"].flush_model()

        current_state_filter = SQL()
        if only_current_states is not None:
            current_state_filter = SQL(
                "AND (current.state = ANY(%s) OR (%s AND current.state IS NULL))",
                [s for s in only_current_states if s],
                None in only_current_states,
            )
        rows = self.env.execute_query(
            SQL(
                """
                WITH target AS (
                    SELECT partner.id AS partner_id,
                           partner.company_id,
                           CASE
                               WHEN current.id IS NULL THEN NULL
                               WHEN current.date <= %(date)s THEN current.state
                               ELSE (
                                   SELECT event.state
                                     FROM crm_consent_event event
                                    WHERE event.partner_id = partner.id
                                      AND event.channel_id = %(channel_id)s
                                      AND event.purpose_id = %(purpose_id)s
                                      AND event.date <= %(date)s
                                 ORDER BY event.date DESC, event.id DESC
                                    LIMIT 1
                               )
                           END AS previous_state
                      FROM res_partner partner
                 LEFT JOIN crm_consent current
                        ON current.partner_id = partner.id
                       AND current.channel_id = %(channel_id)s
                       AND current.purpose_id = %(purpose_id)s
                     WHERE partner.id = ANY(%(partner_ids)s)
                       %(current_state_filter)s
                ), inserted AS (
                    INSERT INTO crm_consent_event (
                        partner_id, channel_id, purpose_id, previous_state, state,
                        source, legal_basis, proof, user_id, date, expiry_date,
                        ip_address, user_agent, origin, consent_text_id,
                        company_id, create_uid, create_date, write_uid, write_date
                    )
                    SELECT target.partner_id, %(channel_id)s, %(purpose_id)s,
                           target.previous_state, %(state)s, %(source)s,
                           %(legal_basis)s, %(proof)s, %(uid)s, %(date)s,
                           %(expiry_date)s, %(ip_address)s, %(user_agent)s,
                           %(origin)s, %(consent_text_id)s, target.company_id,
                           %(uid)s, NOW() AT TIME ZONE 'UTC', %(uid)s,
                           NOW() AT TIME ZONE 'UTC'
                      FROM target
                 RETURNING id, partner_id, company_id
                ), upserted AS (
                    INSERT INTO crm_consent (
                        partner_id, channel_id, purpose_id, state, legal_basis,
                        source, date, expiry_date, last_event_id, company_id,
                        create_uid, create_date, write_uid, write_date
                    )
                    SELECT inserted.partner_id, %(channel_id)s, %(purpose_id)s,
                           %(state)s, %(legal_basis)s, %(source)s, %(date)s,
                           %(expiry_date)s, inserted.id, inserted.company_id,
                           %(uid)s, NOW() AT TIME ZONE 'UTC', %(uid)s,
                           NOW() AT TIME ZONE 'UTC'
                      FROM inserted
                    ON CONFLICT (partner_id, channel_id, purpose_id) DO UPDATE
                       SET state = EXCLUDED.state,
                           legal_basis = EXCLUDED.legal_basis,
                           source = EXCLUDED.source,
                           date = EXCLUDED.date,
                           expiry_date = EXCLUDED.expiry_date,
                           last_event_id = EXCLUDED.last_event_id,
                           write_uid = EXCLUDED.write_uid,
                           write_date = EXCLUDED.write_date
                     WHERE crm_consent.date <= EXCLUDED.date
                 RETURNING partner_id
                )
                SELECT inserted.partner_id, upserted.partner_id IS NOT NULL
                  FROM inserted
             LEFT JOIN upserted ON upserted.partner_id = inserted.partner_id
                """,
                date=date,
                channel_id=channel.id,
                purpose_id=purpose.id,
                partner_ids=partners.ids,
                current_state_filter=current_state_filter,
                state=state,
                source=source,
                legal_basis=legal_basis or None,
                proof=proof or None,
                uid=self.env.uid,
                expiry_date=expiry_date,
                ip_address=ip_address or None,
                user_agent=(user_agent or "")[:1024] or None,
                origin=origin or None,
                consent_text_id=consent_text.id if consent_text else None,
            )
        )
        self.invalidate_model()
        self.env["crm.consent.event"].invalidate_model()
        recorded_ids = [partner_id for partner_id, _current in rows]
        # Only partners whose current state took the new value move the
        # blacklists: an imported old refusal must not blacklist a customer
        # who granted consent later.
        current_ids = [partner_id for partner_id, current in rows if current]
        _logger.info(
            "Recorded %s consent events (%s/%s %s, source %s) in %.2fs",
            len(recorded_ids),
            channel.code,
            purpose.code,
            state,
            source,
            time.monotonic() - started,
        )

        if current_ids and not self.env.context.get("crm_consent_skip_blacklist_sync"):
            self._sync_blacklists(
                self.env["res.partner"].browse(current_ids), channel, purpose, state
            )
        return recorded_ids

    @api.model
    def _record_blacklist_change(self, partners, channel_code, state, reason=None):
        """Record in the ledger that the blacklist of a channel changed for ``partners``.

        A new entry refuses every purpose except transactional ones, for
        partners not already refusing it. A lifted entry grants marketing
        again, but only to partners whose marketing state is refused, so it
        never invents a grant for someone who was never asked.
        """
        consent = self.sudo().with_context(crm_consent_skip_blacklist_sync=True)
        channel = consent._get_channel(channel_code)
        if state == "refused":
            purposes = consent.env["crm.consent.purpose"].search(
                [("is_transactional", "=", False)]
            )
            current_states = [None, "granted", "pending"]
            legal_basis = False
        else:
            purposes = consent._get_purpose("marketing")
            current_states = ["refused"]
            legal_basis = "consent"
        for purpose in purposes:
            consent._record(
                partners,
                channel,
                purpose,
                state,
                source="blacklist",
                proof=reason or False,
                legal_basis=legal_basis,
                only_current_states=current_states,
            )

    @api.model
    def _sync_blacklists(self, partners, channel, purpose, state):
        """Keep Odoo's address blacklists in step with marketing consent.

        Refusing marketing by e-mail blacklists the partners' addresses, and
        refusing it by SMS blacklists their numbers. The blacklist hooks then
        refuse every non-transactional purpose for each partner sharing the
        address, so the ledger explains why none of them is contacted.
        Granting marketing again lifts the entries for this partner only.
        Other purposes and channels leave the blacklists alone, so a refused
        phone call never blocks SMS. Addresses are looked up and entries
        written in batches, whatever the number of partners.
        """
        if purpose.code != "marketing" or state == "pending":
            return
        if channel.code == "email":
            model_name, column = "mail.blacklist", "email"
            addresses = SQL(
                "SELECT email_normalized FROM res_partner"
                " WHERE id = ANY(%s) AND email_normalized IS NOT NULL",
                partners.ids,
            )
        elif channel.code == "sms":
            model_name, column = "phone.blacklist", "number"
            addresses = SQL(
                """
                SELECT number
                  FROM res_partner,
                       unnest(ARRAY[mobile_e164, phone_e164]) AS number
                 WHERE id = ANY(%s) AND number IS NOT NULL
                """,
                partners.ids,
            )
        else:
            return
        partners.flush_recordset(["email_normalized", "mobile_e164", "phone_e164"])
        blacklist = self.env[model_name].sudo().with_context(active_test=False)
        blacklist.flush_model([column, "active"])
        rows = self.env.execute_query(
            SQL(
                """
                SELECT DISTINCT address.value, entry.id, entry.active
                  FROM (%s) AS address (value)
             LEFT JOIN %s entry ON entry.%s = address.value
                """,
                addresses,
                SQL.identifier(blacklist._table),
                SQL.identifier(column),
            )
        )
        if state == "refused":
            # The blacklist hooks then refuse every non-transactional purpose
            # for all partners sharing these addresses, this one included.
            blacklist.browse(
                [
                    entry_id
                    for _value, entry_id, active in rows
                    if entry_id and not active
                ]
            ).write({"active": True})
            missing = {value for value, entry_id, _active in rows if not entry_id}
            if missing:
                blacklist.create([{column: value} for value in sorted(missing)])
        else:
            # Only this partner granted: others sharing the address keep
            # their own state, so the hooks are skipped.
            blacklist.browse(
                [entry_id for _value, entry_id, active in rows if entry_id and active]
            ).with_context(crm_consent_skip_blacklist_sync=True).write(
                {"active": False}
            )

    # ------------------------------------------------------------------
    # The contact gate
    # ------------------------------------------------------------------

    @api.model
    def _contactable_query(self, channel, purpose, *, partner_ids=None, at=None):
        """Return an SQL query selecting the ids of contactable partners.

        A partner is contactable when it is active, has the contact detail the
        channel needs and its consent allows contact. A grant must not be
        expired. A partner never asked passes only when the company's regime
        for the partner's country and channel is opt-out, or, without such a
        regime, when the purpose's own regime is. With ``at`` the consent is
        read from the ledger as it stood then, to check whether a past send
        was covered. Without it, the current state
        is used and, for marketing purposes, active blacklist entries exclude
        the address as well.
        """
        partner_filter = (
            SQL("AND partner.id = ANY(%s)", list(partner_ids))
            if partner_ids is not None
            else SQL()
        )
        address_filter = {
            "email": SQL("AND partner.email_normalized IS NOT NULL"),
            "phone": SQL(
                "AND COALESCE(partner.mobile_e164, partner.phone_e164) IS NOT NULL"
            ),
            "postal": SQL("AND COALESCE(partner.street, '') <> ''"),
        }.get(channel.address_type, SQL())

        if at:
            state_source = SQL(
                """
                LEFT JOIN LATERAL (
                    SELECT event.state, event.expiry_date
                      FROM crm_consent_event event
                     WHERE event.partner_id = partner.id
                       AND event.channel_id = %(channel_id)s
                       AND event.purpose_id = %(purpose_id)s
                       AND event.date <= %(at)s
                  ORDER BY event.date DESC, event.id DESC
                     LIMIT 1
                ) consent ON TRUE
                """,
                channel_id=channel.id,
                purpose_id=purpose.id,
                at=fields.Datetime.to_datetime(at),
            )
            today = fields.Datetime.to_datetime(at).date()
        else:
            state_source = SQL(
                """
                LEFT JOIN crm_consent consent
                       ON consent.partner_id = partner.id
                      AND consent.channel_id = %s
                      AND consent.purpose_id = %s
                """,
                channel.id,
                purpose.id,
            )
            today = fields.Date.context_today(self)

        blacklist_filter = SQL()
        if not at and not purpose.is_transactional:
            if channel.code == "email":
                blacklist_filter = SQL(
                    """
                    AND NOT EXISTS (
                        SELECT 1 FROM mail_blacklist blacklist
                         WHERE blacklist.active
                           AND blacklist.email = partner.email_normalized
                    )
                    """
                )
            elif channel.code == "sms":
                blacklist_filter = SQL(
                    """
                    AND NOT EXISTS (
                        SELECT 1 FROM phone_blacklist blacklist
                         WHERE blacklist.active
                           AND blacklist.number IN (partner.mobile_e164, partner.phone_e164)
                    )
                    """
                )

        never_asked_allowed = SQL("%s", purpose.regime == "opt_out")
        regime_join = SQL()
        if not purpose.is_transactional:
            # A company's regime for the partner's country and the channel
            # overrides the purpose's default for partners never asked.
            regime_join = SQL(
                """
                LEFT JOIN crm_consent_regime regime
                       ON regime.channel_id = %s
                      AND regime.country_id = partner.country_id
                      AND regime.company_id = COALESCE(partner.company_id, %s)
                """,
                channel.id,
                self.env.company.id,
            )
            never_asked_allowed = SQL(
                "COALESCE(regime.regime = 'opt_out', %s)", purpose.regime == "opt_out"
            )
        return SQL(
            """
            SELECT partner.id
              FROM res_partner partner
                   %(state_source)s
                   %(regime_join)s
             WHERE partner.active
                   %(partner_filter)s
                   %(address_filter)s
                   %(blacklist_filter)s
               AND CASE
                       WHEN consent.state = 'granted'
                           THEN consent.expiry_date IS NULL OR consent.expiry_date >= %(today)s
                       WHEN consent.state IS NULL THEN %(never_asked_allowed)s
                       ELSE FALSE
                   END
            """,
            state_source=state_source,
            regime_join=regime_join,
            partner_filter=partner_filter,
            address_filter=address_filter,
            blacklist_filter=blacklist_filter,
            today=today,
            never_asked_allowed=never_asked_allowed,
        )

    @api.model
    def _filter_contactable(
        self, partner_ids, channel_code, purpose_code="marketing", at=None
    ):
        """Return the subset of ``partner_ids`` that may be contacted, in one query."""
        channel = self._get_channel(channel_code)
        purpose = self._get_purpose(purpose_code)
        if not partner_ids:
            return []
        self.env["res.partner"].flush_model(
            ["active", "email_normalized", "phone_e164", "mobile_e164", "street"]
        )
        self.flush_model()
        self.env["crm.consent.event"].flush_model()
        self.env["mail.blacklist"].flush_model(["email", "active"])
        self.env["phone.blacklist"].flush_model(["number", "active"])
        self.env["crm.consent.regime"].flush_model()
        rows = self.env.execute_query(
            self._contactable_query(channel, purpose, partner_ids=partner_ids, at=at)
        )
        return [row[0] for row in rows]

    # ------------------------------------------------------------------
    # Double opt-in expiry
    # ------------------------------------------------------------------

    @api.model
    def _cron_expire_double_opt_in(self):
        self._expire_double_opt_in()

    @api.model
    def _expire_double_opt_in(self, batch_size=5000):
        """Refuse pending requests older than the double opt-in period.

        The refusal has source ``expiry`` and leaves the blacklists alone,
        because the customer did not refuse anything: the request simply
        lapsed. Work is committed per batch outside tests, so a large backlog
        never holds locks for long.
        """
        started = time.monotonic()
        days = self.env["crm.consent.event"]._double_opt_in_days()
        limit = fields.Datetime.subtract(fields.Datetime.now(), days=days)
        consent = self.sudo().with_context(crm_consent_skip_blacklist_sync=True)
        expired = 0
        while True:
            groups = consent._read_group(
                [("state", "=", "pending"), ("date", "<", limit)],
                ["channel_id", "purpose_id"],
                ["partner_id:array_agg"],
                limit=1,
            )
            if not groups:
                break
            channel, purpose, partner_ids = groups[0]
            partners = self.env["res.partner"].browse(partner_ids[:batch_size])
            consent._record(
                partners,
                channel,
                purpose,
                "refused",
                source="expiry",
                legal_basis=False,
                proof=self.env._(
                    "Double opt-in request not confirmed within %(days)s days.",
                    days=days,
                ),
                only_current_states=["pending"],
            )
            expired += len(partners)
            if not modules.module.current_test:
                self.env.cr.commit()  # pylint: disable=invalid-commit
        _logger.info(
            "Expired %s double opt-in requests in %.2fs",
            expired,
            time.monotonic() - started,
        )
        return expired
