import base64
from collections import defaultdict
from datetime import date

from markupsafe import Markup

from odoo import fields, models
from odoo.tools.misc import format_date

from ..report.crm_campaign_report import RATES, REPORT_MEASURES
from ..tools.svg_chart import render_line_chart

# Measures drawn on the dashboard chart, with their line colours.
CHART_MEASURES = ("sent", "opened", "clicked", "converted")
CHART_COLORS = ("#1f77b4", "#2ca02c", "#ff7f0e", "#d62728")


class CrmCampaign(models.Model):
    _inherit = "crm.campaign"

    attribution_days = fields.Integer(
        string="Attribution Window (days)",
        default=30,
        help="Purchases and unsubscribes up to this many days after a step reached "
        "a partner are credited to the last step that reached the partner.",
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    report_sent = fields.Integer(string="Sent", compute="_compute_report_figures")
    report_delivered = fields.Integer(
        string="Delivered", compute="_compute_report_figures"
    )
    report_opened = fields.Integer(string="Opened", compute="_compute_report_figures")
    report_clicked = fields.Integer(string="Clicked", compute="_compute_report_figures")
    report_replied = fields.Integer(string="Replied", compute="_compute_report_figures")
    report_bounced = fields.Integer(string="Bounced", compute="_compute_report_figures")
    report_unsubscribed = fields.Integer(
        string="Unsubscribed", compute="_compute_report_figures"
    )
    report_accepted = fields.Integer(
        string="Offers Accepted", compute="_compute_report_figures"
    )
    report_converted = fields.Integer(
        string="Conversions", compute="_compute_report_figures"
    )
    report_purchases = fields.Integer(
        string="Purchases (Last Touch)", compute="_compute_report_figures"
    )
    report_revenue = fields.Monetary(
        string="Attributed Revenue", compute="_compute_report_figures"
    )
    report_purchases_all_touch = fields.Integer(
        string="Purchases (All Touch)", compute="_compute_report_figures"
    )
    report_revenue_all_touch = fields.Monetary(
        string="Revenue (All Touch)", compute="_compute_report_figures"
    )
    report_open_rate = fields.Float(
        string="Open Rate (%)", compute="_compute_report_figures", digits=(16, 2)
    )
    report_click_rate = fields.Float(
        string="Click Rate (%)", compute="_compute_report_figures", digits=(16, 2)
    )
    report_conversion_rate = fields.Float(
        string="Conversion Rate (%)", compute="_compute_report_figures", digits=(16, 2)
    )
    report_chart = fields.Html(
        string="Responses over Time",
        compute="_compute_report_chart",
        sanitize=False,
        help="Line chart of the steps sent, opened, clicked and converted per day.",
    )
    report_experiments = fields.Html(
        string="A/B Results and Holdout Uplift",
        compute="_compute_report_experiments",
        sanitize=False,
        help="Variants of each step's experiment with their rates and intervals, "
        "and the conversion and revenue uplift of treated participants over the "
        "holdout group.",
    )

    def _compute_report_figures(self):
        measures = [
            "sent",
            "delivered",
            "opened",
            "clicked",
            "replied",
            "bounced",
            "unsubscribed",
            "accepted",
            "converted",
            "purchases",
            "revenue",
            "purchases_all_touch",
            "revenue_all_touch",
            "open_rate",
            "click_rate",
            "conversion_rate",
        ]
        groups = self.env["crm.campaign.report"]._read_group(
            [("campaign_id", "in", self._origin.ids)],
            ["campaign_id"],
            [f"{measure}:{REPORT_MEASURES[measure]}" for measure in measures],
        )
        figures = {
            row[0].id: dict(zip(measures, row[1:], strict=True)) for row in groups
        }
        for campaign in self:
            values = figures.get(campaign._origin.id, {})
            for measure in measures:
                campaign[f"report_{measure}"] = values.get(measure) or 0

    def _compute_report_experiments(self):
        env = self.env
        metrics = dict(
            env["crm.campaign.step"]._fields["test_metric"]._description_selection(env)
        )
        states = dict(
            env["crm.campaign.step"]._fields["test_state"]._description_selection(env)
        )
        for campaign in self:
            if not campaign._origin.id:
                campaign.report_experiments = False
                continue
            campaign.report_experiments = env["ir.qweb"]._render(
                "crm_campaign_reports.campaign_experiment_results",
                {
                    "experiments": campaign._origin._get_experiment_results(),
                    "uplift": campaign._origin._get_holdout_uplift(),
                    "currency": campaign.currency_id,
                    "metrics": metrics,
                    "states": states,
                },
            )

    def _get_experiment_results(self):
        """Return ``[{'step_name', 'results'}]`` for the steps with variants,
        ``results`` as returned by ``get_experiment_results``."""
        self.ensure_one()
        return [
            {"step_name": step.name, "results": step.get_experiment_results()}
            for step in self.step_ids.sorted(lambda step: (step.sequence, step.id))
            if step.variant_ids
        ]

    def _get_holdout_uplift(self):
        """Return ``get_holdout_uplift()``, or an empty dict when the campaign
        has no holdout participant to compare with."""
        self.ensure_one()
        has_holdout = self.env["crm.campaign.participant"].search_count(
            [("campaign_id", "=", self.id), ("is_holdout", "=", True)], limit=1
        )
        if not has_holdout:
            return {}
        return self.get_holdout_uplift()

    def _compute_report_chart(self):
        series = self._get_chart_series()
        for campaign in self:
            campaign.report_chart = campaign._render_chart_svg(
                series.get(campaign._origin.id, [])
            )

    def _get_chart_series(self):
        """Return ``{campaign id: [(day, {measure: value})]}`` of the chart
        measures, oldest day first, in one grouped read."""
        groups = self.env["crm.campaign.report"]._read_group(
            [("campaign_id", "in", self._origin.ids), ("sent", "=", 1)],
            ["campaign_id", "date:day"],
            [f"{measure}:sum" for measure in CHART_MEASURES],
        )
        series = defaultdict(list)
        for campaign, day, *values in groups:
            series[campaign.id].append(
                (day, dict(zip(CHART_MEASURES, values, strict=True)))
            )
        for days in series.values():
            days.sort(key=lambda row: row[0])
        return series

    def _render_chart_svg(self, days):
        """Return an SVG line chart (Markup) of ``days``, as returned per
        campaign by ``_get_chart_series``, with dates in the user's format."""
        labels = self._get_report_measure_labels()
        if not days:
            return Markup("<p class='text-muted'>%s</p>") % self.env._(
                "No step has run yet."
            )
        return render_line_chart(
            [format_date(self.env, day) for day, _values in days],
            [
                (labels[measure], color, [values[measure] for _day, values in days])
                for measure, color in zip(CHART_MEASURES, CHART_COLORS, strict=True)
            ],
        )

    def _get_report_measure_labels(self):
        """Return the translated column titles of the report measures."""
        return {
            "sent": self.env._("Sent"),
            "delivered": self.env._("Delivered"),
            "opened": self.env._("Opened"),
            "clicked": self.env._("Clicked"),
            "replied": self.env._("Replied"),
            "bounced": self.env._("Bounced"),
            "unsubscribed": self.env._("Unsubscribed"),
            "accepted": self.env._("Offers Accepted"),
            "skipped": self.env._("Skipped"),
            "held_out": self.env._("Held Out"),
            "failed": self.env._("Failed"),
            "converted": self.env._("Converted"),
            "purchases": self.env._("Purchases (Last Touch)"),
            "revenue": self.env._("Revenue (Last Touch)"),
            "purchases_all_touch": self.env._("Purchases (All Touch)"),
            "revenue_all_touch": self.env._("Revenue (All Touch)"),
            "open_rate": self.env._("Open Rate (%)"),
            "click_rate": self.env._("Click Rate (%)"),
            "conversion_rate": self.env._("Conversion Rate (%)"),
        }

    def _read_report(self, groupby):
        self.ensure_one()
        aggregates = [f"{measure}:{func}" for measure, func in REPORT_MEASURES.items()]
        groups = self.env["crm.campaign.report"]._read_group(
            [("campaign_id", "=", self.id)],
            groupby,
            aggregates,
        )
        return [
            (
                row[: len(groupby)],
                {
                    measure: value or 0
                    for measure, value in zip(
                        REPORT_MEASURES, row[len(groupby) :], strict=True
                    )
                },
            )
            for row in groups
        ]

    def get_report_figures(self):
        """Return the report figures of this campaign, per step and in total.

        :returns: ``{'campaign': name, 'currency': ISO code, 'steps': [...],
            'total': {...}}``. Each step is a dict with ``step_id``, ``name``,
            ``kind`` and the measures ``sent``, ``delivered``, ``opened``,
            ``clicked``, ``replied``, ``bounced``, ``unsubscribed``,
            ``accepted``, ``skipped``, ``held_out``, ``failed``,
            ``converted``, ``purchases`` and ``revenue`` (last touch),
            ``purchases_all_touch`` and ``revenue_all_touch`` (all touch),
            amounts in company currency, and the rates ``open_rate``,
            ``click_rate`` and ``conversion_rate`` in percent. Steps that
            never ran have zeros.
        """
        self.ensure_one()
        empty = dict.fromkeys(REPORT_MEASURES, 0)
        by_step = {
            keys[0].id: values for keys, values in self._read_report(["step_id"])
        }
        steps = [
            {
                "step_id": step.id,
                "name": step.name,
                "kind": step.kind,
                **by_step.get(step.id, empty),
            }
            for step in self.step_ids.sorted(lambda step: (step.sequence, step.id))
        ]

        # The total is summed here rather than read again, because every read
        # of the view recomputes the attribution over the whole database.
        total = {
            measure: sum(values[measure] for values in by_step.values())
            for measure in REPORT_MEASURES
            if measure not in RATES
        }
        for rate, (numerator, denominator) in RATES.items():
            total[rate] = (
                round(100.0 * total[numerator] / total[denominator], 2)
                if total[denominator]
                else 0.0
            )
        return {
            "campaign": self.name,
            "currency": self.currency_id.name,
            "steps": steps,
            "total": total,
        }

    def _get_report_days(self):
        """Return ``{step id: [(date, measures)]}``, oldest day first."""
        days = defaultdict(list)
        for (step, day), values in self._read_report(["step_id", "date:day"]):
            days[step.id].append((day, values))
        for step_days in days.values():
            step_days.sort(key=lambda row: row[0] or date.min)
        return days

    def report_xlsx(self):
        """Build the XLSX report of this campaign in the user's language.

        :returns: the workbook as a base64 string: a summary sheet with the
            figures per step and a column chart, then one sheet per step with
            its figures per day.
        """
        self.ensure_one()
        self.check_access("read")
        campaign = self.with_context(
            lang=self.env.context.get("lang") or self.env.user.lang
        )
        content = self.env["crm.campaign.report.xlsx"]._generate(campaign)
        return base64.b64encode(content).decode()

    def action_view_report(self):
        """Open the campaign analysis filtered on this campaign."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_campaign_reports.crm_campaign_report_action"
        )
        action["domain"] = [("campaign_id", "=", self.id)]
        action["context"] = {"search_default_group_step": 1}
        action["display_name"] = self.env._(
            "Analysis of %(campaign)s", campaign=self.name
        )
        return action

    def action_view_report_timeline(self):
        """Open the line graph of this campaign's responses per day."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_campaign_reports.crm_campaign_report_action_timeline"
        )
        action["domain"] = [("campaign_id", "=", self.id)]
        action["context"] = {}
        action["display_name"] = self.env._(
            "Responses to %(campaign)s over Time", campaign=self.name
        )
        return action

    def action_view_report_funnel(self):
        """Open the funnel of this campaign."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_campaign_reports.crm_campaign_funnel_report_action"
        )
        action["domain"] = [("campaign_id", "=", self.id)]
        action["display_name"] = self.env._(
            "Funnel of %(campaign)s", campaign=self.name
        )
        return action

    def action_download_xlsx(self):
        """Download the XLSX report through the controller route."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_url",
            "url": f"/crm_campaign_reports/xlsx/{self.id}",
            "target": "download",
        }
