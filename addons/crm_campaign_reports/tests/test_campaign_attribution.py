from datetime import date, datetime

from odoo import fields
from odoo.tests import tagged

from .common import CampaignAttributionCase

# Worked out in the docstring of CampaignAttributionCase.
EXPECTED_ATTRIBUTION = {
    "Reactivación": {
        "purchases": 1,
        "revenue": 40.0,
        "purchases_all_touch": 2,
        "revenue_all_touch": 160.0,
        "unsubscribed": 1,
    },
    "Primavera": {
        "purchases": 3,
        "revenue": 495.0,
        "purchases_all_touch": 3,
        "revenue_all_touch": 495.0,
        "unsubscribed": 1,
    },
}


@tagged("post_install", "-at_install")
class TestCampaignAttribution(CampaignAttributionCase):
    def test_last_and_all_touch_per_campaign(self):
        for campaign in (self.campaign, self.spring):
            [figures] = self.read_report([], campaign=campaign).values()
            for measure, expected in EXPECTED_ATTRIBUTION[campaign.name].items():
                with self.subTest(campaign=campaign.name, measure=measure):
                    self.assertAlmostEqual(figures[measure], expected, places=2)

    def test_last_touch_adds_up_to_ledger(self):
        report = self.env["crm.campaign.report"]
        [[revenue, revenue_all_touch]] = report._read_group(
            [("campaign_id", "in", (self.campaign | self.spring).ids)],
            [],
            ["revenue:sum", "revenue_all_touch:sum"],
        )
        # 40 + 120 + 75 + 300 bought within a window, each counted once.
        self.assertAlmostEqual(revenue, 535.0, places=2)
        # 120 counts for both campaigns.
        self.assertAlmostEqual(revenue_all_touch, 655.0, places=2)

    def test_credit_on_the_touching_trace(self):
        rows = self.read_report(["partner_id"], campaign=self.campaign)
        self.assertAlmostEqual(rows[(self.ana,)]["revenue"], 40.0, places=2)
        self.assertAlmostEqual(rows[(self.ana,)]["revenue_all_touch"], 160.0, places=2)
        # Carla's e-mail bounced: her purchase of 300 is not credited here.
        self.assertAlmostEqual(rows[(self.carla,)]["revenue_all_touch"], 0.0, places=2)
        spring_rows = self.read_report(["partner_id"], campaign=self.spring)
        self.assertAlmostEqual(spring_rows[(self.ana,)]["revenue"], 195.0, places=2)
        self.assertAlmostEqual(spring_rows[(self.carla,)]["revenue"], 300.0, places=2)

    def test_unsubscribe_sources_and_channel(self):
        spring_rows = self.read_report(["partner_id"], campaign=self.spring)
        self.assertEqual(spring_rows[(self.ana,)]["unsubscribed"], 1)
        # Refusal by import: not an unsubscribe.
        self.assertEqual(spring_rows[(self.carla,)]["unsubscribed"], 0)
        rows = self.read_report(["partner_id"], campaign=self.campaign)
        self.assertEqual(rows[(self.bruno,)]["unsubscribed"], 1)
        # Ana's e-mail refusal on 6 March goes to her later e-mail only.
        self.assertEqual(rows[(self.ana,)]["unsubscribed"], 0)

    def test_unsubscribe_outside_window_not_counted(self):
        self.spring.attribution_days = 1
        spring_rows = self.read_report(["partner_id"], campaign=self.spring)
        # 6 March 09:00 is more than one day after 4 March 10:00.
        self.assertEqual(spring_rows[(self.ana,)]["unsubscribed"], 0)

    def test_value_tier_at_sending_time(self):
        rows = self.read_report(["partner_id", "value_tier"], campaign=self.campaign)
        self.assertIn((self.ana, "database"), rows)
        spring_rows = self.read_report(
            ["partner_id", "value_tier"], campaign=self.spring
        )
        self.assertIn((self.ana, "one_to_one"), spring_rows)
        # No tier change recorded for Carla: her current tier.
        self.assertIn((self.carla, "database"), spring_rows)

    def test_segment_report_per_member(self):
        rows = self.read_report(
            ["segment_id"], model="crm.campaign.segment.report", campaign=self.campaign
        )
        self.assertEqual(list(rows), [(self.segment,)])
        expected = {
            "sent": 2,
            "delivered": 1,
            "opened": 1,
            "clicked": 1,
            "bounced": 1,
            "unsubscribed": 0,
            "converted": 1,
            "revenue": 40.0,
            "revenue_all_touch": 160.0,
            "open_rate": 100.0,
            "conversion_rate": 50.0,
        }
        for measure, value in expected.items():
            with self.subTest(measure=measure):
                self.assertAlmostEqual(rows[(self.segment,)][measure], value, places=2)

    def test_segment_filter_on_analysis(self):
        [figures] = self.read_report(
            [], domain=[("member_segment_id", "=", self.segment.id)]
        ).values()
        self.assertEqual(figures["sent"], 2)

    def test_funnel_stages(self):
        report = self.env["crm.campaign.funnel.report"]
        groups = report._read_group(
            [("campaign_id", "=", self.campaign.id)], ["stage"], ["partners:sum"]
        )
        self.assertEqual(
            groups,
            [
                ("1_sent", 3),
                ("2_delivered", 2),
                ("3_opened", 2),
                ("4_clicked", 1),
                ("5_accepted", 0),
                ("6_converted", 1),
            ],
        )

    def test_cohort_conversion_by_week(self):
        # 2 March 2026 is a Monday; Ana converted on 5 March, in week 0.
        self.campaign.participant_ids.write({"entry_date": datetime(2026, 3, 2, 9, 0)})
        report = self.env["crm.campaign.cohort.report"]
        groups = report._read_group(
            [("campaign_id", "=", self.campaign.id)],
            ["entry_week:day", "week_number"],
            ["participants:sum", "converted:sum", "conversion_rate:avg"],
        )
        # One row per week from the entry week to this week, at most 26 after.
        weeks = min(26, (fields.Date.today() - date(2026, 3, 2)).days // 7)
        self.assertEqual(len(groups), weeks + 1)
        first = groups[0]
        self.assertEqual(first[0], date(2026, 3, 2))
        self.assertEqual(first[1:], (0, 4, 1, 25.0))
        self.assertEqual(groups[-1][1:], (weeks, 4, 1, 25.0))

    def test_cohort_conversion_in_later_week(self):
        self.campaign.participant_ids.write({"entry_date": datetime(2026, 2, 23, 9, 0)})
        report = self.env["crm.campaign.cohort.report"]
        groups = report._read_group(
            [("campaign_id", "=", self.campaign.id), ("week_number", "<=", 1)],
            ["week_number"],
            ["participants:sum", "converted:sum", "conversion_rate:avg"],
        )
        # Entered the week of 23 February, converted on 5 March: week 1.
        self.assertEqual(groups, [(0, 4, 0, 0.0), (1, 4, 1, 25.0)])

    def test_dashboard_side_by_side(self):
        self.assertEqual(self.spring.report_purchases, 3)
        self.assertAlmostEqual(self.spring.report_revenue, 495.0, places=2)
        self.assertEqual(self.campaign.report_purchases, 1)
        self.assertEqual(self.campaign.report_purchases_all_touch, 2)
        self.assertAlmostEqual(self.campaign.report_revenue_all_touch, 160.0, places=2)
        self.assertEqual(self.campaign.report_unsubscribed, 1)
        self.assertEqual(self.campaign.report_delivered, 2)
        self.assertEqual(self.campaign.report_bounced, 1)
        self.assertAlmostEqual(self.campaign.report_conversion_rate, 33.33, places=2)
