import logging
import threading
import time

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.osv import expression
from odoo.tools import SQL
from odoo.tools import safe_eval as safe_eval_module
from odoo.tools.safe_eval import safe_eval

from .sql_tools import jit_disabled

_logger = logging.getLogger(__name__)


class CrmSegment(models.Model):
    """Set of partners matching a domain and optional profile criteria.

    Membership is materialised in ``partner_ids`` by ``action_refresh`` and by
    a cron, so campaigns read a fixed list and every change is logged.
    """

    _name = "crm.segment"
    _description = "Customer Segment"
    _order = "sequence, name, id"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    description = fields.Text()
    company_id = fields.Many2one(
        "res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
        help="Only partners of this company, or shared by all companies, can be "
        "members.",
    )
    color = fields.Integer()
    domain = fields.Char(
        string="Filter",
        default="[]",
        required=True,
        help="Odoo domain on contacts that members must match.",
    )
    rfm_segment_ids = fields.Many2many(
        "crm.rfm.segment",
        "crm_segment_rfm_segment_rel",
        "segment_id",
        "rfm_segment_id",
        string="RFM Segments",
        help="If set, members must be in one of these RFM segments.",
    )
    tier_one_to_one = fields.Boolean(string="One-to-one Tier")
    tier_database = fields.Boolean(string="Database Tier")
    tier_mass = fields.Boolean(string="Mass Tier")
    category_ids = fields.Many2many(
        "product.category",
        "crm_segment_product_category_rel",
        "segment_id",
        "category_id",
        string="Bought Categories",
        help="If set, members must have bought a product of one of these "
        "categories or of their subcategories.",
    )
    include_segment_ids = fields.Many2many(
        "crm.segment",
        "crm_segment_include_rel",
        "segment_id",
        "included_id",
        string="Within Segments",
        help="If set, members must also be members of one of these segments.",
    )
    exclude_segment_ids = fields.Many2many(
        "crm.segment",
        "crm_segment_exclude_rel",
        "segment_id",
        "excluded_id",
        string="Excluded Segments",
        help="Members of these segments are never members of this one.",
    )
    auto_refresh = fields.Boolean(
        default=True, help="Refresh the members with the scheduled action."
    )
    partner_ids = fields.Many2many(
        "res.partner",
        "crm_segment_partner_rel",
        "segment_id",
        "partner_id",
        string="Members",
        readonly=True,
        copy=False,
    )
    member_count = fields.Integer(string="Members Count", readonly=True, copy=False)
    refresh_date = fields.Datetime(string="Refreshed On", readonly=True, copy=False)
    history_ids = fields.One2many("crm.segment.history", "segment_id")
    member_log_ids = fields.One2many(
        "crm.segment.member.log", "segment_id", string="Entries and Exits"
    )

    # ------------------------------------------------------------------
    # Constraints
    # ------------------------------------------------------------------

    @api.constrains("domain")
    def _check_domain(self):
        for segment in self:
            segment._parse_domain()

    @api.constrains("include_segment_ids", "exclude_segment_ids")
    def _check_segment_cycle(self):
        for segment in self:
            path = segment._find_cycle()
            if path:
                raise ValidationError(
                    self.env._(
                        "Segment %(segment)s cannot include or exclude itself: "
                        "%(path)s.",
                        segment=segment.name,
                        path=" → ".join(path),
                    )
                )

    def _find_cycle(self):
        """Return the names along a path of included or excluded segments
        from this segment back to itself, or an empty list.
        """
        self.ensure_one()
        stack = [(child, [self.name, child.name]) for child in self._get_dependencies()]
        seen = set()
        while stack:
            segment, path = stack.pop()
            if segment == self:
                return path
            if segment.id in seen:
                continue
            seen.add(segment.id)
            stack.extend(
                (child, path + [child.name]) for child in segment._get_dependencies()
            )
        return []

    def _get_dependencies(self):
        return self.include_segment_ids | self.exclude_segment_ids

    # ------------------------------------------------------------------
    # Domain
    # ------------------------------------------------------------------

    def _domain_eval_context(self):
        return {
            "datetime": safe_eval_module.datetime,
            "relativedelta": relativedelta,
            "context_today": lambda: fields.Date.context_today(self),
            "time": safe_eval_module.time,
            "uid": self.env.uid,
            "user": self.env.user,
            "company_id": self.company_id.id,
        }

    def _parse_domain(self):
        """Return the domain as a list, or raise a ValidationError naming the
        segment, the domain text and the faulty field or term.
        """
        self.ensure_one()
        text = self.domain or "[]"
        try:
            domain = safe_eval(text, self._domain_eval_context())
        except Exception as error:  # safe_eval raises any error of the text
            raise ValidationError(
                self.env._(
                    "The filter of segment %(segment)s is not a valid domain: "
                    "%(domain)s (%(error)s).",
                    segment=self.name,
                    domain=text,
                    error=error,
                )
            ) from error
        if not isinstance(domain, (list, tuple)):
            raise ValidationError(
                self.env._(
                    "The filter of segment %(segment)s must be a list of "
                    "conditions, got %(domain)s.",
                    segment=self.name,
                    domain=text,
                )
            )
        partners = self.env["res.partner"]
        for term in domain:
            if isinstance(term, (list, tuple)) and len(term) == 3:
                self._check_field_path(partners, term[0], text)
        try:
            partners.sudo()._search(list(domain))
        except (ValueError, TypeError, KeyError, AssertionError) as error:
            raise ValidationError(
                self.env._(
                    "The filter of segment %(segment)s is not a valid domain: "
                    "%(domain)s (%(error)s).",
                    segment=self.name,
                    domain=text,
                    error=error,
                )
            ) from error
        return list(domain)

    def _check_field_path(self, model, path, text):
        if not isinstance(path, str):
            return
        for name in path.split("."):
            field = model._fields.get(name)
            if field is None:
                raise ValidationError(
                    self.env._(
                        "The filter of segment %(segment)s names the field "
                        "%(field)s, which does not exist on %(model)s: %(domain)s.",
                        segment=self.name,
                        field=name,
                        model=model._description,
                        domain=text,
                    )
                )
            if not field.relational:
                return
            model = self.env[field.comodel_name]

    def _get_member_domain(self):
        """Return the full domain on res.partner that members match."""
        self.ensure_one()
        parts = [
            self._parse_domain(),
            [("company_id", "in", [False, self.company_id.id])],
        ]
        if self.rfm_segment_ids:
            parts.append([("rfm_segment", "in", self.rfm_segment_ids.mapped("code"))])
        tiers = [
            tier
            for tier, selected in (
                ("one_to_one", self.tier_one_to_one),
                ("database", self.tier_database),
                ("mass", self.tier_mass),
            )
            if selected
        ]
        if tiers:
            parts.append([("value_tier", "in", tiers)])
        if self.category_ids:
            parts.append(
                [("purchased_category_ids", "child_of", self.category_ids.ids)]
            )
        if self.include_segment_ids:
            parts.append([("segment_ids", "in", self.include_segment_ids.ids)])
        if self.exclude_segment_ids:
            parts.append([("segment_ids", "not in", self.exclude_segment_ids.ids)])
        return expression.AND(parts)

    # ------------------------------------------------------------------
    # Public API (XML-RPC contract)
    # ------------------------------------------------------------------

    def action_refresh(self):
        """Recompute the members of these segments and log who entered and left.

        Included and excluded segments are refreshed first, so a partner who
        joins an excluded segment leaves this one in the same call. One history
        row is written per refreshed segment.

        :returns: True
        """
        for segment in self._sorted_by_dependency():
            segment._refresh_members()
        return True

    def _sorted_by_dependency(self):
        """Return these segments and the segments they depend on, dependencies
        first.
        """
        ordered = []
        visited = set()

        def visit(segment):
            if segment.id in visited:
                return
            visited.add(segment.id)
            for child in segment._get_dependencies():
                visit(child)
            ordered.append(segment.id)

        for segment in self:
            visit(segment)
        return self.browse(ordered)

    def _refresh_members(self):
        """Replace the members of this segment with one SQL statement."""
        self.ensure_one()
        started = time.monotonic()
        partners = self.env["res.partner"].sudo()
        domain = self._get_member_domain()
        partners.flush_model()
        self.env["crm.segment"].flush_model(["partner_ids"])
        query = partners._search(domain)
        now = fields.Datetime.now()

        with jit_disabled(self.env.cr):
            entered, left, count = self._refresh_members_query(query, now)

        self.env["crm.segment"].invalidate_model(["partner_ids"])
        partners.invalidate_model(["segment_ids"])
        self.env["crm.segment.member.log"].invalidate_model()

        self.sudo().write({"member_count": count, "refresh_date": now})
        self.env["crm.segment.history"].sudo().create(
            {
                "segment_id": self.id,
                "date": now,
                "member_count": count,
                "entered_count": entered,
                "left_count": left,
            }
        )
        _logger.info(
            "Segment %s refreshed: %s members, %s entered, %s left in %.2fs",
            self.id,
            count,
            entered,
            left,
            time.monotonic() - started,
        )

    def _refresh_members_query(self, query, now):
        """Insert the new members of ``query``, delete the members it no
        longer selects, log both, and return (entered, left, member count)."""
        # Data-modifying CTEs share one snapshot: the insert adds only new
        # members and the delete removes only non-matching ones, so they
        # never touch the same row. The differences are set operations
        # (EXCEPT, NOT IN on a hashed subplan): with an anti-join, the planner
        # may rescan the membership table once per member.
        return self.env.execute_query(
            SQL(
                """
                WITH target AS (%(query)s),
                entered AS (
                    INSERT INTO crm_segment_partner_rel (segment_id, partner_id)
                    SELECT %(segment)s, new_member.id
                      FROM (SELECT id FROM target
                             EXCEPT
                            SELECT partner_id FROM crm_segment_partner_rel
                             WHERE segment_id = %(segment)s) AS new_member
                    RETURNING partner_id
                ),
                left_ AS (
                    DELETE FROM crm_segment_partner_rel rel
                     WHERE rel.segment_id = %(segment)s
                       AND rel.partner_id NOT IN (SELECT id FROM target)
                    RETURNING partner_id
                ),
                logged AS (
                    INSERT INTO crm_segment_member_log
                        (segment_id, partner_id, action, date, user_id)
                    SELECT %(segment)s, partner_id, 'entered', %(now)s, %(uid)s
                      FROM entered
                     UNION ALL
                    SELECT %(segment)s, partner_id, 'left', %(now)s, %(uid)s
                      FROM left_
                )
                SELECT (SELECT COUNT(*) FROM entered),
                       (SELECT COUNT(*) FROM left_),
                       (SELECT COUNT(*) FROM target)
                """,
                query=query.select(),
                segment=self.id,
                now=now,
                uid=self.env.uid,
            )
        )[0]

    @api.model
    def _cron_refresh(self):
        """Refresh every segment set to refresh automatically, one committed
        transaction per segment.
        """
        segments = self.search([("auto_refresh", "=", True)])._sorted_by_dependency()
        cron = self.env["ir.cron"]
        for done, segment in enumerate(segments, start=1):
            segment._refresh_members()
            cron._notify_progress(done=done, remaining=len(segments) - done)
            if not getattr(threading.current_thread(), "testing", False):
                self.env.cr.commit()  # pylint: disable=invalid-commit

    def action_view_members(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Members of %(segment)s", segment=self.name),
            "res_model": "res.partner",
            "view_mode": "list,kanban,form",
            "domain": [("segment_ids", "in", self.ids)],
        }
