import contextlib
import csv
import datetime
import json
import logging
import threading
import time
import unicodedata
from decimal import Decimal, InvalidOperation

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, email_normalize, email_split, float_compare

from odoo.addons.crm_consent.tools import normalize_phone

from ..tools import (
    LegacyRow,
    SourceError,
    TaxIdError,
    format_tax_id,
    is_placeholder_tax_id,
    normalize_tax_id,
    parse_amount,
    parse_date,
)

_logger = logging.getLogger(__name__)

PARTNER_TEXT_TARGETS = {
    "partner_name": "name",
    "partner_street": "street",
    "partner_city": "city",
    "partner_zip": "zip",
}
CONSENT_STATE_WORDS = {
    "granted": "granted",
    "yes": "granted",
    "si": "granted",
    "y": "granted",
    "s": "granted",
    "1": "granted",
    "true": "granted",
    "opt-in": "granted",
    "refused": "refused",
    "no": "refused",
    "n": "refused",
    "0": "refused",
    "false": "refused",
    "opt-out": "refused",
    "pending": "pending",
    "pendiente": "pending",
}
CONSENT_CHANNEL_WORDS = {
    "correo": "email",
    "e-mail": "email",
    "mail": "email",
    "telefono": "phone",
    "correo postal": "postal",
}
TXN_KIND_WORDS = {
    "purchase": "purchase",
    "compra": "purchase",
    "venta": "purchase",
    "sale": "purchase",
    "refund": "refund",
    "devolucion": "refund",
    "abono": "refund",
    "nota de credito": "refund",
    "payment": "payment",
    "pago": "payment",
    "cobro": "payment",
}
# Partner fields that a row may write onto a customer found by identity
# resolution (see crm.legacy.source.partner_update). The name is left out: it
# falls back to the e-mail or key when the source has no name column.
UPDATED_PARTNER_FIELDS = (
    "email",
    "phone",
    "street",
    "city",
    "zip",
    "country_id",
    "vat",
)
# Names shown to users for the encodings the readers use.
ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8",
    "utf-16": "UTF-16",
    "cp1252": "Windows-1252",
    "latin-1": "Latin-1",
}
# Source columns listed at most in the message of a missing mapped column.
MAX_LISTED_COLUMNS = 30
# Identity rules in the order they are tried.
IDENTITY_LEVELS = ("ref", "vat", "email", "phone")


def _plain(text):
    """Return ``text`` lowercased without accents, for matching words."""
    text = unicodedata.normalize("NFKD", str(text or "").strip().lower())
    return "".join(char for char in text if not unicodedata.combining(char))


class RowRejected(Exception):
    """Raised while parsing a row; carries the column, value and reason."""

    def __init__(self, column, value, reason):
        super().__init__(reason)
        self.column = column
        self.value = value
        self.reason = reason


class RowValues:
    """Mapped values of one source row, read by mapping target."""

    def __init__(self, env, mapping, row):
        self.env = env
        self.mapping = mapping
        self.row = row
        self.number = row.number
        # Each mapped value is read and stripped once; the parsers ask for
        # every target, most of them not mapped.
        values = row.values
        self._values = {
            target: value.strip() if isinstance(value, str) else value
            for target, column in mapping.items()
            if column
            for value in (values.get(column, ""),)
        }

    def get(self, target):
        """Return the value of the column mapped to ``target``, stripped, or
        an empty string when the target is not mapped."""
        return self._values.get(target, "")

    def reject(self, target, value, message):
        """Raise ``RowRejected`` naming the row, the column of ``target`` and
        ``value``."""
        column = self.mapping[target]
        raise RowRejected(
            column,
            value,
            self.env._(
                "Row %(row)s, column %(column)s: %(message)s",
                row=self.number,
                column=column,
                message=message,
            ),
        )


