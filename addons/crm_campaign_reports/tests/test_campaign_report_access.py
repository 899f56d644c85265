from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import CampaignReportCase


@tagged("post_install", "-at_install")
class TestCampaignReportAccess(CampaignReportCase):
    def test_marketing_user_reads_report(self):
        report = self.env["crm.campaign.report"].with_user(self.user_marketing)
        [[sent]] = report._read_group(
            [("campaign_id", "=", self.campaign.id)], [], ["sent:sum"]
        )
        self.assertEqual(sent, 3)
        figures = self.campaign.with_user(self.user_marketing).get_report_figures()
        self.assertEqual(figures["total"]["sent"], 3)

    def test_portal_user_rejected(self):
        portal = new_test_user(
            self.env, login="report_portal", groups="base.group_portal"
        )
        with self.assertRaises(AccessError):
            self.env["crm.campaign.report"].with_user(portal).search([])
        with self.assertRaises(AccessError):
            self.campaign.with_user(portal).report_xlsx()

    def test_internal_user_without_marketing_group_rejected(self):
        employee = new_test_user(
            self.env, login="report_employee", groups="base.group_user"
        )
        with self.assertRaises(AccessError):
            self.env["crm.campaign.report"].with_user(employee).search([])

    def test_other_company_rows_hidden(self):
        other_company = self.env["res.company"].create({"name": "Otra Empresa SL"})
        self.user_marketing.write(
            {"company_ids": [(4, other_company.id)], "company_id": other_company.id}
        )
        report = (
            self.env["crm.campaign.report"]
            .with_user(self.user_marketing)
            .with_context(allowed_company_ids=[other_company.id])
        )
        self.assertFalse(report.search([("campaign_id", "=", self.campaign.id)]))
