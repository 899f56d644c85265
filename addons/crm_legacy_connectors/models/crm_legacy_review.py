from odoo import fields, models
from odoo.exceptions import UserError


class CrmLegacyReview(models.Model):
    """A source row whose customer could not be decided automatically.

    Rows wait here when two partners match them at the same rule, or when
    their tax id is a known placeholder. Nothing of the row is written until
    someone chooses the partner.
    """

    _name = "crm.legacy.review"
    _description = "Legacy Import Review"
    _order = "id desc"
    _rec_name = "row_number"

    run_id = fields.Many2one(
        "crm.legacy.run", required=True, ondelete="cascade", index=True
    )
    source_id = fields.Many2one(related="run_id.source_id", store=True)
    company_id = fields.Many2one(related="run_id.company_id", store=True)
    row_number = fields.Integer(required=True)
    reason = fields.Text(required=True)
    raw = fields.Text(string="Raw Row")
    values_json = fields.Json(
        string="Row Values", help="Row values as read, replayed on resolution."
    )
    candidate_partner_ids = fields.Many2many("res.partner", string="Candidates")
    partner_id = fields.Many2one(
        "res.partner",
        string="Chosen Customer",
        help="Customer the row belongs to; leave empty to create a new one.",
    )
    state = fields.Selection(
        [("pending", "To Review"), ("done", "Resolved"), ("dismissed", "Dismissed")],
        default="pending",
        required=True,
        index=True,
    )

    def action_resolve(self):
        """Write each pending row onto its chosen customer, or a new one."""
        for review in self:
            if review.state != "pending":
                raise UserError(
                    self.env._(
                        "Row %(row)s was already reviewed.", row=review.row_number
                    )
                )
            importer = self.env["crm.legacy.importer"]
            importer._apply_review(review)
            review.state = "done"
        return True

    def action_dismiss(self):
        self.write({"state": "dismissed"})
        return True
