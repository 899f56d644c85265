import logging
import time

from odoo import api, fields, models, modules
from odoo.tools import SQL

from odoo.addons.crm_segments.models.crm_rfm_segment import RFM_SEGMENTS
from odoo.addons.crm_segments.models.crm_value_tier_log import VALUE_TIERS

_logger = logging.getLogger(__name__)

# Partners per INSERT of the daily snapshot, each batch committed on its own.
SNAPSHOT_BATCH_SIZE = 50_000


class CrmRfmSnapshot(models.Model):
    """RFM segment and value tier of one partner on one day.

    crm_segments keeps only the current RFM segment on the partner, so the
    daily scheduled action copies it here, once per partner and day, for
    the RFM migration report.
    """

    _name = "crm.rfm.snapshot"
    _description = "RFM Snapshot"
    _order = "date desc, partner_id"
    _rec_name = "partner_id"
    _log_access = False

    partner_id = fields.Many2one(
        "res.partner", required=True, readonly=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(
        "res.company",
        readonly=True,
        index=True,
        help="Company of the partner's latest purchase.",
    )
    date = fields.Date(required=True, readonly=True, index=True)
    rfm_segment = fields.Selection(RFM_SEGMENTS, string="RFM Segment", readonly=True)
    value_tier = fields.Selection(VALUE_TIERS, readonly=True)

    _sql_constraints = [
        (
            "partner_date_unique",
            "unique (partner_id, date)",
            "A partner has one RFM snapshot per day.",
        ),
    ]

    @api.model
    def _take_snapshot(self, day=None, batch_size=SNAPSHOT_BATCH_SIZE):
        """Copy every profiled partner's RFM segment and value tier as of
        ``day`` (today in UTC by default), batch by batch of partner ids.

        Running it again the same day overwrites that day's rows, so the
        snapshot is idempotent per date. Returns the number of rows written.
        """
        day = fields.Date.to_date(day) or fields.Date.today()
        self.env["res.partner"].flush_model(
            ["rfm_segment", "value_tier", "profile_company_id"]
        )
        started = time.monotonic()
        written = 0
        last_id = 0
        while True:
            batch_started = time.monotonic()
            rows = self.env.execute_query(
                SQL(
                    """
                    WITH batch AS (
                        SELECT partner.id, partner.profile_company_id,
                               partner.rfm_segment, partner.value_tier
                          FROM res_partner partner
                         WHERE partner.id > %(last_id)s
                           AND (partner.rfm_segment IS NOT NULL
                                OR partner.value_tier IS NOT NULL)
                      ORDER BY partner.id
                         LIMIT %(limit)s
                    ),
                    written AS (
                        INSERT INTO crm_rfm_snapshot
                               (partner_id, company_id, date, rfm_segment, value_tier)
                        SELECT id, profile_company_id, %(day)s, rfm_segment, value_tier
                          FROM batch
                            ON CONFLICT (partner_id, date) DO UPDATE
                           SET company_id = EXCLUDED.company_id,
                               rfm_segment = EXCLUDED.rfm_segment,
                               value_tier = EXCLUDED.value_tier
                     RETURNING 1
                    )
                    SELECT (SELECT MAX(id) FROM batch), (SELECT COUNT(*) FROM written)
                    """,
                    last_id=last_id,
                    limit=batch_size,
                    day=day,
                )
            )
            [(batch_last_id, batch_count)] = rows
            if not batch_last_id:
                break
            last_id = batch_last_id
            written += batch_count
            if not modules.module.current_test:
                self.env.cr.commit()  # pylint: disable=invalid-commit
            remaining = (
                self.env["res.partner"]
                .with_context(active_test=False)
                .search_count(
                    [
                        ("id", ">", last_id),
                        "|",
                        ("rfm_segment", "!=", False),
                        ("value_tier", "!=", False),
                    ]
                )
            )
            _logger.info(
                "RFM snapshot of %s: %s partners in %.2fs, %s remaining",
                day,
                batch_count,
                time.monotonic() - batch_started,
                remaining,
            )
            self.env["ir.cron"]._notify_progress(done=written, remaining=remaining)
        self.invalidate_model()
        _logger.info(
            "RFM snapshot of %s done: %s partners in %.2fs",
            day,
            written,
            time.monotonic() - started,
        )
        return written

    @api.model
    def _cron_take_snapshot(self):
        self._take_snapshot()
