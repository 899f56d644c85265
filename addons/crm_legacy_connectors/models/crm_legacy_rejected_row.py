from odoo import fields, models


class CrmLegacyRejectedRow(models.Model):
    _name = "crm.legacy.rejected.row"
    _description = "Legacy Import Rejected Row"
    _order = "run_id, row_number, id"
    _rec_name = "row_number"

    run_id = fields.Many2one(
        "crm.legacy.run", required=True, ondelete="cascade", index=True
    )
    source_id = fields.Many2one(related="run_id.source_id", store=True)
    company_id = fields.Many2one(related="run_id.company_id", store=True)
    row_number = fields.Integer(required=True, help="Data row, counted from 1.")
    column = fields.Char(help="Column whose value was rejected, if one column was.")
    value = fields.Char(help="Value that was rejected.")
    reason = fields.Text(required=True)
    raw = fields.Text(string="Raw Row", help="The row as read from the source.")
