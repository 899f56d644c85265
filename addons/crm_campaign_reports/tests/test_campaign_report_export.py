import base64
import io
from datetime import datetime

import openpyxl
from lxml import html

from odoo.tests import tagged
from odoo.tools.pdf import PdfFileReader

from .common import CampaignReportCase, CampaignReportHttpCase


@tagged("post_install", "-at_install")
class TestCampaignReportExport(CampaignReportCase):
    def test_pdf_html_lists_step_figures(self):
        content, _format = self.env["ir.actions.report"]._render_qweb_html(
            "crm_campaign_reports.report_campaign", self.campaign.ids
        )
        document = html.fromstring(content)
        [row] = document.xpath(f"//tr[@data-step-id='{self.step.id}']")
        cells = [cell.text_content().strip() for cell in row.xpath("./td")]
        self.assertEqual(cells[0], "Primer correo")
        self.assertEqual(cells[1], "E-mail")
        # Sent, delivered, opened, clicked, replied, bounced, unsubscribed,
        # skipped, converted.
        self.assertEqual(cells[2:11], ["3", "2", "2", "1", "1", "1", "1", "1", "1"])
        self.assertIn("120.00", cells[11])
        self.assertEqual(cells[12:14], ["100.00", "50.00"])
        self.assertIn("Reactivación", document.text_content())

    def test_xlsx_summary_step_sheet_and_chart(self):
        content = base64.b64decode(self.campaign.report_xlsx())
        workbook = openpyxl.load_workbook(io.BytesIO(content))
        self.assertEqual(workbook.sheetnames, ["Summary", "Primer correo"])

        summary = workbook["Summary"]
        self.assertEqual(summary["A1"].value, "Campaign: Reactivación")
        headers = [cell.value for cell in summary[4]]
        self.assertEqual(headers[:4], ["Step", "Channel", "Sent", "Delivered"])
        step_row = {
            header: cell.value for header, cell in zip(headers, summary[5], strict=True)
        }
        self.assertEqual(step_row["Step"], "Primer correo")
        self.assertEqual(step_row["Channel"], "E-mail")
        expected = {
            "Sent": 3,
            "Delivered": 2,
            "Opened": 2,
            "Clicked": 1,
            "Replied": 1,
            "Bounced": 1,
            "Unsubscribed": 1,
            "Offers Accepted": 0,
            "Skipped": 1,
            "Failed": 0,
            "Converted": 1,
            "Purchases (Last Touch)": 1,
            "Revenue (Last Touch)": 120.0,
            "Purchases (All Touch)": 1,
            "Revenue (All Touch)": 120.0,
            "Open Rate (%)": 100.0,
            "Click Rate (%)": 50.0,
            "Conversion Rate (%)": 33.33,
        }
        for header, value in expected.items():
            with self.subTest(header=header):
                self.assertAlmostEqual(step_row[header], value, places=2)
        self.assertEqual(summary["A6"].value, "Total")
        self.assertEqual(summary["C6"].value, 3)
        self.assertEqual(summary["A3"].value, "Steps run from 03/02/2026 to 03/02/2026")
        self.assertEqual(len(summary._charts), 1)

        step_sheet = workbook["Primer correo"]
        self.assertEqual(step_sheet["A4"].value, "Day")
        self.assertEqual(step_sheet["A5"].value, datetime(2026, 3, 2))
        # English (US) writes dates as %m/%d/%Y.
        self.assertEqual(step_sheet["A5"].number_format, "mm/dd/yyyy")
        self.assertEqual(step_sheet["B5"].value, 3)
        self.assertEqual(step_sheet["A6"].value, "Total")
        self.assertEqual(len(step_sheet._charts), 1)

    def test_xlsx_sheet_names_unique_and_valid(self):
        self.env["crm.campaign.step"].create(
            {
                "campaign_id": self.campaign.id,
                "name": "Primer correo",
                "kind": "email",
                "mail_template_id": self.template.id,
            }
        )
        self.env["crm.campaign.step"].create(
            {
                "campaign_id": self.campaign.id,
                "name": "Llamada: clientes [VIP] / 2026 con un nombre muy largo",
                "kind": "call",
            }
        )
        content = base64.b64decode(self.campaign.report_xlsx())
        workbook = openpyxl.load_workbook(io.BytesIO(content))
        self.assertEqual(len(workbook.sheetnames), 4)
        self.assertEqual(len(set(workbook.sheetnames)), 4)
        self.assertIn("Primer correo (2)", workbook.sheetnames)
        for name in workbook.sheetnames:
            self.assertLessEqual(len(name), 31)
            self.assertFalse(set(name) & set("[]:*?/\\"), name)

    def test_xlsx_in_user_language(self):
        self.env["res.lang"]._activate_lang("es_ES")
        self.env["ir.module.module"]._load_module_terms(
            ["crm_campaign_automation", "crm_campaign_reports"], ["es_ES"]
        )
        self.user_marketing.lang = "es_ES"
        campaign = self.campaign.with_user(self.user_marketing).with_context(lang=None)

        content = base64.b64decode(campaign.report_xlsx())
        workbook = openpyxl.load_workbook(io.BytesIO(content))
        self.assertEqual(workbook.sheetnames, ["Resumen", "Primer correo"])
        summary = workbook["Resumen"]
        self.assertEqual(summary["A1"].value, "Campaña: Reactivación")
        self.assertEqual(summary["A4"].value, "Paso")
        self.assertEqual(summary["C4"].value, "Enviados")
        self.assertEqual(summary["B5"].value, "Correo electrónico")
        self.assertEqual(summary["A6"].value, "Total")
        self.assertEqual(
            summary["A3"].value, "Pasos ejecutados del 02/03/2026 al 02/03/2026"
        )
        step_sheet = workbook["Primer correo"]
        self.assertEqual(step_sheet["A4"].value, "Día")
        # Spanish (Spain) writes dates as %d/%m/%Y.
        self.assertEqual(step_sheet["A5"].number_format, "dd/mm/yyyy")

    def test_pdf_in_user_language(self):
        self.env["res.lang"]._activate_lang("es_ES")
        self.env["ir.module.module"]._load_module_terms(
            ["crm_campaign_automation", "crm_campaign_reports"], ["es_ES"]
        )
        self.user_marketing.lang = "es_ES"
        report = self.env["ir.actions.report"].with_user(self.user_marketing)

        content, _format = report.with_context(lang="es_ES")._render_qweb_html(
            "crm_campaign_reports.report_campaign", self.campaign.ids
        )
        document = html.fromstring(content)
        headers = [cell.text_content().strip() for cell in document.xpath("//th")]
        self.assertEqual(headers[:3], ["Paso", "Canal", "Enviados"])
        [row] = document.xpath(f"//tr[@data-step-id='{self.step.id}']")
        self.assertEqual(
            row.xpath("./td")[1].text_content().strip(), "Correo electrónico"
        )


