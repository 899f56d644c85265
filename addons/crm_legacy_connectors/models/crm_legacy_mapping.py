from odoo import api, fields, models

from ..tools.field_values import check_field_values

MAPPING_TARGETS = [
    ("partner_ref", "Customer: external key"),
    ("partner_name", "Customer: name"),
    ("partner_vat", "Customer: tax id"),
    ("partner_email", "Customer: e-mail"),
    ("partner_phone", "Customer: phone"),
    ("partner_street", "Customer: street"),
    ("partner_city", "Customer: city"),
    ("partner_zip", "Customer: ZIP"),
    ("partner_country", "Customer: country"),
    ("partner_lang", "Customer: language"),
    ("txn_ref", "Transaction: reference"),
    ("txn_date", "Transaction: date"),
    ("txn_amount", "Transaction: amount"),
    ("txn_currency", "Transaction: currency"),
    ("txn_kind", "Transaction: kind"),
    ("consent_channel", "Consent: channel"),
    ("consent_state", "Consent: state"),
    ("consent_date", "Consent: date"),
]


class CrmLegacyMapping(models.Model):
    _name = "crm.legacy.mapping"
    _description = "Legacy Source Column Mapping"
    _order = "source_id, sequence, id"

    source_id = fields.Many2one(
        "crm.legacy.source", required=True, ondelete="cascade", index=True
    )
    sequence = fields.Integer(default=10)
    column = fields.Char(
        required=True,
        help="Column name as written in the header of the file, the query result "
        "or the remote model's field name. Files without a header number their "
        "columns from 1.",
    )
    target = fields.Selection(MAPPING_TARGETS, required=True)

    _sql_constraints = [
        (
            "target_unique",
            "unique(source_id, target)",
            "Each target can be mapped from one column only.",
        ),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            check_field_values(self, vals)
        return super().create(vals_list)

    def write(self, vals):
        check_field_values(self, vals)
        return super().write(vals)
