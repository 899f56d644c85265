from odoo import api, fields, models


class CrmLegacyRun(models.Model):
    """One run of a legacy source, with its counts and rejected rows."""

    _name = "crm.legacy.run"
    _description = "Legacy Import Run"
    _order = "id desc"

    source_id = fields.Many2one(
        "crm.legacy.source", required=True, ondelete="cascade", index=True
    )
    name = fields.Char(compute="_compute_name")
    company_id = fields.Many2one(related="source_id.company_id", store=True)
    user_id = fields.Many2one("res.users", default=lambda self: self.env.user)
    state = fields.Selection(
        [("running", "Running"), ("done", "Done"), ("failed", "Failed")],
        default="running",
        required=True,
        index=True,
    )
    started_at = fields.Datetime(default=fields.Datetime.now)
    ended_at = fields.Datetime()
    duration = fields.Float(string="Duration (s)", digits=(16, 1))
    rows_read = fields.Integer()
    rows_skipped = fields.Integer(
        help="Rows at or below the watermark of an incremental source."
    )
    partners_created = fields.Integer()
    partners_matched = fields.Integer()
    transactions_created = fields.Integer()
    consents_recorded = fields.Integer()
    rows_rejected = fields.Integer()
    rows_to_review = fields.Integer()
    message = fields.Text(
        help="Why the run failed, or why a finished run imported nothing."
    )
    rejected_row_ids = fields.One2many("crm.legacy.rejected.row", "run_id")
    review_ids = fields.One2many("crm.legacy.review", "run_id")

    @api.depends("source_id.name", "started_at")
    def _compute_name(self):
        for run in self:
            run.name = f"{run.source_id.name} ({run.started_at or ''})"

    def action_view_rejected_rows(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Rejected Rows"),
            "res_model": "crm.legacy.rejected.row",
            "view_mode": "list,form",
            "domain": [("run_id", "=", self.id)],
        }

    def action_view_reviews(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Review Queue"),
            "res_model": "crm.legacy.review",
            "view_mode": "list,form",
            "domain": [("run_id", "=", self.id)],
        }
