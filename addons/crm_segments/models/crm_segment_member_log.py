from odoo import fields, models


class CrmSegmentMemberLog(models.Model):
    """A partner entering or leaving a segment at a refresh."""

    _name = "crm.segment.member.log"
    _description = "Segment Membership Change"
    _order = "date desc, id desc"
    _log_access = False

    segment_id = fields.Many2one(
        "crm.segment", required=True, index=True, ondelete="cascade", readonly=True
    )
    partner_id = fields.Many2one(
        "res.partner", required=True, index=True, ondelete="cascade", readonly=True
    )
    action = fields.Selection(
        [("entered", "Entered"), ("left", "Left")], required=True, readonly=True
    )
    date = fields.Datetime(required=True, readonly=True, index=True)
    user_id = fields.Many2one(
        "res.users", string="Refreshed By", readonly=True, ondelete="set null"
    )
