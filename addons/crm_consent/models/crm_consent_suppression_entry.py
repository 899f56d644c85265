from odoo import fields, models


class CrmConsentSuppressionEntry(models.Model):
    """SHA-256 digest of one normalised address of a suppression list."""

    _name = "crm.consent.suppression.entry"
    _description = "Suppression List Entry"
    _log_access = False

    list_id = fields.Many2one(
        "crm.consent.suppression.list", required=True, ondelete="cascade", index=True
    )
    digest = fields.Char(required=True, index=True, size=64)

    _sql_constraints = [
        (
            "list_digest_unique",
            "unique (list_id, digest)",
            "This entry is already listed.",
        ),
    ]