class CrmLegacyImporter(models.AbstractModel):
    """Import engine shared by every kind of legacy source.

    A run reads the source in batches. Each batch is parsed (bad rows are
    rejected with a reason), resolved to customers, then written inside one
    savepoint. When the batch write fails, its rows are written again one by
    one, each in its own savepoint, so a row that cannot be written is
    rejected whole and the other rows of its batch are kept.
    """

    _name = "crm.legacy.importer"
    _description = "Legacy Data Importer"

    # ------------------------------------------------------------------
    # Run
    # ------------------------------------------------------------------

    @api.model
    def _run(self, source):
        started = time.monotonic()
        # The source's own errors are then in the run's language too.
        source = source.with_env(self.env)
        run_vals = {"source_id": source.id}
        if self.env.context.get("crm_legacy_run_user_id"):
            # A background run requested by a user is recorded as theirs.
            run_vals["user_id"] = self.env.context["crm_legacy_run_user_id"]
        run = self.env["crm.legacy.run"].sudo().create(run_vals)
        context = self._make_context(source)
        context["run"] = run
        auto_commit = self.env.context.get("crm_legacy_commit") and not getattr(
            threading.current_thread(), "testing", False
        )
        # Without a commit per batch the run is one savepoint, so a source
        # that fails midway leaves only the failed run and its message. Files
        # are checked whole before their first row, so with commits too a
        # broken file writes nothing.
        savepoint = None if auto_commit else self.env.cr.savepoint()
        rows_seen = 0
        try:
            batch = []
            for row in source._iter_rows(
                on_header=lambda columns: self._check_columns(context, columns)
            ):
                rows_seen += 1
                if context["watermark_column"] and self._below_watermark(context, row):
                    run.rows_skipped += 1
                    continue
                batch.append(row)
                if len(batch) >= context["batch_size"]:
                    self._process_batch(context, batch)
                    batch = []
                    if auto_commit:
                        self.env.cr.commit()  # pylint: disable=invalid-commit
            if batch:
                self._process_batch(context, batch)
        except (SourceError, UserError, UnicodeDecodeError, csv.Error) as error:
            if savepoint:
                savepoint.close(rollback=True)
            # Drivers may echo the connection string, and run messages are
            # readable by users who may not read the source's secrets.
            reason = source._redact_secrets(self._source_error_text(error))
            run.write(
                {
                    "state": "failed",
                    "message": self.env._(
                        "The source could not be read: %(error)s", error=reason
                    ),
                }
            )
            _logger.warning(
                "Legacy source %s (id %s) failed after %s rows: %s",
                source.name,
                source.id,
                rows_seen,
                reason,
            )
        else:
            if savepoint:
                savepoint.close(rollback=False)
            run.state = "done"
            if not rows_seen:
                run.message = self.env._(
                    "The source has no data rows, so nothing was imported."
                )
            if context["watermark_max"] is not None:
                source.sudo().watermark_value = self._format_watermark(
                    context["watermark_max"]
                )
        run.write(
            {
                "ended_at": fields.Datetime.now(),
                "duration": time.monotonic() - started,
            }
        )
        _logger.info(
            "Legacy source %s (id %s), run %s: %s rows read, %s partners created, "
            "%s matched, %s transactions, %s consents, %s rejected, %s to review "
            "in %.1f s",
            source.name,
            source.id,
            run.id,
            run.rows_read,
            run.partners_created,
            run.partners_matched,
            run.transactions_created,
            run.consents_recorded,
            run.rows_rejected,
            run.rows_to_review,
            time.monotonic() - started,
        )
        return run

    @api.model
    def _source_error_text(self, error):
        """Return the translated text of an error that stops a whole source.

        Readers raise ``SourceError`` with a ``code`` and its ``params`` for
        the faults of a file they know; other errors keep their own text.
        """
        if isinstance(error, UnicodeDecodeError):
            # Babel cannot read an f-string among the arguments of env._().
            byte = f"0x{error.object[error.start]:02X}"
            return self.env._(
                "the file is not %(encoding)s text (byte %(byte)s).",
                encoding=ENCODING_LABELS.get(error.encoding, error.encoding),
                byte=byte,
            )
        if isinstance(error, UserError):
            return error.args[0]
        code = getattr(error, "code", None)
        templates = {
            "encoding": self.env._(
                "line %(line)s is not %(encoding)s text (byte %(byte)s). Choose the "
                "file's encoding on the source, or leave it empty to detect it."
            ),
            "nul": self.env._(
                "line %(line)s contains a NUL character: the file is not text, or "
                "it is UTF-16 without a byte order mark."
            ),
            "unclosed_quote": self.env._(
                "the quote opened on line %(line)s is never closed, so the lines "
                "after it cannot be told apart."
            ),
            "field_limit": self.env._(
                "a field starting on line %(line)s is longer than %(limit)s "
                "characters; a quote that is not closed may have joined lines."
            ),
            "empty": self.env._(
                "the file is empty: it has no header line and no data rows."
            ),
            "xls": self.env._(
                "the file is an Excel 97-2003 workbook (.xls); save it as .xlsx or CSV."
            ),
            "not_zip": self.env._(
                "the file is not an XLSX workbook: it is not a zip archive. Choose "
                "the CSV kind for text files."
            ),
            "not_xlsx": self.env._(
                "the file is a zip archive but not an XLSX workbook (%(error)s)."
            ),
            "formula": self.env._(
                "cell %(cell)s holds a formula whose result was never saved. Open "
                "the workbook in a spreadsheet program and save it again."
            ),
        }
        if code not in templates:
            return str(error)
        params = dict(error.params)
        if "encoding" in params:
            params["encoding"] = ENCODING_LABELS.get(
                params["encoding"], params["encoding"]
            )
        return templates[code] % params

    @api.model
    def _make_context(self, source):
        """Collect once per run what every row needs: mapping, formats, codes."""
        source = source.sudo()
        company = source.company_id
        mapping = {line.target: line.column for line in source.mapping_ids}

        # Countries are matched by ISO code or by name in any installed
        # language, without accents ("mexico" finds México).
        countries = {}
        for country_id, code, names in self.env.execute_query(
            SQL("SELECT id, code, name FROM res_country")
        ):
            countries[_plain(code)] = country_id
            for name in (names or {}).values():
                countries[_plain(name)] = country_id
        currencies = {
            name.upper(): currency_id
            for currency_id, name in self.env.execute_query(
                SQL("SELECT id, name FROM res_currency")
            )
        }

        country_codes = dict(
            self.env.execute_query(SQL("SELECT id, code FROM res_country"))
        )
        channels = set(self.env["crm.consent.channel"].sudo().search([]).mapped("code"))
        langs = {
            _plain(code): code
            for code in self.env["res.lang"].sudo().search([]).mapped("code")
        }

        # XML-RPC returns dates as YYYY-MM-DD whatever the source's format.
        date_format = source.date_format or "%d/%m/%Y"
        if source.kind == "odoo":
            date_format = "%Y-%m-%d"
        incremental = self.env.context.get("crm_legacy_incremental")
        return {
            "source": source,
            "company": company,
            "mapping": mapping,
            "date_format": date_format,
            "decimal_separator": source.decimal_separator or ",",
            "thousands_separator": source.thousands_separator or "",
            "countries": countries,
            "country_codes": country_codes,
            "default_country": source.country_id or company.country_id,
            "currencies": currencies,
            "default_currency_id": (source.currency_id or company.currency_id).id,
            "channels": channels,
            "langs": langs,
            "batch_size": source.batch_size or 1000,
            "watermark_column": incremental and source.watermark_column,
            "watermark_floor": incremental
            and source.watermark_value
            and self._watermark_key(source.watermark_value, date_format),
            "watermark_max": None,
            "multi_email_partners": None,
            "matched_ids": set(),
            "created_ids": set(),
            "checked_columns": False,
        }

    # ------------------------------------------------------------------
    # Watermark
    # ------------------------------------------------------------------

    @api.model
    def _watermark_key(self, value, date_format):
        """Return a comparable key for a watermark value (number or date)."""
        if isinstance(value, (datetime.date, int, float, Decimal)):
            return value if not isinstance(value, datetime.datetime) else value.date()
        text = str(value).strip()
        with contextlib.suppress(InvalidOperation):
            return Decimal(text)
        for fmt in ("%Y-%m-%d", date_format):
            try:
                return parse_date(text, fmt)
            except ValueError:
                continue
        return text

    @api.model
    def _format_watermark(self, key):
        if isinstance(key, datetime.date):
            return key.isoformat()
        return str(key)

    @api.model
    def _below_watermark(self, context, row):
        value = row.values.get(context["watermark_column"])
        if value in (None, ""):
            return False
        key = self._watermark_key(value, context["date_format"])
        floor = context["watermark_floor"]
        try:
            if context["watermark_max"] is None or key > context["watermark_max"]:
                context["watermark_max"] = key
            return bool(floor) and key <= floor
        except TypeError:
            return False

    # ------------------------------------------------------------------
    # Parsing
    # ------------------------------------------------------------------

    @api.model
    def _check_columns(self, context, columns):
        """Raise when a mapped column is missing from the source's columns,
        or appears in them more than once.

        ``columns`` is the list of the source's column names, as the readers
        report them before the first row (also for a file with a header and
        no data row), or a row whose values are keyed by column name.
        """
        if isinstance(columns, LegacyRow):
            columns = list(columns.values)
        context["checked_columns"] = True
        mapped = list(dict.fromkeys(context["mapping"].values()))
        missing = [column for column in mapped if column not in columns]
        if missing:
            shown = [str(column) for column in columns[:MAX_LISTED_COLUMNS]]
            if len(columns) > MAX_LISTED_COLUMNS:
                shown.append("…")
            raise UserError(
                self.env._(
                    "Columns %(columns)s of the mapping are not in the source, "
                    "which has %(found)s.",
                    columns=", ".join(missing),
                    found=", ".join(shown),
                )
            )
        repeated = [column for column in mapped if columns.count(column) > 1]
        if repeated:
            raise UserError(
                self.env._(
                    "Columns %(columns)s of the mapping appear more than once in "
                    "the source, so it is unclear which one to read.",
                    columns=", ".join(repeated),
                )
            )

    @api.model
    def _row_error_reason(self, row):
        """Return the translated reason of a row the reader could not split."""
        code, params = row.error
        if code == "quote":
            return self.env._(
                "Row %(row)s (line %(line)s): a closing quote is followed by "
                "other text than the delimiter.",
                row=row.number,
                line=params["line"],
            )
        return self.env._(
            "Row %(row)s has %(found)s columns, the header has %(expected)s.",
            row=row.number,
            **params,
        )

    @api.model
    def _parse_row(self, context, row):
        """Return the row's values ready to write, or its rejection.

        A rejected row's result has ``reason``, ``column`` and ``value``. A
        good row's result has the partner values, the identity keys, the
        transaction, the consent, and ``display`` with the values as read.
        """
        if row.error:
            return {
                "number": row.number,
                "raw": row.raw,
                "column": False,
                "value": False,
                "reason": self._row_error_reason(row),
            }
        if not context["checked_columns"]:
            self._check_columns(context, row)
        try:
            return self._parse_values(context, row)
        except RowRejected as rejection:
            return {
                "number": row.number,
                "raw": row.raw,
                "column": rejection.column,
                "value": str(rejection.value),
                "reason": rejection.reason,
            }

    @api.model
    def _parse_values(self, context, row):
        values = RowValues(self.env, context["mapping"], row)
        parsed = {"number": row.number, "raw": row.raw, "display": {}}
        country = self._parse_partner(context, values, parsed)
        self._parse_identity_keys(context, values, parsed, country)
        if not (parsed["ref"] or parsed["vat"] or parsed["emails"] or parsed["phone"]):
            # A row without any key would create a new partner at every run.
            raise RowRejected(
                False,
                "",
                self.env._(
                    "Row %(row)s has no customer key, tax id, e-mail or phone.",
                    row=row.number,
                ),
            )
        if "name" not in parsed["partner"]:
            parsed["partner"]["name"] = (
                (parsed["emails"] and parsed["emails"][0])
                or parsed["ref"]
                or parsed["vat"]
                or parsed["phone"]
            )
        parsed["txn"] = self._parse_transaction(context, values, parsed["display"])
        parsed["consent"] = self._parse_consent(context, values, parsed["display"])
        return parsed

    @api.model
    def _parse_partner(self, context, values, parsed):
        """Fill the partner values of ``parsed``; return the row's country."""
        display = parsed["display"]
        partner = parsed["partner"] = {}
        for target, field_name in PARTNER_TEXT_TARGETS.items():
            if value := values.get(target):
                partner[field_name] = str(value)
                display[target] = str(value)

        country = context["default_country"]
        if country_value := values.get("partner_country"):
            country_id = context["countries"].get(_plain(country_value))
            if not country_id:
                values.reject(
                    "partner_country",
                    country_value,
                    self.env._("unknown country %(value)s.", value=country_value),
                )
            country = self.env["res.country"].browse(country_id)
            partner["country_id"] = country_id
            display["partner_country"] = country.code

        if lang_value := values.get("partner_lang"):
            lang = self._find_lang(context, lang_value)
            if lang:
                partner["lang"] = lang
                display["partner_lang"] = lang
        return country

    @api.model
    def _find_lang(self, context, value):
        """Return the code of the active language written ``value`` (``es``,
        ``es-MX``, ``es_419``), or None."""
        key = _plain(value).replace("-", "_")
        if key in context["langs"]:
            return context["langs"][key]
        for code_key, code in sorted(context["langs"].items()):
            if code_key.split("_")[0] == key:
                return code
        return None

    @api.model
    def _parse_identity_keys(self, context, values, parsed, country):
        """Fill the external key, tax id, e-mail addresses and E.164 phone."""
        display = parsed["display"]
        partner = parsed["partner"]
        country_code = context["country_codes"].get(country.id) if country else None

        parsed["ref"] = str(values.get("partner_ref") or "") or False
        if parsed["ref"]:
            display["partner_ref"] = parsed["ref"]

        parsed["vat"] = False
        parsed["vat_placeholder"] = False
        if vat_value := values.get("partner_vat"):
            try:
                compact, module = normalize_tax_id(str(vat_value), country_code)
            except TaxIdError:
                values.reject(
                    "partner_vat",
                    vat_value,
                    self.env._(
                        "invalid tax id %(value)s for %(country)s.",
                        value=vat_value,
                        country=country.name if country else "-",
                    ),
                )
            parsed["vat"] = compact
            parsed["vat_variants"] = [compact] + (
                [country_code.upper() + compact] if country_code else []
            )
            parsed["vat_placeholder"] = is_placeholder_tax_id(compact, country_code)
            partner["vat"] = compact
            display["partner_vat"] = format_tax_id(compact, module)

        parsed["emails"] = []
        if email_value := values.get("partner_email"):
            emails = [
                email_normalize(address, strict=False)
                for address in email_split(str(email_value))
            ]
            emails = list(dict.fromkeys(address for address in emails if address))
            if not emails:
                values.reject(
                    "partner_email",
                    email_value,
                    self.env._("invalid e-mail address %(value)s.", value=email_value),
                )
            parsed["emails"] = emails
            partner["email"] = ", ".join(emails)
            display["partner_email"] = partner["email"]

        parsed["phone"] = False
        if phone_value := values.get("partner_phone"):
            phone_value = str(phone_value)
            partner["phone"] = phone_value
            parsed["phone"] = normalize_phone(
                phone_value, country_code, context["company"].country_id.code
            )
            display["partner_phone"] = parsed["phone"] or phone_value

    @api.model
    def _parse_transaction(self, context, values, display):
        if "source_ref_prefix" not in context:
            context["source_ref_prefix"] = f"legacy:{context['source'].id}:"
        amount_value = values.get("txn_amount")
        if amount_value in ("", None):
            return None
        try:
            amount = parse_amount(
                amount_value,
                context["decimal_separator"],
                context["thousands_separator"],
            )
        except ValueError:
            values.reject(
                "txn_amount",
                amount_value,
                self.env._(
                    "invalid amount %(value)s (decimal separator %(decimal)s, "
                    "thousands separator %(thousands)s).",
                    value=amount_value,
                    decimal=context["decimal_separator"],
                    thousands=context["thousands_separator"] or "-",
                ),
            )

        date_value = values.get("txn_date")
        if not context["mapping"].get("txn_date") or date_value in ("", None):
            raise RowRejected(
                context["mapping"].get("txn_date", False),
                "",
                self.env._("Row %(row)s has an amount but no date.", row=values.number),
            )
        try:
            date = parse_date(date_value, context["date_format"])
        except ValueError:
            values.reject(
                "txn_date",
                date_value,
                self.env._(
                    "invalid date %(value)s (expected format %(format)s).",
                    value=date_value,
                    format=context["date_format"],
                ),
            )

        currency_id = context["default_currency_id"]
        if currency_value := values.get("txn_currency"):
            currency_id = context["currencies"].get(str(currency_value).upper())
            if not currency_id:
                values.reject(
                    "txn_currency",
                    currency_value,
                    self.env._("unknown currency %(value)s.", value=currency_value),
                )

        kind = "purchase" if amount >= 0 else "refund"
        if kind_value := values.get("txn_kind"):
            kind = TXN_KIND_WORDS.get(_plain(kind_value))
            if not kind:
                values.reject(
                    "txn_kind",
                    kind_value,
                    self.env._(
                        "unknown transaction kind %(value)s (purchase, refund or "
                        "payment).",
                        value=kind_value,
                    ),
                )
        if kind == "refund" and amount > 0:
            amount = -amount

        reference = str(values.get("txn_ref") or "") or f"row-{values.number}"
        display.update(
            txn_ref=reference,
            txn_date=date.isoformat(),
            txn_amount=str(amount),
            txn_kind=kind,
        )
        return {
            "date": date,
            "amount": float(amount),
            "currency_id": currency_id,
            "kind": kind,
            "source_ref": context["source_ref_prefix"] + reference,
        }

    @api.model
    def _parse_consent(self, context, values, display):
        state_value = values.get("consent_state")
        if not state_value:
            return None
        # A source without a channel column records e-mail consent.
        channel_value = values.get("consent_channel")
        if not context["mapping"].get("consent_channel"):
            channel_value = "email"
        channel = _plain(channel_value)
        channel = CONSENT_CHANNEL_WORDS.get(channel, channel)
        if channel not in context["channels"]:
            values.reject(
                "consent_channel",
                channel_value,
                self.env._("unknown consent channel %(value)s.", value=channel_value),
            )

        state = CONSENT_STATE_WORDS.get(_plain(state_value))
        if not state:
            values.reject(
                "consent_state",
                state_value,
                self.env._(
                    "unknown consent state %(value)s (granted, refused or pending).",
                    value=state_value,
                ),
            )

        date = False
        if date_value := values.get("consent_date"):
            try:
                date = parse_date(date_value, context["date_format"])
            except ValueError:
                values.reject(
                    "consent_date",
                    date_value,
                    self.env._(
                        "invalid date %(value)s (expected format %(format)s).",
                        value=date_value,
                        format=context["date_format"],
                    ),
                )

        display.update(consent_channel=channel, consent_state=state)
        return {
            "channel": channel,
            "state": state,
            "date": datetime.datetime.combine(date, datetime.time()) if date else False,
        }

    # ------------------------------------------------------------------
    # Batches
    # ------------------------------------------------------------------

    @api.model
    def _process_batch(self, context, rows):
        run = context["run"]
        parsed_rows = [self._parse_row(context, row) for row in rows]
        rejected = [parsed for parsed in parsed_rows if parsed.get("reason")]
        good = [parsed for parsed in parsed_rows if not parsed.get("reason")]
        reviews = self._resolve(context, good)
        good = [parsed for parsed in good if not parsed.get("review")]

        tokens = {}
        identities = (set(context["created_ids"]), set(context["matched_ids"]))
        try:
            with self.env.cr.savepoint():
                counts = self._write(context, good, tokens)
        except Exception:
            # Whatever failed, the savepoint rolled the batch back, so the
            # transaction is usable and each row can be tried on its own.
            context["created_ids"], context["matched_ids"] = identities
            _logger.exception(
                "Legacy run %s: batch write failed, writing its rows one by one",
                run.id,
            )
            counts = dict.fromkeys(("created", "transactions", "consents"), 0)
            tokens = {}
            for parsed in good:
                kept = dict(tokens)
                identities = (set(context["created_ids"]), set(context["matched_ids"]))
                try:
                    with self.env.cr.savepoint():
                        row_counts = self._write(context, [parsed], tokens)
                except Exception as error:
                    tokens = kept
                    context["created_ids"], context["matched_ids"] = identities
                    rejected.append(
                        {
                            "number": parsed["number"],
                            "raw": parsed["raw"],
                            "column": False,
                            "value": False,
                            "reason": self.env._(
                                "Row %(row)s could not be written: %(error)s",
                                row=parsed["number"],
                                error=str(error),
                            ),
                        }
                    )
                    continue
                for key, value in row_counts.items():
                    counts[key] += value

        self._store_outcome(context, rows, rejected, reviews, counts)

    @api.model
    def _store_outcome(self, context, rows, rejected, reviews, counts):
        run = context["run"]
        if rejected:
            self.env["crm.legacy.rejected.row"].sudo().create(
                [
                    {
                        "run_id": run.id,
                        "row_number": parsed["number"],
                        "column": parsed["column"],
                        "value": parsed["value"],
                        "reason": parsed["reason"],
                        "raw": parsed["raw"],
                    }
                    for parsed in rejected
                ]
            )
        if reviews:
            self.env["crm.legacy.review"].sudo().create(
                [dict(review, run_id=run.id) for review in reviews]
            )
        run.write(
            {
                "rows_read": run.rows_read + len(rows),
                "rows_rejected": run.rows_rejected + len(rejected),
                "rows_to_review": run.rows_to_review + len(reviews),
                "partners_created": len(context["created_ids"]),
                "partners_matched": len(context["matched_ids"]),
                "transactions_created": run.transactions_created
                + counts["transactions"],
                "consents_recorded": run.consents_recorded + counts["consents"],
            }
        )

    # ------------------------------------------------------------------
    # Identity resolution
    # ------------------------------------------------------------------

    @api.model
    def _lookup_partners(self, context, rows):
        """Return ``{rule: {key: set(commercial partner ids)}}`` from the
        database for the keys of ``rows``, with one query per rule."""
        self.env["res.partner"].flush_model()
        self.env["crm.legacy.partner.link"].flush_model()
        company_filter = SQL(
            "partner.active AND (partner.company_id IS NULL OR partner.company_id = %s)",
            context["company"].id,
        )
        return {
            "ref": self._lookup_links(context, rows),
            "vat": self._lookup_tax_ids(rows, company_filter),
            "email": self._lookup_emails(context, rows, company_filter),
            "phone": self._lookup_phones(rows, company_filter),
        }

    @api.model
    def _lookup_links(self, context, rows):
        found = {}
        refs = list({parsed["ref"] for parsed in rows if parsed["ref"]})
        if not refs:
            return found
        for key, partner_id in self.env.execute_query(
            SQL(
                """
                SELECT link.external_key, partner.commercial_partner_id
                  FROM crm_legacy_partner_link link
                  JOIN res_partner partner ON partner.id = link.partner_id
                 WHERE link.source_id = %s AND link.external_key = ANY(%s)
                """,
                context["source"].id,
                refs,
            )
        ):
            found.setdefault(key, set()).add(partner_id)
        return found

    @api.model
    def _lookup_tax_ids(self, rows, company_filter):
        """Match tax ids with and without their country prefix, ignoring the
        punctuation of the stored value (``ESB58378431``, ``20-12345678-6``)."""
        found = {}
        variants = {}
        for parsed in rows:
            for variant in parsed.get("vat_variants", []):
                variants[variant] = parsed["vat"]
        if not variants:
            return found
        for partner_id, vat in self.env.execute_query(
            SQL(
                """
                SELECT partner.commercial_partner_id,
                       upper(regexp_replace(partner.vat, '[^0-9A-Za-z]', '', 'g'))
                  FROM res_partner partner
                 WHERE %s
                   AND upper(regexp_replace(partner.vat, '[^0-9A-Za-z]', '', 'g'))
                       = ANY(%s)
                """,
                company_filter,
                list(variants),
            )
        ):
            found.setdefault(variants[vat], set()).add(partner_id)
        return found

    @api.model
    def _lookup_emails(self, context, rows, company_filter):
        found = {}
        emails = list({email for parsed in rows for email in parsed["emails"]})
        if not emails:
            return found
        for partner_id, email in self.env.execute_query(
            SQL(
                """
                SELECT partner.commercial_partner_id, partner.email_normalized
                  FROM res_partner partner
                 WHERE %s AND partner.email_normalized = ANY(%s)
                """,
                company_filter,
                emails,
            )
        ):
            found.setdefault(email, set()).add(partner_id)
        multi = self._multi_email_partners(context)
        for email in emails:
            if email in multi:
                found.setdefault(email, set()).update(multi[email])
        return found

    @api.model
    def _lookup_phones(self, rows, company_filter):
        found = {}
        phones = list({parsed["phone"] for parsed in rows if parsed["phone"]})
        if not phones:
            return found
        for partner_id, phone, mobile in self.env.execute_query(
            SQL(
                """
                SELECT partner.commercial_partner_id, partner.phone_e164,
                       partner.mobile_e164
                  FROM res_partner partner
                 WHERE %s
                   AND (partner.phone_e164 = ANY(%s) OR partner.mobile_e164 = ANY(%s))
                """,
                company_filter,
                phones,
                phones,
            )
        ):
            for number in {phone, mobile} & set(phones):
                found.setdefault(number, set()).add(partner_id)
        return found

    @api.model
    def _multi_email_partners(self, context):
        """Return ``{address: {partner ids}}`` for partners whose e-mail field
        holds several addresses.

        Odoo normalises only the first address of such a field, so without
        this map a row with the second address would create a new customer.
        Read once per run.
        """
        if context["multi_email_partners"] is None:
            addresses = {}
            self.env["res.partner"].flush_model()
            for partner_id, email in self.env.execute_query(
                SQL(
                    """
                    SELECT partner.commercial_partner_id, partner.email
                      FROM res_partner partner
                     WHERE partner.active AND partner.email ~ '[,;]'
                       AND (partner.company_id IS NULL OR partner.company_id = %s)
                    """,
                    context["company"].id,
                )
            ):
                for address in email_split(email):
                    normalized = email_normalize(address, strict=False)
                    if normalized:
                        addresses.setdefault(normalized, set()).add(partner_id)
            context["multi_email_partners"] = addresses
        return context["multi_email_partners"]

    @api.model
    def _row_keys(self, parsed):
        return {
            "ref": [parsed["ref"]] if parsed["ref"] else [],
            "vat": [parsed["vat"]]
            if parsed["vat"] and not parsed["vat_placeholder"]
            else [],
            "email": parsed["emails"],
            "phone": [parsed["phone"]] if parsed["phone"] else [],
        }

    @api.model
    def _resolve(self, context, rows):
        """Set ``partner_id`` on each row and return the review items of the
        rows that cannot be decided.

        ``partner_id`` is a commercial partner id, or a negative token for a
        partner to create. Rules are tried in order: the source's customer
        key, the tax id, the e-mail addresses, the E.164 phone. The first rule
        that finds any candidate decides, and two candidates at that rule send
        the row to review. Rows of the same batch share their keys, so two
        rows of one new customer create one partner.
        """
        found = self._lookup_partners(context, rows)
        seen = {level: {} for level in IDENTITY_LEVELS}
        reviews = []
        next_token = -1
        for parsed in rows:
            keys = self._row_keys(parsed)
            # A key already linked for this source needs no new link.
            parsed["ref_linked"] = bool(parsed["ref"]) and parsed["ref"] in found["ref"]
            if parsed["vat_placeholder"]:
                parsed["review"] = True
                reviews.append(
                    self._review_values(
                        parsed,
                        self.env._(
                            "Tax id %(vat)s is a placeholder, not a customer's own "
                            "tax id.",
                            vat=parsed["vat"],
                        ),
                        set(),
                    )
                )
                continue
            candidates = set()
            for level in IDENTITY_LEVELS:
                for key in keys[level]:
                    candidates |= found[level].get(key, set())
                    if key in seen[level]:
                        candidates.add(seen[level][key])
                if candidates:
                    break
            if len(candidates) > 1:
                parsed["review"] = True
                reviews.append(
                    self._review_values(
                        parsed,
                        self.env._(
                            "Row %(row)s matches %(count)s customers by %(rule)s.",
                            row=parsed["number"],
                            count=len(candidates),
                            rule=self._identity_rule_labels()[level],
                        ),
                        {candidate for candidate in candidates if candidate > 0},
                    )
                )
                continue
            if candidates:
                parsed["partner_id"] = candidates.pop()
            else:
                parsed["partner_id"] = next_token
                next_token -= 1
            for level in IDENTITY_LEVELS:
                for key in keys[level]:
                    seen[level].setdefault(key, parsed["partner_id"])
        return reviews

    @api.model
    def _identity_rule_labels(self):
        return {
            "ref": self.env._("customer key"),
            "vat": self.env._("tax id"),
            "email": self.env._("e-mail"),
            "phone": self.env._("phone"),
        }

    @api.model
    def _review_values(self, parsed, reason, candidate_ids):
        return {
            "row_number": parsed["number"],
            "raw": parsed["raw"],
            "reason": reason,
            "values_json": json.loads(
                json.dumps(
                    {
                        key: parsed[key]
                        for key in ("ref", "partner", "txn", "consent")
                        if parsed.get(key)
                    },
                    default=str,
                )
            ),
            "candidate_partner_ids": [fields.Command.set(sorted(candidate_ids))],
        }

    # ------------------------------------------------------------------
    # Writing
    # ------------------------------------------------------------------

    @api.model
    def _write(self, context, rows, tokens):
        """Write partners, links, transactions and consents of ``rows``.

        ``tokens`` maps the negative tokens of new partners to the ids of the
        partners created for them, and is filled as partners are created.
        """
        source = context["source"]
        counts = {"created": 0, "transactions": 0, "consents": 0}
        partners = self.env["res.partner"].sudo()

        # New partners that get a ledger row in this batch are created with
        # the mark that record_transactions would set with one more UPDATE
        # per partner. Of two rows with one reference, the last one is kept.
        ledger_tokens = set(
            {
                parsed["txn"]["source_ref"]: parsed["partner_id"]
                for parsed in rows
                if parsed.get("txn")
            }.values()
        )
        new_tokens = []
        new_vals = []
        for parsed in rows:
            token = parsed["partner_id"]
            if token < 0 and token not in tokens and token not in new_tokens:
                new_tokens.append(token)
                vals = dict(parsed["partner"])
                if token in ledger_tokens:
                    vals["profile_outdated"] = True
                new_vals.append(vals)
        if new_vals:
            created = self.env["crm.legacy.partner.writer"]._insert_partners(
                partners, new_vals, context
            )
            tokens.update(zip(new_tokens, created.ids, strict=True))
            counts["created"] = len(created)
            context["created_ids"].update(created.ids)

        for parsed in rows:
            partner_id = parsed["partner_id"]
            parsed["resolved_id"] = tokens.get(partner_id, partner_id)
            if partner_id > 0 and partner_id not in context["created_ids"]:
                context["matched_ids"].add(partner_id)

        if source.partner_update != "never":
            self.env["crm.legacy.partner.writer"]._update_partners(
                partners,
                self._partner_updates(context, rows),
                overwrite=source.partner_update == "overwrite",
            )
        self._write_links(source, rows)
        counts["transactions"] = self._write_transactions(context, rows)
        counts["consents"] = self._write_consents(context, rows)
        return counts

    @api.model
    def _partner_updates(self, context, rows):
        """Return ``{partner id: values}`` of the matched partners of ``rows``.

        Partners created in this run are left out: they got the values of
        their first row. When several rows of the batch hold a value for the
        same field of one partner, the first row wins.
        """
        updates = {}
        for parsed in rows:
            partner_id = parsed["resolved_id"]
            if partner_id in context["created_ids"]:
                continue
            values = updates.setdefault(partner_id, {})
            for field_name in UPDATED_PARTNER_FIELDS:
                value = parsed["partner"].get(field_name)
                if value and field_name not in values:
                    values[field_name] = value
        return {partner_id: values for partner_id, values in updates.items() if values}

    @api.model
    def _write_links(self, source, rows):
        links = {
            parsed["ref"]: parsed["resolved_id"]
            for parsed in rows
            if parsed["ref"] and not parsed.get("ref_linked")
        }
        if not links:
            return
        self.env["crm.legacy.partner.link"].flush_model()
        self.env.execute_query(
            SQL(
                """
                INSERT INTO crm_legacy_partner_link
                       (source_id, external_key, partner_id, company_id,
                        create_uid, write_uid, create_date, write_date)
                SELECT %(source)s, key, partner, %(company)s, %(uid)s, %(uid)s,
                       now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
                  FROM unnest(%(keys)s::varchar[], %(partners)s::int[]) AS t(key, partner)
                ON CONFLICT (source_id, external_key) DO NOTHING
                """,
                source=source.id,
                company=source.company_id.id,
                uid=self.env.uid,
                keys=list(links),
                partners=list(links.values()),
            )
        )
        self.env["crm.legacy.partner.link"].invalidate_model()

    @api.model
    def _write_transactions(self, context, rows):
        """Write the ledger rows that are new or changed; return how many
        were new.

        Rows whose reference already holds the same partner, date, amount and
        kind are left alone, so re-running a source writes nothing.
        """
        vals_by_ref = {}
        for parsed in rows:
            if parsed.get("txn"):
                vals_by_ref[parsed["txn"]["source_ref"]] = dict(
                    parsed["txn"],
                    partner_id=parsed["resolved_id"],
                    company_id=context["company"].id,
                )
        if not vals_by_ref:
            return 0
        transactions = self.env["crm.customer.transaction"].sudo()
        company = context["company"]
        transactions.flush_model(["source_ref", "partner_id", "date", "amount", "kind"])
        existing = {
            reference: (partner_id, date, amount, kind)
            for reference, partner_id, date, amount, kind in self.env.execute_query(
                SQL(
                    """
                    SELECT source_ref, partner_id, date, amount, kind
                      FROM crm_customer_transaction
                     WHERE company_id = %s AND source_ref = ANY(%s)
                    """,
                    company.id,
                    list(vals_by_ref),
                )
            )
        }
        currency = company.currency_id
        rounding = currency.rounding
        vals_list = []
        for reference, vals in vals_by_ref.items():
            record = existing.get(reference)
            if (
                record
                and record[0] == vals["partner_id"]
                and record[1] == vals["date"]
                and record[3] == vals["kind"]
            ):
                amount = vals["amount"]
                if vals["currency_id"] != currency.id:
                    amount = (
                        self.env["res.currency"]
                        .browse(vals["currency_id"])
                        ._convert(amount, currency, company, vals["date"])
                    )
                # Equal amounts, the common case of a re-run, need no rounding.
                if (
                    record[2] == amount
                    or float_compare(record[2], amount, precision_rounding=rounding)
                    == 0
                ):
                    continue
            vals_list.append(vals)
        if vals_list:
            transactions.record_transactions(vals_list)
        return len(set(vals_by_ref) - set(existing))

    @api.model
    def _write_consents(self, context, rows):
        """Record consents grouped by channel, state and date, and return how
        many partners got an event.

        A dated row is skipped when the partner's ledger already has an event
        with its channel, state and date, so re-running a source that contains
        a history of consent states appends no event. An undated row is skipped when
        the partner's current consent already has its state.
        """
        groups = {}
        for parsed in rows:
            consent = parsed.get("consent")
            if consent:
                key = (consent["channel"], consent["state"], consent["date"])
                groups.setdefault(key, set()).add(parsed["resolved_id"])
        if not groups:
            return 0
        purpose = self.env["crm.consent"].sudo()._get_purpose("marketing")
        channels = {
            channel.code: channel
            for channel in self.env["crm.consent.channel"].sudo().search([])
        }
        recorded = 0
        for (channel_code, state, date), partner_ids in groups.items():
            domain = [
                ("partner_id", "in", list(partner_ids)),
                ("channel_id", "=", channels[channel_code].id),
                ("purpose_id", "=", purpose.id),
                ("state", "=", state),
            ]
            if date:
                # An older state of a history is in the ledger but is no longer
                # the current state, so only the ledger shows it was imported.
                recorded_model = self.env["crm.consent.event"]
                domain.append(("date", "=", date))
            else:
                recorded_model = self.env["crm.consent"]
            unchanged = set(recorded_model.sudo().search(domain).partner_id.ids)
            partners = (
                self.env["res.partner"].sudo().browse(sorted(partner_ids - unchanged))
            )
            if not partners:
                continue
            partners.consent_record(
                channel_code,
                state,
                source="import",
                proof=self.env._(
                    "Legacy source %(name)s, run %(run)s",
                    name=context["source"].name,
                    run=context["run"].id,
                ),
                date=date,
                double_opt_in=context["source"].consent_double_opt_in,
            )
            recorded += len(partners)
        return recorded

    # ------------------------------------------------------------------
    # Review queue
    # ------------------------------------------------------------------

    @api.model
    def _apply_review(self, review):
        """Write a reviewed row onto its chosen partner, or a new partner."""
        source = review.source_id
        context = self._make_context(source)
        context["run"] = review.run_id
        values = dict(review.values_json or {})
        parsed = {
            "number": review.row_number,
            "raw": review.raw,
            "ref": values.get("ref") or False,
            "partner": values.get("partner") or {},
            "txn": values.get("txn"),
            "consent": values.get("consent"),
            "partner_id": review.partner_id.commercial_partner_id.id or -1,
        }

        if parsed["txn"]:
            parsed["txn"]["date"] = fields.Date.to_date(parsed["txn"]["date"])
        if parsed["consent"] and parsed["consent"]["date"]:
            parsed["consent"]["date"] = fields.Datetime.to_datetime(
                parsed["consent"]["date"]
            )
        # A reviewed row's tax id is a placeholder or matched several
        # customers: it must not become a key for later rows, nor fill the
        # chosen customer's tax id.
        parsed["partner"].pop("vat", None)

        counts = self._write(context, [parsed], {})
        review.run_id.sudo().write(
            {
                "partners_created": review.run_id.partners_created + counts["created"],
                "transactions_created": review.run_id.transactions_created
                + counts["transactions"],
                "consents_recorded": review.run_id.consents_recorded
                + counts["consents"],
            }
        )
        review.partner_id = parsed["resolved_id"]
