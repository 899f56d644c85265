import logging
import math
from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, float_round

_logger = logging.getLogger(__name__)

TRANSACTION_KINDS = [
    ("purchase", "Purchase"),
    ("refund", "Refund"),
    ("payment", "Payment"),
]


class CrmCustomerTransaction(models.Model):
    """One purchase, refund or payment of a commercial partner.

    The ledger that the partner profiles are computed from. Amounts are in the
    currency of the company. ``source_ref`` identifies the source document and
    is unique per company, so feeding the same document again updates its row.
    """

    _name = "crm.customer.transaction"
    _description = "Customer Transaction"
    _order = "date desc, id desc"
    _rec_name = "source_ref"

    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        index=True,
        ondelete="cascade",
        help="Commercial partner: a contact's purchases count for its company.",
    )
    date = fields.Date(required=True, index=True)
    amount = fields.Monetary(
        required=True,
        help="Amount in the company currency: positive for a purchase, "
        "negative for a refund.",
    )
    currency_id = fields.Many2one(
        "res.currency", related="company_id.currency_id", store=True
    )
    kind = fields.Selection(TRANSACTION_KINDS, required=True, index=True)
    source_ref = fields.Char(
        string="Source Reference",
        required=True,
        help="Identifier of the source document, unique per company.",
    )
    res_model = fields.Char(string="Source Model", readonly=True)
    res_id = fields.Many2oneReference(
        string="Source Record", model_field="res_model", readonly=True
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )

    _sql_constraints = [
        (
            "source_ref_company_unique",
            "unique (source_ref, company_id)",
            "A source document is recorded once per company.",
        ),
    ]

    # ------------------------------------------------------------------
    # Public API (Python and XML-RPC contract)
    # ------------------------------------------------------------------

    @api.model
    def record_transactions(self, vals_list):
        """Insert or update ledger rows, idempotently, in one batch.

        :param list vals_list: dicts with the keys

            - ``partner_id`` (int, required): any partner; the row is recorded
              for its commercial partner
            - ``date`` (``YYYY-MM-DD`` or date, required)
            - ``amount`` (number, required): positive for a purchase, negative
              for a refund, in ``currency_id``
            - ``kind`` (required): ``purchase``, ``refund`` or ``payment``
            - ``source_ref`` (str, required): unique per company
            - ``currency_id`` (int, optional): currency of ``amount``, which is
              converted to the company currency at ``date``; the company
              currency by default
            - ``company_id`` (int, optional): ``env.company`` by default
            - ``res_model``, ``res_id`` (optional): the source record
        :returns: the ids of the rows, in the order of ``vals_list``
        :raises UserError: on invalid input, naming the row index (from 0),
            the field and the value; nothing is written then

        A row whose (``source_ref``, ``company_id``) exists is updated, never
        duplicated; within one call the last dict for a key wins. The partners
        of new and updated rows are marked for the incremental profile refresh.
        """
        self.check_access("create")
        self.check_access("write")
        if not vals_list:
            return []
        rows = self._prepare_transaction_rows(vals_list)

        self.flush_model()
        self.env["res.partner"].flush_model(["profile_outdated"])
        result = self.env.execute_query(
            SQL(
                """
                WITH input AS (
                    SELECT *
                      FROM unnest(
                          %(partner_ids)s::int[], %(dates)s::date[],
                          %(amounts)s::numeric[], %(kinds)s::varchar[],
                          %(refs)s::varchar[], %(company_ids)s::int[],
                          %(res_models)s::varchar[], %(res_ids)s::int[]
                      ) AS t(partner_id, date, amount, kind, source_ref,
                             company_id, res_model, res_id)
                ),
                previous AS (
                    -- One probe of the unique index per input row: as a plain
                    -- join the planner hashed the whole ledger for every batch.
                    SELECT tx.partner_id
                      FROM input
                      CROSS JOIN LATERAL (
                          SELECT old.partner_id
                            FROM crm_customer_transaction old
                           WHERE old.source_ref = input.source_ref
                             AND old.company_id = input.company_id
                           LIMIT 1
                      ) tx
                     WHERE tx.partner_id <> input.partner_id
                ),
                upsert AS (
                    INSERT INTO crm_customer_transaction (
                        partner_id, date, amount, kind, source_ref, company_id,
                        currency_id, res_model, res_id,
                        create_uid, create_date, write_uid, write_date
                    )
                    SELECT input.partner_id, input.date, input.amount, input.kind,
                           input.source_ref, input.company_id, company.currency_id,
                           input.res_model, input.res_id,
                           %(uid)s, now() at time zone 'UTC',
                           %(uid)s, now() at time zone 'UTC'
                      FROM input
                      JOIN res_company company ON company.id = input.company_id
                    ON CONFLICT (source_ref, company_id) DO UPDATE
                       SET partner_id = EXCLUDED.partner_id,
                           date = EXCLUDED.date,
                           amount = EXCLUDED.amount,
                           kind = EXCLUDED.kind,
                           res_model = EXCLUDED.res_model,
                           res_id = EXCLUDED.res_id,
                           write_uid = EXCLUDED.write_uid,
                           write_date = EXCLUDED.write_date
                    RETURNING id, source_ref, company_id, partner_id
                ),
                mark AS (
                    -- An array, so that the partners are found by their
                    -- primary key rather than by a scan of res_partner.
                    UPDATE res_partner
                       SET profile_outdated = TRUE
                     WHERE id = ANY(ARRAY(SELECT partner_id FROM upsert
                                          UNION SELECT partner_id FROM previous))
                       AND profile_outdated IS NOT TRUE
                )
                SELECT id, source_ref, company_id FROM upsert
                """,
                partner_ids=[row["partner_id"] for row in rows],
                dates=[row["date"] for row in rows],
                amounts=[row["amount"] for row in rows],
                kinds=[row["kind"] for row in rows],
                refs=[row["source_ref"] for row in rows],
                company_ids=[row["company_id"] for row in rows],
                res_models=[row["res_model"] for row in rows],
                res_ids=[row["res_id"] for row in rows],
                uid=self.env.uid,
            )
        )
        self.invalidate_model()
        self.env["res.partner"].invalidate_model(["profile_outdated"])

        ids_by_key = {(ref, company_id): tx_id for tx_id, ref, company_id in result}
        return [ids_by_key[key] for key in self._transaction_keys(vals_list)]

    @api.model_create_multi
    def create(self, vals_list):
        for index, vals in enumerate(vals_list):
            self._check_date_and_amount(index, vals)
        return super().create(vals_list)

    def write(self, vals):
        self._check_date_and_amount(0, vals)
        self._mark_partners_outdated()
        result = super().write(vals)
        if "partner_id" in vals:
            self._mark_partners_outdated()
        return result

    def unlink(self):
        self._mark_partners_outdated()
        return super().unlink()

    def _mark_partners_outdated(self):
        self.partner_id.filtered(
            lambda partner: not partner.profile_outdated
        ).sudo().write({"profile_outdated": True})

    # ------------------------------------------------------------------
    # Feeders: Odoo documents into the ledger
    # ------------------------------------------------------------------

    @api.model
    def _sync_sources(self, records, vals_list):
        """Record ``vals_list`` for ``records`` and remove the other rows of
        ``records``, so that each source document has at most one row per
        company and a document that no longer counts has none.
        """
        kept = {(vals["res_model"], vals["res_id"]) for vals in vals_list}
        stale = (
            self.sudo()
            .search([("res_model", "=", records._name), ("res_id", "in", records.ids)])
            .filtered(lambda tx: (tx.res_model, tx.res_id) not in kept)
        )
        if stale:
            stale.unlink()
        if vals_list:
            self.sudo().record_transactions(vals_list)

    # ------------------------------------------------------------------
    # Input validation and preparation
    # ------------------------------------------------------------------

    def _transaction_keys(self, vals_list):
        default_company = self.env.company.id
        return [
            (str(vals["source_ref"]).strip(), vals.get("company_id") or default_company)
            for vals in vals_list
        ]

    def _raise_invalid(self, index, field_name, value, reason):
        raise UserError(
            self.env._(
                "Invalid transaction at row %(index)s: field %(field)s has the "
                "value %(value)r, %(reason)s",
                index=index,
                field=field_name,
                value=value,
                reason=reason,
            )
        )

    def _check_amount(self, index, amount):
        """Raise unless ``amount`` is a finite number."""
        if not isinstance(amount, (int, float)) or isinstance(amount, bool):
            self._raise_invalid(
                index, "amount", amount, self.env._("expected a number.")
            )
        if not math.isfinite(amount):
            self._raise_invalid(
                index, "amount", amount, self.env._("expected a finite number.")
            )

    def _check_date(self, index, value):
        """Return ``value`` as a date, or raise naming the row and the value."""
        try:
            date = fields.Date.to_date(value)
        except (ValueError, TypeError):
            date = None
        if not date:
            self._raise_invalid(
                index,
                "date",
                value,
                self.env._("expected a date in the form YYYY-MM-DD."),
            )
        return date

    def _check_date_and_amount(self, index, vals):
        """Check the date and amount of ``vals`` given to ``create`` or
        ``write``, so that bad values get a clear error, not a database one."""
        if "date" in vals:
            self._check_date(index, vals["date"])
        if "amount" in vals:
            self._check_amount(index, vals["amount"])

    def _prepare_transaction_rows(self, vals_list):
        """Validate ``vals_list`` and return one row dict per distinct key.

        Partners, companies and currencies are read once for the whole batch;
        amounts are converted with one rate lookup per distinct (currency,
        company, date).
        """
        kinds = dict(TRANSACTION_KINDS)
        allowed_keys = {
            "partner_id",
            "date",
            "amount",
            "kind",
            "source_ref",
            "currency_id",
            "company_id",
            "res_model",
            "res_id",
        }
        cleaned = []
        for index, vals in enumerate(vals_list):
            if not isinstance(vals, dict):
                self._raise_invalid(index, "-", vals, self.env._("expected a dict."))
            unknown = sorted(set(vals) - allowed_keys)
            if unknown:
                self._raise_invalid(
                    index, unknown[0], vals[unknown[0]], self.env._("unknown field.")
                )
            for name in ("partner_id", "date", "kind", "source_ref"):
                if not vals.get(name):
                    self._raise_invalid(
                        index, name, vals.get(name), self.env._("a value is required.")
                    )
            if vals.get("amount") is None:
                self._raise_invalid(
                    index, "amount", None, self.env._("a value is required.")
                )
            for name in ("partner_id", "currency_id", "company_id", "res_id"):
                value = vals.get(name)
                if value and (not isinstance(value, int) or isinstance(value, bool)):
                    self._raise_invalid(
                        index, name, value, self.env._("expected a record id.")
                    )
            kind = vals["kind"]
            if kind not in kinds:
                self._raise_invalid(
                    index,
                    "kind",
                    kind,
                    self.env._("expected one of %(kinds)s.", kinds=", ".join(kinds)),
                )
            amount = vals["amount"]
            self._check_amount(index, amount)
            if kind == "purchase" and amount < 0:
                self._raise_invalid(
                    index,
                    "amount",
                    amount,
                    self.env._("a purchase cannot be negative; record a refund."),
                )
            if kind == "refund" and amount > 0:
                self._raise_invalid(
                    index,
                    "amount",
                    amount,
                    self.env._("a refund must be negative or zero."),
                )
            date = self._check_date(index, vals["date"])
            source_ref = str(vals["source_ref"]).strip()
            if not source_ref:
                self._raise_invalid(
                    index, "source_ref", vals["source_ref"], self.env._("empty.")
                )
            cleaned.append(
                {
                    "partner_id": vals["partner_id"],
                    "date": date,
                    "amount": amount,
                    "kind": kind,
                    "source_ref": source_ref,
                    "currency_id": vals.get("currency_id") or False,
                    "company_id": vals.get("company_id") or self.env.company.id,
                    "res_model": vals.get("res_model") or None,
                    "res_id": vals.get("res_id") or None,
                }
            )

        commercial = self._check_records(
            cleaned, "partner_id", "res.partner", "commercial_partner_id"
        )
        self._check_records(cleaned, "currency_id", "res.currency")
        companies = self._check_records(cleaned, "company_id", "res.company")
        allowed_companies = set(self.env.user.company_ids.ids) | {self.env.company.id}
        for index, row in enumerate(cleaned):
            if not self.env.su and row["company_id"] not in allowed_companies:
                self._raise_invalid(
                    index,
                    "company_id",
                    row["company_id"],
                    self.env._("you have no access to this company."),
                )

        rates = defaultdict(dict)
        # The company currency and its rounding, read once per company
        # instead of through the ORM for every row.
        company_currencies = {
            company_id: (company, company.currency_id, company.currency_id.rounding)
            for company_id, company in companies.items()
        }
        rows_by_key = {}
        rounded = {}
        for row in cleaned:
            company, company_currency, rounding = company_currencies[row["company_id"]]
            row["partner_id"] = commercial[row["partner_id"]]
            if row["currency_id"] and row["currency_id"] != company_currency.id:
                currency = self.env["res.currency"].browse(row["currency_id"])
                cache = rates[(currency.id, company.id)]
                if row["date"] not in cache:
                    cache[row["date"]] = currency._get_conversion_rate(
                        currency, company_currency, company, row["date"]
                    )
                amount = row["amount"] * cache[row["date"]]
            else:
                amount = row["amount"]
            # What res.currency.round does, without a recordset per row, once
            # per distinct amount and rounding.
            if (amount, rounding) not in rounded:
                rounded[amount, rounding] = float_round(
                    amount, precision_rounding=rounding
                )
            row["amount"] = rounded[amount, rounding]
            rows_by_key[(row["source_ref"], row["company_id"])] = row
        return list(rows_by_key.values())

    def _check_records(self, rows, field_name, model_name, target_field=None):
        """Check that the ids of ``field_name`` exist in one query.

        Returns a dict id -> record, or id -> id of ``target_field`` when it is
        given.
        """
        ids = {row[field_name] for row in rows if row[field_name]}
        model = self.env[model_name].sudo()
        if target_field:
            # One query for the ids and their target, without loading every
            # column of the records into the cache.
            model.flush_model([target_field])
            found = dict(
                self.env.execute_query(
                    SQL(
                        "SELECT id, %s FROM %s WHERE id = ANY(%s)",
                        SQL.identifier(target_field),
                        SQL.identifier(model._table),
                        list(ids),
                    )
                )
            )
        else:
            found = {record.id: record for record in model.browse(ids).exists()}
        for index, row in enumerate(rows):
            if row[field_name] and row[field_name] not in found:
                self._raise_invalid(
                    index,
                    field_name,
                    row[field_name],
                    self.env._("no %(model)s record has this id.", model=model_name),
                )
        return found
