from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from odoo.addons.crm_segments.models.crm_rfm_segment import RFM_SEGMENTS
from odoo.addons.crm_segments.models.crm_value_tier_log import VALUE_TIERS

# Segment code of partners with no snapshot on one of the two dates.
NO_SEGMENT = ("none", "No Segment")


class CrmRfmMigration(models.TransientModel):
    """Compare the RFM segments of the partners on two snapshot dates."""

    _name = "crm.rfm.migration"
    _description = "RFM Migration"

    company_id = fields.Many2one(
        "res.company",
        required=True,
        default=lambda self: self.env.company,
        help="Partners whose latest purchase, on the later date, was with this "
        "company.",
    )
    date_from = fields.Date(
        string="From",
        required=True,
        default=lambda self: self._default_snapshot_date(first=True),
        help="Day of the first RFM snapshot.",
    )
    date_to = fields.Date(
        string="To",
        required=True,
        default=lambda self: self._default_snapshot_date(first=False),
        help="Day of the second RFM snapshot.",
    )
    line_ids = fields.One2many("crm.rfm.migration.line", "migration_id")

    @api.model
    def _default_snapshot_date(self, first):
        snapshot = self.env["crm.rfm.snapshot"].search(
            [], order=f"date {'asc' if first else 'desc'}", limit=1
        )
        return snapshot.date

    def _check_dates(self):
        self.ensure_one()
        if self.date_from >= self.date_to:
            raise UserError(
                self.env._(
                    "The first date (%(date_from)s) must be before the second "
                    "(%(date_to)s).",
                    date_from=self.date_from,
                    date_to=self.date_to,
                )
            )
        snapshots = self.env["crm.rfm.snapshot"]
        for day in (self.date_from, self.date_to):
            if not snapshots.search_count([("date", "=", day)], limit=1):
                available = snapshots.search_read(
                    [], ["date"], order="date desc", limit=5
                )
                raise UserError(
                    self.env._(
                        "No RFM snapshot was taken on %(date)s. Choose a day with "
                        "a snapshot (latest: %(available)s) or wait for the daily "
                        "snapshot.",
                        date=day,
                        available=", ".join(str(row["date"]) for row in available)
                        or self.env._("none"),
                    )
                )

    def _compute_lines(self):
        """Replace the lines with one row per partner present on either date,
        in one INSERT ... SELECT."""
        self.ensure_one()
        self.line_ids.unlink()
        self.env["crm.rfm.snapshot"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO crm_rfm_migration_line
                       (migration_id, partner_id, from_segment, to_segment,
                        from_tier, to_tier, create_uid, write_uid, create_date,
                        write_date)
                SELECT %(migration)s,
                       COALESCE(later.partner_id, earlier.partner_id),
                       COALESCE(earlier.rfm_segment, %(none)s),
                       COALESCE(later.rfm_segment, %(none)s),
                       earlier.value_tier,
                       later.value_tier,
                       %(uid)s, %(uid)s, now() AT TIME ZONE 'UTC',
                       now() AT TIME ZONE 'UTC'
                  FROM (SELECT * FROM crm_rfm_snapshot WHERE date = %(date_from)s) earlier
             FULL JOIN (SELECT * FROM crm_rfm_snapshot WHERE date = %(date_to)s) later
                    ON later.partner_id = earlier.partner_id
                 WHERE COALESCE(later.company_id, earlier.company_id) = %(company)s
                """,
                migration=self.id,
                none=NO_SEGMENT[0],
                uid=self.env.uid,
                date_from=self.date_from,
                date_to=self.date_to,
                company=self.company_id.id,
            )
        )
        self.env["crm.rfm.migration.line"].invalidate_model()
        self.invalidate_recordset(["line_ids"])

    def action_open_migration(self):
        """Compute the migration and open it as a pivot of segment by segment."""
        self.ensure_one()
        self._check_dates()
        self._compute_lines()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_campaign_reports.crm_rfm_migration_line_action"
        )
        action["domain"] = [("migration_id", "=", self.id)]
        action["display_name"] = self.env._(
            "RFM Migration from %(date_from)s to %(date_to)s",
            date_from=self.date_from,
            date_to=self.date_to,
        )
        return action

    def get_migration_counts(self):
        """Return ``{from segment: {to segment: partners}}`` of this
        comparison, computing it first. Partners without a snapshot on one
        date come from or go to ``'none'``."""
        self.ensure_one()
        self._check_dates()
        self._compute_lines()
        counts = {}
        groups = self.env["crm.rfm.migration.line"]._read_group(
            [("migration_id", "=", self.id)],
            ["from_segment", "to_segment"],
            ["__count"],
        )
        for from_segment, to_segment, count in groups:
            counts.setdefault(from_segment, {})[to_segment] = count
        return counts


class CrmRfmMigrationLine(models.TransientModel):
    """One partner's RFM segment on both dates of a comparison."""

    _name = "crm.rfm.migration.line"
    _description = "RFM Migration Line"
    _rec_name = "partner_id"

    migration_id = fields.Many2one(
        "crm.rfm.migration", required=True, index=True, ondelete="cascade"
    )
    partner_id = fields.Many2one("res.partner", readonly=True, ondelete="cascade")
    from_segment = fields.Selection([*RFM_SEGMENTS, NO_SEGMENT], readonly=True)
    to_segment = fields.Selection([*RFM_SEGMENTS, NO_SEGMENT], readonly=True)
    from_tier = fields.Selection(VALUE_TIERS, readonly=True)
    to_tier = fields.Selection(VALUE_TIERS, readonly=True)
