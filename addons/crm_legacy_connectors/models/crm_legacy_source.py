import ast
import base64
import datetime
import io
import logging
import os
import re
from urllib.parse import urlparse

from markupsafe import Markup, escape

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..tools import readers, redaction
from ..tools.field_values import check_field_values

_logger = logging.getLogger(__name__)

PREVIEW_ROWS = 10
# Characters of a rejected value quoted in an error message.
MAX_QUOTED = 200


def _shorten(text):
    text = str(text or "")
    return text if len(text) <= MAX_QUOTED else text[:MAX_QUOTED] + "…"


class CrmLegacySource(models.Model):
    """A legacy system to read customers, transactions and consents from."""

    _name = "crm.legacy.source"
    _description = "Legacy Data Source"
    _order = "name, id"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    kind = fields.Selection(
        [
            ("csv", "CSV File"),
            ("xlsx", "XLSX Workbook"),
            ("sql", "SQL Database"),
            ("odoo", "Odoo over XML-RPC"),
        ],
        required=True,
        default="csv",
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    mapping_ids = fields.One2many("crm.legacy.mapping", "source_id", copy=True)
    run_ids = fields.One2many("crm.legacy.run", "source_id")
    run_count = fields.Integer(compute="_compute_run_count")
    last_run_id = fields.Many2one("crm.legacy.run", compute="_compute_run_count")

    # Files
    file = fields.Binary(attachment=True, copy=False)
    file_name = fields.Char()
    encoding = fields.Selection(
        [("utf-8", "UTF-8"), ("cp1252", "Windows-1252"), ("latin-1", "Latin-1")],
        help="Leave empty to detect it: UTF-8, then Windows-1252, then Latin-1.",
    )
    delimiter = fields.Selection(
        [
            (";", "Semicolon"),
            (",", "Comma"),
            ("\t", "Tab"),
            ("|", "Vertical bar"),
            ("whitespace", "Spaces"),
        ],
        help="Leave empty to detect it from the header line.",
    )
    has_header = fields.Boolean(
        default=True,
        help="Whether the first line contains the column names. Without a header, "
        "columns are named 1, 2, 3...",
    )
    date_format = fields.Char(
        default="%d/%m/%Y",
        required=True,
        help="strftime format of the dates in text columns, such as %d/%m/%Y. "
        "Values written without the separators, such as 15042024, are read "
        "in the same order.",
    )
    decimal_separator = fields.Char(default=",", size=1, required=True)
    thousands_separator = fields.Char(default=".", size=1)
    consent_double_opt_in = fields.Boolean(
        string="Confirm grants by e-mail",
        help="Record e-mail grants read from the source as pending and send each "
        "customer a double opt-in link; consent is granted when the customer "
        "confirms.",
    )

    partner_update = fields.Selection(
        [
            ("fill", "Fill empty fields"),
            ("overwrite", "Overwrite with source values"),
            ("never", "Never"),
        ],
        string="Update Matched Customers",
        default="fill",
        required=True,
        help="What a row does to a customer that already exists: fill the "
        "e-mail, phone, street, city, zip, country and tax id where the "
        "customer has none, overwrite them with the source's values, or change "
        "nothing. Names are never changed.",
    )

    # SQL databases
    dsn = fields.Char(
        string="DSN",
        groups="crm_consent.group_marketing_manager",
        copy=False,
        help="libpq connection string or postgresql:// URI for PostgreSQL; "
        "sqlite:///path/file.db or a path ending in .db for SQLite.",
    )
    query = fields.Text(help="SELECT statement; it runs in a read-only transaction.")
    timeout = fields.Integer(
        default=300, help="Seconds after which the query is cancelled."
    )

    # Odoo over XML-RPC
    url = fields.Char(string="URL")
    database = fields.Char()
    login = fields.Char()
    password = fields.Char(
        string="Password or API Key",
        groups="crm_consent.group_marketing_manager",
        copy=False,
    )
    model = fields.Char(help="Technical name of the remote model, such as res.partner.")
    domain = fields.Char(default="[]", help="Domain of the remote records to read.")

    # Defaults and schedule
    country_id = fields.Many2one(
        "res.country",
        string="Default Country",
        help="Country of rows without a country column, for tax ids and phones. "
        "The company's country when empty.",
    )
    currency_id = fields.Many2one(
        "res.currency",
        string="Default Currency",
        help="Currency of amounts without a currency column. The company's "
        "currency when empty.",
    )
    batch_size = fields.Integer(
        default=1000, help="Rows read, resolved and written per transaction."
    )
    is_scheduled = fields.Boolean(
        string="Run on Schedule", help="Run this source with the scheduled action."
    )
    is_run_requested = fields.Boolean(
        string="Run Requested",
        copy=False,
        help="A user asked for a background run, not started yet.",
    )
    run_requested_by_id = fields.Many2one(
        "res.users",
        copy=False,
        readonly=True,
        help="User who asked for the background run. The run is recorded as "
        "theirs and its messages are written in their language.",
    )
    watermark_column = fields.Char(
        help="Date or number column; on a scheduled run only rows above the "
        "watermark are read."
    )
    watermark_value = fields.Char(
        help="Highest value of the watermark column read by the last run."
    )
    preview_html = fields.Html(
        readonly=True, sanitize=True, copy=False, string="Preview"
    )

    @api.depends("run_ids")
    def _compute_run_count(self):
        groups = dict(
            self.env["crm.legacy.run"]._read_group(
                [("source_id", "in", self.ids)], ["source_id"], ["id:max"]
            )
        )
        counts = dict(
            self.env["crm.legacy.run"]._read_group(
                [("source_id", "in", self.ids)], ["source_id"], ["__count"]
            )
        )
        runs = self.env["crm.legacy.run"]
        for source in self:
            source.run_count = counts.get(source._origin, 0)
            source.last_run_id = runs.browse(groups.get(source._origin))

    @api.constrains("domain")
    def _check_domain(self):
        for source in self:
            try:
                domain = ast.literal_eval(source.domain or "[]")
            except (ValueError, SyntaxError, RecursionError, MemoryError) as error:
                raise ValidationError(
                    self.env._(
                        "Invalid domain %(domain)s.", domain=_shorten(source.domain)
                    )
                ) from error
            if not isinstance(domain, list):
                raise ValidationError(
                    self.env._(
                        "Invalid domain %(domain)s.", domain=_shorten(source.domain)
                    )
                )

    @api.constrains("decimal_separator", "thousands_separator")
    def _check_separators(self):
        for source in self:
            decimal = source.decimal_separator or ""
            thousands = source.thousands_separator or ""
            if any(char.isdigit() or char in "+-()" for char in decimal + thousands):
                raise ValidationError(
                    self.env._(
                        "The separators of source %(name)s cannot be digits, signs "
                        "or parentheses.",
                        name=source.name,
                    )
                )
            if decimal == thousands:
                raise ValidationError(
                    self.env._(
                        "The decimal and thousands separators of source %(name)s "
                        "are both %(separator)s; an amount such as 1%(separator)s234 "
                        "could then be read two ways.",
                        name=source.name,
                        separator=decimal,
                    )
                )

    @api.constrains("date_format")
    def _check_date_format(self):
        sample = datetime.date(2024, 4, 3)
        for source in self:
            date_format = source.date_format or "%d/%m/%Y"
            try:
                valid = (
                    datetime.datetime.strptime(
                        sample.strftime(date_format), date_format
                    ).date()
                    == sample
                )
            except ValueError:
                valid = False
            if not valid:
                raise ValidationError(
                    self.env._(
                        "The date format %(format)s of source %(name)s does not "
                        "read back the dates it writes; use strftime codes such as "
                        "%%d/%%m/%%Y or %%Y-%%m-%%d.",
                        format=date_format,
                        name=source.name,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            check_field_values(self, vals)
            self._check_file_encoding(vals)
        return super().create(vals_list)

    def write(self, vals):
        check_field_values(self, vals)
        self._check_file_encoding(vals)
        return super().write(vals)

    @api.model
    def _check_file_encoding(self, vals):
        """Raise when the uploaded ``file`` of ``vals`` is not base64 text,
        as the web client and XML-RPC clients send it."""
        content = vals.get("file")
        if not content:
            return
        if isinstance(content, str):
            content = content.encode("ascii", "replace")
        try:
            # Line breaks are allowed, as base64.encodebytes() writes them.
            base64.b64decode(re.sub(rb"\s+", b"", content), validate=True)
        except (ValueError, TypeError) as error:
            raise UserError(
                self.env._(
                    "The %(field)s field of source %(name)s is not base64-encoded "
                    "text. Send the file's content encoded in base64, for example "
                    "with Python's base64.b64encode().",
                    field=self._fields["file"]._description_string(self.env),
                    name=vals.get("name") or ", ".join(self.mapped("name")),
                )
            ) from error

    @api.constrains("url")
    def _check_url_credentials(self):
        # Marketing users read the URL, and only managers read the password.
        for source in self:
            try:
                parsed = urlparse(source.url or "")
                has_credentials = bool(parsed.username or parsed.password)
            except ValueError:
                has_credentials = False
            if has_credentials:
                raise ValidationError(
                    self.env._(
                        "The URL of source %(name)s contains a login or password. "
                        "Remove them from the URL and enter them in the Login "
                        "and Password or API Key fields.",
                        name=source.name,
                    )
                )

    @api.constrains("batch_size")
    def _check_batch_size(self):
        for source in self:
            if source.batch_size < 1:
                raise ValidationError(self.env._("The batch size must be positive."))

    # ------------------------------------------------------------------
    # Reading
    # ------------------------------------------------------------------

    def _open_file(self):
        """Return a binary file object over the uploaded file.

        The attachment's file in the filestore is opened directly, so large
        files are streamed instead of decoded from base64 in memory.
        """
        self.ensure_one()
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .search(
                [
                    ("res_model", "=", self._name),
                    ("res_id", "=", self.id),
                    ("res_field", "=", "file"),
                ],
                limit=1,
            )
        )
        if not attachment:
            raise UserError(
                self.env._("Source %(name)s has no file to read.", name=self.name)
            )
        if attachment.store_fname:
            path = attachment._full_path(attachment.store_fname)
            if os.path.exists(path):
                return open(path, "rb")
        return io.BytesIO(base64.b64decode(attachment.datas or b""))

    def _redact_secrets(self, text):
        """Return ``text`` with the DSN and passwords of this source masked."""
        self.ensure_one()
        source = self.sudo()
        secrets = redaction.secret_values(source.dsn, source.url, source.password)
        return redaction.redact(text, secrets)

    def _iter_rows(self, on_header=None):
        """Yield the ``LegacyRow`` tuples of this source, in source order.

        ``on_header`` is called with the source's column names before the
        first row, also when there is no row (files and SQL sources).
        """
        self.ensure_one()
        source = self.sudo()
        if source.kind == "csv":
            with source._open_file() as stream:
                yield from readers.read_delimited(
                    stream,
                    encoding=source.encoding,
                    delimiter=source.delimiter,
                    has_header=source.has_header,
                    on_header=on_header,
                )
        elif source.kind == "xlsx":
            with source._open_file() as stream:
                yield from readers.read_xlsx(stream, on_header=on_header)
        elif source.kind == "sql":
            if not source.dsn or not source.query:
                raise UserError(
                    self.env._(
                        "Source %(name)s needs a DSN and a query.", name=source.name
                    )
                )
            yield from readers.read_sql(
                source.dsn,
                source.query,
                source.batch_size,
                source.timeout,
                on_header=on_header,
            )
        elif source.kind == "odoo":
            columns = source.mapping_ids.mapped("column")
            yield from readers.read_odoo(
                source.url,
                source.database,
                source.login,
                source.password,
                source.model,
                ast.literal_eval(source.domain or "[]"),
                list(dict.fromkeys(columns)),
                source.batch_size,
            )

    def preview(self, limit=PREVIEW_ROWS):
        """Return the first ``limit`` rows as the import will read them.

        Each item is ``{'row_number', 'values', 'error'}`` where ``values``
        maps mapping targets to the parsed values and ``error`` is the reason
        the row would be rejected, or False. Nothing is written.
        """
        self.ensure_one()
        importer = self.env["crm.legacy.importer"]
        context = importer._make_context(self)
        result = []
        try:
            for row in self._iter_rows(
                on_header=lambda columns: importer._check_columns(context, columns)
            ):
                if len(result) >= limit:
                    break
                parsed = importer._parse_row(context, row)
                result.append(
                    {
                        "row_number": row.number,
                        "values": parsed.get("display", {}),
                        "error": parsed.get("reason") or False,
                    }
                )
        except readers.SourceError as error:
            raise UserError(
                self.env._(
                    "Source %(name)s cannot be read: %(error)s",
                    name=self.name,
                    error=self._redact_secrets(importer._source_error_text(error)),
                )
            ) from error
        return result

    def action_preview(self):
        """Store an HTML table of the first rows in ``preview_html``."""
        for source in self:
            rows = source.preview()
            targets = dict(
                self.env["crm.legacy.mapping"]
                ._fields["target"]
                ._description_selection(self.env)
            )
            columns = [t for t in targets if any(t in r["values"] for r in rows)]
            head = Markup("").join(
                Markup("<th>%s</th>") % targets[target] for target in columns
            )
            body = Markup("")
            for row in rows:
                cells = Markup("").join(
                    Markup("<td>%s</td>") % row["values"].get(target, "")
                    for target in columns
                )
                error = Markup("<td class='text-danger'>%s</td>") % (row["error"] or "")
                body += Markup("<tr><td>%s</td>%s%s</tr>") % (
                    row["row_number"],
                    cells,
                    error,
                )
            source.preview_html = Markup(
                "<table class='table table-sm'><thead><tr><th>#</th>%s<th>%s</th>"
                "</tr></thead><tbody>%s</tbody></table>"
            ) % (head, escape(self.env._("Rejection Reason")), body)
        return True

    # ------------------------------------------------------------------
    # Running
    # ------------------------------------------------------------------

    def action_run(self):
        """Read the source and land its rows on customers.

        Returns the id of the ``crm.legacy.run`` that records the counts and
        the rejected rows. Running the same source again changes nothing for
        rows already imported: customers are found by their key and
        transactions by their reference.
        """
        self.ensure_one()
        self.check_access("read")
        importer = self.env["crm.legacy.importer"]
        if not self.env.context.get("lang"):
            # XML-RPC calls often send no language; the run's messages and
            # rejection reasons are stored and read later in the user's UI.
            importer = importer.with_context(lang=self.env.user.lang)
        return importer._run(self).id

    def action_run_background(self):
        """Queue the sources for the scheduled action, which commits after
        each batch so the run's counts grow while it reads."""
        self.check_access("read")
        self.sudo().write(
            {"is_run_requested": True, "run_requested_by_id": self.env.user.id}
        )
        self.env.ref("crm_legacy_connectors.ir_cron_run_legacy_sources")._trigger()
        return True

    def _fail_interrupted_runs(self):
        """Mark as failed the runs of these sources still ``running``.

        The scheduled action commits after each batch and runs one job at a
        time, so such a run was cut short by a server or database restart
        and nothing is reading it any more. The next run resumes the import.
        """
        runs = (
            self.env["crm.legacy.run"]
            .sudo()
            .search([("source_id", "in", self.ids), ("state", "=", "running")])
        )
        if runs:
            runs.write(
                {
                    "state": "failed",
                    "ended_at": fields.Datetime.now(),
                    "message": self.env._(
                        "The run stopped before it finished, for example because "
                        "the server or the database restarted. The next run "
                        "imports the rest, and rows already imported are not "
                        "imported twice."
                    ),
                }
            )
            _logger.info("Marked %s interrupted legacy runs as failed", len(runs))

    def _run_language(self):
        """Return the language of the messages of this source's background
        run: the requesting user's, or for a scheduled run the language of
        the source's company (its partner's), or English."""
        self.ensure_one()
        source = self.sudo()
        return (
            source.run_requested_by_id.lang
            or source.company_id.partner_id.lang
            or "en_US"
        )

    @api.model
    def _cron_run_scheduled(self):
        """Run the sources queued by a user, then every scheduled source
        incrementally from its watermark; each batch is its own transaction.

        A requested run is recorded as run by the requesting user, and its
        messages are in that user's language. A scheduled run's messages are
        in the language of the source's company."""
        requested = self.search([("is_run_requested", "=", True)])
        scheduled = self.search([("is_scheduled", "=", True)]) - requested
        languages = {source: source._run_language() for source in requested | scheduled}
        for lang in set(languages.values()):
            self.browse(
                [source.id for source, code in languages.items() if code == lang]
            ).with_context(lang=lang)._fail_interrupted_runs()
        cron = self.env["ir.cron"]
        total = len(requested) + len(scheduled)
        done = 0
        for source, incremental in [(s, False) for s in requested] + [
            (s, True) for s in scheduled
        ]:
            user = source.sudo().run_requested_by_id if not incremental else None
            self.env["crm.legacy.importer"].with_context(
                crm_legacy_incremental=incremental,
                crm_legacy_commit=True,
                crm_legacy_run_user_id=user.id if user else False,
                lang=languages[source],
            )._run(source)
            # Cleared once the run has ended, so that a run cut short by a
            # server or database restart is started again by the next cron run.
            source.write({"is_run_requested": False, "run_requested_by_id": False})
            done += 1
            cron._notify_progress(done=done, remaining=total - done)
