import base64
import hashlib
import io
import logging
import re
import time

from odoo import fields, models, modules
from odoo.exceptions import UserError
from odoo.tools import SQL, email_normalize

from ..tools import normalize_phone

_logger = logging.getLogger(__name__)

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
BATCH_SIZE = 10000


def address_digest(address):
    """Return the SHA-256 hex digest that suppression lists store for an address."""
    return hashlib.sha256(address.encode()).hexdigest()


class CrmConsentSuppressionList(models.Model):
    """A national or in-house exclusion list, such as Spain's Lista Robinson.

    Entries are stored as SHA-256 digests of the normalised address (the
    lower-case e-mail, or the phone number in E.164 with its ``+``), whether
    the file gave them plain or already hashed, so the list never keeps
    addresses in clear. Matching partners get a refusal with source
    ``suppression_list``; partners created or edited later are checked too.
    """

    _name = "crm.consent.suppression.list"
    _description = "Suppression List"
    _inherit = ["mail.thread"]
    _order = "id desc"

    name = fields.Char(required=True, tracking=True)
    channel_id = fields.Many2one(
        "crm.consent.channel",
        required=True,
        ondelete="restrict",
        tracking=True,
        help="Channel the listed addresses refuse: e-mail lists hold e-mail "
        "addresses, phone, SMS and WhatsApp lists hold phone numbers.",
    )
    country_id = fields.Many2one(
        "res.country",
        help="Country used to read phone numbers written without their "
        "international prefix.",
    )
    is_hashed = fields.Boolean(
        string="Hashed entries",
        help="Each line is already a SHA-256 hex digest of the normalised address, "
        "as some services distribute their lists.",
    )
    file = fields.Binary(
        attachment=True,
        help="One address or digest per line. The file is deleted once imported, "
        "and only the digests are kept.",
    )
    file_name = fields.Char()
    company_id = fields.Many2one(
        "res.company", default=lambda self: self.env.company, index=True
    )
    entry_count = fields.Integer(readonly=True)
    rejected_count = fields.Integer(readonly=True)
    matched_count = fields.Integer(
        readonly=True,
        help="Partners whose consent this list refused at the last import.",
    )
    imported_date = fields.Datetime(readonly=True)
    active = fields.Boolean(default=True)

    def _address_kind(self):
        return "email" if self.channel_id.address_type == "email" else "phone"

    def _get_file_store_name(self):
        """Return the filestore name of the upload, and drop its text index.

        Odoo keeps the whole text of a plain-text attachment in
        ``index_content``: here every address in clear, and a million lines
        loaded into memory whenever the ORM prefetches the attachment. So
        the attachment is read and its index emptied in SQL.
        """
        self.env["ir.attachment"].flush_model()
        rows = self.env.execute_query(
            SQL(
                """
                UPDATE ir_attachment
                   SET index_content = NULL
                 WHERE res_model = %s AND res_field = 'file' AND res_id = %s
             RETURNING store_fname
                """,
                self._name,
                self.id,
            )
        )
        self.env["ir.attachment"].invalidate_model(["index_content"])
        return rows[0][0] if rows else None

    def _iter_lines(self):
        """Yield the file's lines one by one, streaming from the filestore."""
        store_name = self._get_file_store_name()
        if store_name:
            stream = open(self.env["ir.attachment"]._full_path(store_name), "rb")
        else:
            stream = io.BytesIO(base64.b64decode(self.file or b""))
        with stream:
            for raw_line in stream:
                yield raw_line.decode("utf-8", errors="replace").strip().strip('"')

    def _digest_line(self, line):
        if self.is_hashed:
            digest = line.lower()
            return digest if SHA256_HEX.match(digest) else None
        if self._address_kind() == "email":
            address = email_normalize(line)
        else:
            address = normalize_phone(line, self.country_id.code)
        return address_digest(address) if address else None

    def action_import(self):
        """Load the file into the list, then refuse every matching partner.

        The file is read line by line and written in batches of digests, so
        memory stays bounded by the batch size however long the list is.
        Lines that are not an address (or a digest, for hashed lists) are
        counted as rejected; a header line is one of them.
        """
        # Reading the binary field, even with bin_size, loads the whole
        # upload into memory: count its attachment instead.
        Attachment = self.env["ir.attachment"].sudo()
        for suppression_list in self:
            has_file = Attachment.search_count(
                [
                    ("res_model", "=", self._name),
                    ("res_field", "=", "file"),
                    ("res_id", "=", suppression_list.id),
                ]
            )
            if not has_file:
                raise UserError(
                    self.env._(
                        "Suppression list %(name)s has no file to import.",
                        name=suppression_list.name,
                    )
                )
            suppression_list._import_file()
        return True

    def _import_file(self):
        self.ensure_one()
        started = time.monotonic()
        self.env["crm.consent.suppression.entry"].flush_model()
        batch, rejected, examples = [], 0, []
        for line_number, line in enumerate(self._iter_lines(), start=1):
            if not line:
                continue
            digest = self._digest_line(line)
            if digest is None:
                rejected += 1
                if len(examples) < 3:
                    examples.append(f"{line_number}: {line[:60]}")
                continue
            batch.append(digest)
            if len(batch) >= BATCH_SIZE:
                self._insert_digests(batch)
                batch = []
        if batch:
            self._insert_digests(batch)

        entry_count = self.env["crm.consent.suppression.entry"].search_count(
            [("list_id", "=", self.id)]
        )
        matched = self.env["res.partner"]._consent_apply_suppression(self)
        # The digests are all the list needs from now on: dropping the upload
        # keeps the addresses out of the database and the filestore.
        self.write(
            {
                "file": False,
                "entry_count": entry_count,
                "rejected_count": rejected,
                "matched_count": len(matched),
                "imported_date": fields.Datetime.now(),
            }
        )
        if rejected:
            self.message_post(
                body=self.env._(
                    "%(count)s lines were not valid addresses and were skipped, "
                    "for example line %(examples)s.",
                    count=rejected,
                    examples="; ".join(examples),
                )
            )
        _logger.info(
            "Imported suppression list %s: %s entries, %s rejected lines, "
            "%s partners refused in %.2fs",
            self.id,
            entry_count,
            rejected,
            len(matched),
            time.monotonic() - started,
        )

    def _insert_digests(self, digests):
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO crm_consent_suppression_entry (list_id, digest)
                SELECT %s, digest FROM unnest(%s::varchar[]) AS digest
                ON CONFLICT (list_id, digest) DO NOTHING
                """,
                self.id,
                digests,
            )
        )
        if not modules.module.current_test and len(digests) >= BATCH_SIZE:
            # A million-line list must not hold one long transaction.
            self.env.cr.commit()  # pylint: disable=invalid-commit
