import io

import openpyxl

from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestCampaignReportController(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user_marketing = new_test_user(
            cls.env,
            login="report_http_marketing",
            groups="base.group_user,crm_consent.group_marketing_user",
        )
        cls.portal = new_test_user(
            cls.env, login="report_http_portal", groups="base.group_portal"
        )
        cls.campaign = cls.env["crm.campaign"].create({"name": "Campaña HTTP"})

    def test_marketing_user_downloads_xlsx(self):
        self.authenticate("report_http_marketing", "report_http_marketing")
        response = self.url_open(f"/crm_campaign_reports/xlsx/{self.campaign.id}")
        self.assertEqual(response.status_code, 200)
        self.assertIn("spreadsheetml", response.headers["Content-Type"])
        self.assertIn("Campa", response.headers["Content-Disposition"])
        workbook = openpyxl.load_workbook(io.BytesIO(response.content))
        self.assertEqual(workbook.sheetnames, ["Summary"])

    def test_unknown_campaign_not_found(self):
        self.authenticate("report_http_marketing", "report_http_marketing")
        response = self.url_open("/crm_campaign_reports/xlsx/999999999")
        self.assertEqual(response.status_code, 404)

    def test_portal_user_forbidden(self):
        self.authenticate("report_http_portal", "report_http_portal")
        response = self.url_open(f"/crm_campaign_reports/xlsx/{self.campaign.id}")
        self.assertEqual(response.status_code, 403)

    def test_anonymous_redirected_to_login(self):
        response = self.url_open(
            f"/crm_campaign_reports/xlsx/{self.campaign.id}", allow_redirects=False
        )
        self.assertEqual(response.status_code, 303)
        self.assertIn("/web/login", response.headers["Location"])
