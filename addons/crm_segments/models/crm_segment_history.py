from odoo import fields, models


class CrmSegmentHistory(models.Model):
    """Size of a segment after one refresh."""

    _name = "crm.segment.history"
    _description = "Segment Size History"
    _order = "date desc, id desc"
    _log_access = False

    segment_id = fields.Many2one(
        "crm.segment", required=True, index=True, ondelete="cascade", readonly=True
    )
    date = fields.Datetime(required=True, readonly=True, index=True)
    member_count = fields.Integer(string="Members", readonly=True, aggregator="max")
    entered_count = fields.Integer(string="Entered", readonly=True)
    left_count = fields.Integer(string="Left", readonly=True)
