from odoo import fields, models


class CrmLegacyPartnerLink(models.Model):
    """Link between a customer's key in a legacy source and its partner.

    Identity resolution looks these links up before any other rule, so a
    customer keeps its partner across runs even when its e-mail changes.
    """

    _name = "crm.legacy.partner.link"
    _description = "Legacy Customer Key"
    _rec_name = "external_key"

    source_id = fields.Many2one(
        "crm.legacy.source", required=True, ondelete="cascade", index=True
    )
    external_key = fields.Char(required=True)
    partner_id = fields.Many2one(
        "res.partner", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="source_id.company_id", store=True)

    _sql_constraints = [
        (
            "source_key_unique",
            "unique(source_id, external_key)",
            "A customer key can link to one partner per source only.",
        ),
    ]
