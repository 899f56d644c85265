import io
import re

import xlsxwriter

from odoo import fields, models
from odoo.tools.misc import format_date

from .crm_campaign_report import REPORT_MEASURES

# Characters Excel rejects in sheet names, and its name length limit.
SHEET_NAME_INVALID = re.compile(r"[\[\]:*?/\\]")
SHEET_NAME_MAX = 31

# Row (from 0) of the column titles on every sheet, below the title lines.
HEADER_ROW = 3

# Measures drawn in the summary chart and the step charts, one series each.
CHART_MEASURES = ("sent", "delivered", "opened", "clicked", "converted")

# strftime directives of res.lang date formats and their Excel equivalents.
STRFTIME_TO_EXCEL = {
    "%d": "dd",
    "%e": "d",
    "%m": "mm",
    "%Y": "yyyy",
    "%y": "yy",
    "%b": "mmm",
    "%B": "mmmm",
    "%a": "ddd",
    "%A": "dddd",
    "%H": "hh",
    "%I": "hh",
    "%M": "mm",
    "%S": "ss",
    "%p": "AM/PM",
    "%%": "%",
}


def excel_date_format(strftime_format):
    """Return the Excel number format of a res.lang ``date_format``.

    Directives without an Excel equivalent are dropped, and other characters
    are kept as literal text.
    """
    parts = re.split(r"(%.)", strftime_format or "%Y-%m-%d")
    result = []
    for part in parts:
        if part.startswith("%") and len(part) == 2:
            result.append(STRFTIME_TO_EXCEL.get(part, ""))
        elif part:
            result.append(
                "".join(f"\\{char}" if char.isalpha() else char for char in part)
            )
    return "".join(result)