@tagged("post_install", "-at_install")
class TestCampaignReportPdf(CampaignReportHttpCase):
    def render_pdf_text(self, report):
        """Render the campaign's PDF with wkhtmltopdf and return its text."""
        content, content_format = report.with_context(
            force_report_rendering=True
        )._render_qweb_pdf("crm_campaign_reports.report_campaign", self.campaign.ids)
        self.assertEqual(content_format, "pdf")
        self.assertTrue(content.startswith(b"%PDF-"), content[:20])
        reader = PdfFileReader(io.BytesIO(content))
        return " ".join(page.extract_text() for page in reader.pages)

    def test_pdf_renders_figures(self):
        text = " ".join(self.render_pdf_text(self.env["ir.actions.report"]).split())
        self.assertIn("Reactivación", text)
        self.assertIn("Primer correo", text)
        # Sent, delivered, opened, clicked, replied, bounced, unsubscribed,
        # skipped, converted, revenue, open and click rates of the step.
        self.assertIn("3 2 2 1 1 1 1 1 1", text)
        self.assertIn("120.00", text)
        self.assertIn("100.00 50.00", text)
        self.assertIn("Responses over Time", text)

    def test_pdf_in_spanish_formats(self):
        self.env["res.lang"]._activate_lang("es_ES")
        self.env["ir.module.module"]._load_module_terms(
            ["crm_campaign_automation", "crm_campaign_reports"], ["es_ES"]
        )
        self.env.user.lang = "es_ES"
        self.ana.consent_record("email", "granted")
        self.env["crm.customer.transaction"].sudo().record_transactions(
            [
                {
                    "partner_id": self.ana.id,
                    "date": "2026-03-06",
                    "amount": 1234.5,
                    "kind": "purchase",
                    "source_ref": "report-test/ana-large",
                }
            ]
        )
        report = self.env["ir.actions.report"].with_context(lang="es_ES")
        text = " ".join(self.render_pdf_text(report).split())
        self.assertIn("Enviados", text)
        # 120 + 1,234.50 with the Spanish separators.
        self.assertIn("1.354,50", text)
        self.assertIn("100,00 50,00", text)
