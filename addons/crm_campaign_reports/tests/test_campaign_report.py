from datetime import datetime

from odoo.tests import tagged

from .common import SENT_AT, SENT_DAY, CampaignReportCase

EXPECTED_TOTAL = {
    "sent": 3,
    "delivered": 2,
    "opened": 2,
    "clicked": 1,
    "replied": 1,
    "bounced": 1,
    "unsubscribed": 1,
    "skipped": 1,
    "failed": 0,
    "converted": 1,
    "revenue": 120.0,
    "open_rate": 100.0,
    "click_rate": 50.0,
    "conversion_rate": 33.33,
}


@tagged("post_install", "-at_install")
class TestCampaignReport(CampaignReportCase):
    def test_campaign_totals(self):
        [figures] = self.read_report([]).values()
        for measure, expected in EXPECTED_TOTAL.items():
            with self.subTest(measure=measure):
                self.assertAlmostEqual(figures[measure], expected, places=2)

    def test_rows_per_step_kind_and_day(self):
        rows = self.read_report(["step_id", "kind", "date:day"])
        self.assertEqual(list(rows), [(self.step, "email", SENT_DAY)])
        self.assertEqual(rows[self.step, "email", SENT_DAY]["sent"], 3)

    def test_figures_per_value_tier(self):
        rows = self.read_report(["value_tier"])
        expected = {
            "one_to_one": {
                "sent": 1,
                "delivered": 1,
                "opened": 1,
                "clicked": 1,
                "replied": 0,
                "bounced": 0,
                "unsubscribed": 0,
                "skipped": 0,
                "converted": 1,
                "revenue": 120.0,
                "open_rate": 100.0,
                "click_rate": 100.0,
                "conversion_rate": 100.0,
            },
            "database": {
                "sent": 2,
                "delivered": 1,
                "opened": 1,
                "clicked": 0,
                "replied": 1,
                "bounced": 1,
                "unsubscribed": 1,
                "skipped": 0,
                "converted": 0,
                "revenue": 0.0,
                "open_rate": 100.0,
                "click_rate": 0.0,
                "conversion_rate": 0.0,
            },
            "mass": {
                "sent": 0,
                "delivered": 0,
                "opened": 0,
                "skipped": 1,
                "revenue": 0.0,
                "open_rate": 0.0,
                "conversion_rate": 0.0,
            },
        }
        self.assertEqual(sorted(key for (key,) in rows), sorted(expected))
        for tier, measures in expected.items():
            for measure, value in measures.items():
                with self.subTest(tier=tier, measure=measure):
                    self.assertAlmostEqual(rows[(tier,)][measure], value, places=2)

    def test_rate_divides_sums_not_average(self):
        """Two tiers with open rates 100 % (1 of 1) and 0 % (0 of 1) would
        average 50 %; the rate of the sums is 1 of 2 = 50 % too, so mark one
        more delivery to tell them apart: 1 of 1 and 0 of 2 is 33.33 %."""
        self.trace_by_partner[self.bruno].mailing_trace_id.write(
            {"trace_status": "sent", "open_datetime": False, "reply_datetime": False}
        )
        self.trace_by_partner[self.carla].mailing_trace_id.write(
            {"trace_status": "sent"}
        )
        [figures] = self.read_report([]).values()
        self.assertEqual(figures["delivered"], 3)
        self.assertEqual(figures["opened"], 1)
        self.assertAlmostEqual(figures["open_rate"], 33.33, places=2)

    def test_revenue_window_from_campaign(self):
        self.campaign.attribution_days = 60
        [figures] = self.read_report([]).values()
        self.assertAlmostEqual(figures["revenue"], 170.0, places=2)

    def test_revenue_credited_to_last_touch(self):
        follow_up, _step = self.run_email_campaign(
            "Seguimiento", self.ana, datetime(2026, 3, 4, 10, 0)
        )
        [first] = self.read_report([]).values()
        [second] = self.read_report([], campaign=follow_up).values()
        self.assertAlmostEqual(first["revenue"], 0.0, places=2)
        self.assertAlmostEqual(second["revenue"], 120.0, places=2)

    def test_refund_and_other_company_not_counted(self):
        other_company = self.env["res.company"].create({"name": "Otra Empresa SL"})
        self.env["crm.customer.transaction"].sudo().record_transactions(
            [
                {
                    "partner_id": self.ana.id,
                    "date": "2026-03-06",
                    "amount": -30.0,
                    "kind": "refund",
                    "source_ref": "report-test/ana-refund",
                },
                {
                    "partner_id": self.ana.id,
                    "date": "2026-03-06",
                    "amount": 500.0,
                    "kind": "purchase",
                    "source_ref": "report-test/ana-other-company",
                    "company_id": other_company.id,
                },
            ]
        )
        [figures] = self.read_report([]).values()
        self.assertAlmostEqual(figures["revenue"], 120.0, places=2)

    def test_campaign_dashboard_fields(self):
        self.assertEqual(self.campaign.report_sent, 3)
        self.assertEqual(self.campaign.report_opened, 2)
        self.assertEqual(self.campaign.report_clicked, 1)
        self.assertEqual(self.campaign.report_converted, 1)
        self.assertAlmostEqual(self.campaign.report_revenue, 120.0, places=2)
        self.assertAlmostEqual(self.campaign.report_open_rate, 100.0, places=2)
        self.assertAlmostEqual(self.campaign.report_click_rate, 50.0, places=2)

    def test_get_report_figures_per_step(self):
        figures = self.campaign.get_report_figures()
        self.assertEqual(figures["campaign"], "Reactivación")
        self.assertEqual(figures["currency"], self.company.currency_id.name)
        [step] = figures["steps"]
        self.assertEqual(step["step_id"], self.step.id)
        self.assertEqual(step["kind"], "email")
        for measure, expected in EXPECTED_TOTAL.items():
            with self.subTest(measure=measure):
                self.assertAlmostEqual(step[measure], expected, places=2)
                self.assertAlmostEqual(figures["total"][measure], expected, places=2)

    def test_action_view_report_filters_campaign(self):
        action = self.campaign.action_view_report()
        self.assertEqual(action["res_model"], "crm.campaign.report")
        self.assertEqual(action["domain"], [("campaign_id", "=", self.campaign.id)])

    def test_scheduled_traces_not_reported(self):
        self.assertEqual(SENT_AT.date(), SENT_DAY)
        self.campaign.trace_ids[:1].write({"state": "scheduled"})
        [figures] = self.read_report([]).values()
        self.assertEqual(figures["sent"] + figures["skipped"], 3)