class CrmCampaignReportXlsx(models.AbstractModel):
    """XLSX workbook of a campaign's figures, built with xlsxwriter."""

    _name = "crm.campaign.report.xlsx"
    _description = "Campaign XLSX Report"

    def _generate(self, campaign):
        """Return the XLSX content (bytes) of ``campaign``'s report.

        Labels are translated in the language of ``campaign.env``.
        """
        figures = campaign.get_report_figures()
        labels = campaign._get_report_measure_labels()
        lang = campaign.env["res.lang"]._lang_get(campaign.env.lang or "en_US")
        buffer = io.BytesIO()
        workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
        styles = self._get_styles(workbook, lang)

        summary = workbook.add_worksheet(
            self._sheet_name(campaign.env._("Summary"), set())
        )
        days = campaign._get_report_days()
        self._write_summary(campaign, summary, figures, days, labels, styles)
        if figures["steps"]:
            self._add_chart(campaign, workbook, summary, figures, labels)

        used_names = {summary.get_name()}
        steps = {step.id: step for step in campaign.step_ids}
        for step_figures in figures["steps"]:
            step = steps[step_figures["step_id"]]
            sheet = workbook.add_worksheet(self._sheet_name(step.name, used_names))
            self._write_step(
                campaign,
                workbook,
                sheet,
                step,
                step_figures,
                days[step.id],
                labels,
                styles,
            )

        workbook.close()
        return buffer.getvalue()

    def _get_styles(self, workbook, lang):
        """Return the cell formats, with the date format of ``lang``.

        Excel stores the thousands and decimal separators of a number format
        as placeholders that each reader's locale fills in, so numbers stay
        numbers (and charts work) but show the reader's separators. The
        language only decides whether thousands are grouped at all.
        """
        grouped = "#,##0" if lang.thousands_sep else "0"
        number_formats = {
            "integer": grouped,
            "money": f"{grouped}.00",
            "rate": "0.00",
        }
        styles = {
            "title": workbook.add_format({"bold": True, "font_size": 14}),
            "header": workbook.add_format(
                {"bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True}
            ),
            "text": workbook.add_format({"border": 1}),
            "date": workbook.add_format(
                {"border": 1, "num_format": excel_date_format(lang.date_format)}
            ),
            "total": workbook.add_format({"bold": True, "top": 2}),
        }
        for kind, number_format in number_formats.items():
            styles[kind] = workbook.add_format(
                {"border": 1, "num_format": number_format}
            )
            styles[f"total_{kind}"] = workbook.add_format(
                {"bold": True, "top": 2, "num_format": number_format}
            )
        return styles

    def _sheet_name(self, name, used_names):
        """Return a valid, unique Excel sheet name built from ``name``."""
        base = SHEET_NAME_INVALID.sub(" ", name or "").strip()[:SHEET_NAME_MAX] or "-"
        candidate = base
        number = 2
        while candidate.lower() in {used.lower() for used in used_names}:
            suffix = f" ({number})"
            candidate = base[: SHEET_NAME_MAX - len(suffix)] + suffix
            number += 1
        used_names.add(candidate)
        return candidate

    def _measure_style(self, measure, styles, total=False):
        if measure.startswith("revenue"):
            kind = "money"
        elif measure.endswith("_rate"):
            kind = "rate"
        else:
            kind = "integer"
        return styles[f"total_{kind}" if total else kind]

    def _write_summary(self, campaign, sheet, figures, days, labels, styles):
        env = campaign.env
        sheet.write(
            0, 0, env._("Campaign: %(name)s", name=campaign.name), styles["title"]
        )
        sheet.write(
            1,
            0,
            env._(
                "Revenue in %(currency)s, attribution window %(days)s days",
                currency=figures["currency"],
                days=campaign.attribution_days,
            ),
        )
        report_days = [
            day for step_days in days.values() for day, _v in step_days if day
        ]
        if report_days:
            sheet.write(
                2,
                0,
                env._(
                    "Steps run from %(first)s to %(last)s",
                    first=format_date(env, min(report_days)),
                    last=format_date(env, max(report_days)),
                ),
            )

        kinds = dict(
            env["crm.campaign.step"]._fields["kind"]._description_selection(env)
        )
        sheet.write(HEADER_ROW, 0, env._("Step"), styles["header"])
        sheet.write(HEADER_ROW, 1, env._("Channel"), styles["header"])
        for column, measure in enumerate(REPORT_MEASURES, start=2):
            sheet.write(HEADER_ROW, column, labels[measure], styles["header"])

        row = HEADER_ROW
        for row, step in enumerate(figures["steps"], start=HEADER_ROW + 1):
            sheet.write(row, 0, step["name"], styles["text"])
            sheet.write(row, 1, kinds.get(step["kind"], step["kind"]), styles["text"])
            for column, measure in enumerate(REPORT_MEASURES, start=2):
                sheet.write(
                    row, column, step[measure], self._measure_style(measure, styles)
                )

        total_row = row + 1
        sheet.write(total_row, 0, env._("Total"), styles["total"])
        for column, measure in enumerate(REPORT_MEASURES, start=2):
            sheet.write(
                total_row,
                column,
                figures["total"][measure],
                self._measure_style(measure, styles, total=True),
            )

        sheet.set_column(0, 1, 24)
        sheet.set_column(2, len(REPORT_MEASURES) + 1, 12)
        sheet.freeze_panes(HEADER_ROW + 1, 1)

    def _add_chart(self, campaign, workbook, sheet, figures, labels):
        """Insert a column chart of the main measures per step below the table."""
        first_row = HEADER_ROW + 1
        last_row = HEADER_ROW + len(figures["steps"])
        measure_columns = {
            measure: column for column, measure in enumerate(REPORT_MEASURES, start=2)
        }
        chart = workbook.add_chart({"type": "column"})
        sheet_name = sheet.get_name()
        for measure in CHART_MEASURES:
            column = measure_columns[measure]
            chart.add_series(
                {
                    "name": labels[measure],
                    "categories": [sheet_name, first_row, 0, last_row, 0],
                    "values": [sheet_name, first_row, column, last_row, column],
                }
            )
        chart.set_title({"name": campaign.env._("Responses per step")})
        chart.set_y_axis({"name": campaign.env._("Partners")})
        chart.set_size({"width": 720, "height": 360})
        sheet.insert_chart(last_row + 3, 0, chart)

    def _write_step(
        self, campaign, workbook, sheet, step, step_figures, days, labels, styles
    ):
        env = campaign.env
        sheet.write(0, 0, env._("Step: %(name)s", name=step.name), styles["title"])
        sheet.write(1, 0, env._("Campaign: %(name)s", name=campaign.name))

        sheet.write(HEADER_ROW, 0, env._("Day"), styles["header"])
        for column, measure in enumerate(REPORT_MEASURES, start=1):
            sheet.write(HEADER_ROW, column, labels[measure], styles["header"])

        row = HEADER_ROW
        for row, (day, values) in enumerate(days, start=HEADER_ROW + 1):
            if day:
                sheet.write_datetime(
                    row, 0, fields.Datetime.to_datetime(day), styles["date"]
                )
            else:
                sheet.write(row, 0, "", styles["text"])
            for column, measure in enumerate(REPORT_MEASURES, start=1):
                sheet.write(
                    row, column, values[measure], self._measure_style(measure, styles)
                )

        total_row = row + 1
        sheet.write(total_row, 0, env._("Total"), styles["total"])
        for column, measure in enumerate(REPORT_MEASURES, start=1):
            sheet.write(
                total_row,
                column,
                step_figures[measure],
                self._measure_style(measure, styles, total=True),
            )

        sheet.set_column(0, 0, 14)
        sheet.set_column(1, len(REPORT_MEASURES), 12)
        sheet.freeze_panes(HEADER_ROW + 1, 1)
        if days:
            self._add_step_chart(campaign, workbook, sheet, len(days), labels)

    def _add_step_chart(self, campaign, workbook, sheet, day_count, labels):
        """Insert a line chart of the main measures per day below the table."""
        first_row = HEADER_ROW + 1
        last_row = HEADER_ROW + day_count
        measure_columns = {
            measure: column for column, measure in enumerate(REPORT_MEASURES, start=1)
        }
        chart = workbook.add_chart({"type": "line"})
        sheet_name = sheet.get_name()
        for measure in CHART_MEASURES:
            column = measure_columns[measure]
            chart.add_series(
                {
                    "name": labels[measure],
                    "categories": [sheet_name, first_row, 0, last_row, 0],
                    "values": [sheet_name, first_row, column, last_row, column],
                    "marker": {"type": "circle"},
                }
            )
        chart.set_title({"name": campaign.env._("Responses per day")})
        chart.set_y_axis({"name": campaign.env._("Partners")})
        chart.set_size({"width": 720, "height": 360})
        sheet.insert_chart(last_row + 3, 0, chart)
