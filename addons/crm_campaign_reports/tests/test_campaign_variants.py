from datetime import datetime

from lxml import html

from odoo.tests import tagged

from .common import CampaignReportCase


@tagged("post_install", "-at_install")
class TestCampaignReportVariants(CampaignReportCase):
    """The campaign of CampaignReportCase with an A/B experiment on its step,
    an accepted offer and a holdout participant, set on the traces by hand:

    - variant "Asunto A" went to Ana (opened, clicked), "Asunto B" to Bruno
      (opened, replied) and Carla (bounced); the step's metric is the click
      rate, so A has 1 click of 1 (100 %) and B 0 of 2;
    - Ana accepted the step's offer;
    - Diego is in the holdout group instead of being rejected by the gate.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.variant_a, cls.variant_b = cls.env["crm.campaign.variant"].create(
            [
                {"step_id": cls.step.id, "name": "Asunto A", "subject": "Hola A"},
                {"step_id": cls.step.id, "name": "Asunto B", "subject": "Hola B"},
            ]
        )
        cls.step.test_metric = "click"
        by_partner = cls.trace_by_partner
        by_partner[cls.ana].write(
            {
                "variant_id": cls.variant_a.id,
                "is_test_sample": True,
                "offer_accepted_at": datetime(2026, 3, 3, 12, 0),
            }
        )
        (by_partner[cls.bruno] | by_partner[cls.carla]).write(
            {"variant_id": cls.variant_b.id, "is_test_sample": True}
        )
        by_partner[cls.diego].write({"skip_reason": "holdout"})
        by_partner[cls.diego].participant_id.is_holdout = True

    def test_figures_per_variant(self):
        rows = self.read_report(["variant_id"])
        expected = {
            self.variant_a: {"sent": 1, "opened": 1, "clicked": 1, "accepted": 1},
            self.variant_b: {"sent": 2, "opened": 1, "clicked": 0, "bounced": 1},
        }
        no_variant = self.env["crm.campaign.variant"]
        self.assertEqual(
            set(rows), {(self.variant_a,), (self.variant_b,), (no_variant,)}
        )
        for variant, measures in expected.items():
            for measure, value in measures.items():
                with self.subTest(variant=variant.name, measure=measure):
                    self.assertEqual(rows[(variant,)][measure], value)
        # Diego's trace has no variant: holdout participants get none.
        self.assertEqual(rows[(no_variant,)]["held_out"], 1)

    def test_holdout_not_counted_as_skipped(self):
        [figures] = self.read_report([]).values()
        self.assertEqual(figures["skipped"], 0)
        self.assertEqual(figures["held_out"], 1)
        self.assertEqual(figures["accepted"], 1)

    def test_funnel_counts_accepted_offer(self):
        groups = dict(
            self.env["crm.campaign.funnel.report"]._read_group(
                [("campaign_id", "=", self.campaign.id)], ["stage"], ["partners:sum"]
            )
        )
        self.assertEqual(groups["5_accepted"], 1)

    def test_dashboard_shows_experiment(self):
        self.assertEqual(self.campaign.report_accepted, 1)
        document = html.fromstring(self.campaign.report_experiments)
        [table] = document.xpath(f"//table[@data-experiment-step-id='{self.step.id}']")
        cells = {
            row.get("data-variant-id"): [
                cell.text_content().split() for cell in row.xpath("./td")
            ]
            for row in table.xpath(".//tr[@data-variant-id]")
        }
        row_a = cells[str(self.variant_a.id)]
        row_b = cells[str(self.variant_b.id)]
        self.assertEqual(row_a[0], ["Asunto", "A"])
        # Recipients, clicks and click rate.
        self.assertEqual(row_a[1:4], [["1"], ["1"], ["100.00", "%"]])
        self.assertEqual(row_b[1:4], [["2"], ["0"], ["0.00", "%"]])

    def test_dashboard_shows_holdout_uplift(self):
        uplift = self.campaign.get_holdout_uplift()
        self.assertEqual((uplift["treated_count"], uplift["holdout_count"]), (3, 1))
        document = html.fromstring(self.campaign.report_experiments)
        [treated] = document.xpath("//tr[@name='treated']")
        [holdout] = document.xpath("//tr[@name='holdout']")
        self.assertEqual(treated.xpath("./td")[1].text_content().strip(), "3")
        self.assertEqual(holdout.xpath("./td")[1].text_content().strip(), "1")

    def test_dashboard_without_experiment(self):
        campaign = self.env["crm.campaign"].create({"name": "Sin pruebas"})
        self.assertIn("has no holdout group", campaign.report_experiments)
