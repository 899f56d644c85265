from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import SegmentsCommon


@tagged("post_install", "-at_install")
class TestSegments(SegmentsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shop = cls.env["res.company"].create(
            {"name": "Librería Sol", "currency_id": cls.company.currency_id.id}
        )
        cls.env.user.company_ids |= cls.shop
        cls.spain = cls.env.ref("base.es")
        cls.mexico = cls.env.ref("base.mx")
        cls.Segment = cls.env["crm.segment"]

    def _customer(self, name, revenue, country=None):
        partner = self.Partner.create(
            {
                "name": name,
                "company_id": self.shop.id,
                "country_id": (country or self.spain).id,
            }
        )
        if revenue:
            self.record(partner, revenue, ref=f"seg/{name}", company_id=self.shop.id)
        partner.profile_refresh()
        return partner

    def _segment(self, name, domain, **vals):
        # Demo customers shared by all companies would match too: keep to the
        # test company's own partners.
        if isinstance(domain, list):
            domain = [("company_id", "=", self.shop.id), *domain]
        return self.Segment.create(
            {"name": name, "domain": str(domain), "company_id": self.shop.id, **vals}
        )

    def test_c9_rebuilt_segment_drops_non_matching(self):
        self._customer("Ana", 150.0)
        self._customer("Beto", 300.0)
        carla = self._customer("Carla", 800.0)
        segment = self._segment("Revenue > 100", [("revenue_total", ">", 100)])
        segment.action_refresh()
        self.assertEqual(segment.member_count, 3)

        segment.domain = str(
            [("company_id", "=", self.shop.id), ("revenue_total", ">", 500)]
        )
        segment.action_refresh()
        self.assertEqual(segment.partner_ids, carla)
        self.assertEqual(segment.member_count, 1)
        left = segment.member_log_ids.filtered(lambda log: log.action == "left")
        self.assertEqual(sorted(left.partner_id.mapped("name")), ["Ana", "Beto"])

    def test_c9_joining_excluded_segment_leaves_other(self):
        maria = self._customer("María", 50.0)
        big_spenders = self._segment("Revenue > 100", [("revenue_total", ">", 100)])
        spain_rest = self._segment(
            "Spain, not big spenders",
            [("country_id", "=", self.spain.id)],
            exclude_segment_ids=[(6, 0, big_spenders.ids)],
        )
        spain_rest.action_refresh()
        self.assertIn(maria, spain_rest.partner_ids)

        self.record(maria, 600.0, ref="seg/María/2", company_id=self.shop.id)
        self.Partner.browse().profile_refresh()
        spain_rest.action_refresh()

        self.assertIn(maria, big_spenders.partner_ids)
        self.assertNotIn(maria, spain_rest.partner_ids)
        logs = spain_rest.member_log_ids.filtered(lambda log: log.partner_id == maria)
        self.assertEqual(logs.sorted("id").mapped("action"), ["entered", "left"])

    def test_refresh_writes_size_history(self):
        self._customer("Ana", 150.0)
        segment = self._segment("Revenue > 100", [("revenue_total", ">", 100)])
        segment.action_refresh()
        self._customer("Beto", 300.0)
        segment.action_refresh()
        history = segment.history_ids.sorted("id")
        self.assertEqual(history.mapped("member_count"), [1, 2])
        self.assertEqual(history.mapped("entered_count"), [1, 1])
        self.assertTrue(all(history.mapped("date")))

    def test_refresh_without_change_logs_nothing(self):
        self._customer("Ana", 150.0)
        segment = self._segment("Revenue > 100", [("revenue_total", ">", 100)])
        segment.action_refresh()
        segment.action_refresh()
        self.assertEqual(len(segment.member_log_ids), 1)

    def test_other_company_partner_not_member(self):
        outsider = self.Partner.create(
            {"name": "Otro", "company_id": self.company.id, "country_id": self.spain.id}
        )
        segment = self.Segment.create(
            {
                "name": "Spain",
                "domain": str([("country_id", "=", self.spain.id)]),
                "company_id": self.shop.id,
            }
        )
        segment.action_refresh()
        self.assertNotIn(outsider, segment.partner_ids)

    def test_value_tier_filter(self):
        rich = self._customer("Rica", 1000.0)
        self._customer("Pobre", 1.0)
        segment = self._segment("Top", [], tier_one_to_one=True)
        self.shop.tier_one_to_one_percent = 50.0
        self.Partner.browse().profile_refresh()
        rich.profile_refresh()
        segment.action_refresh()
        self.assertEqual(segment.partner_ids, rich)

    def test_rfm_segment_filter(self):
        partner = self._customer("Nadia", 20.0)
        rfm = self.env["crm.rfm.segment"].search([("code", "=", partner.rfm_segment)])
        other = self.env["crm.rfm.segment"].search(
            [("code", "!=", partner.rfm_segment)]
        )
        segment = self._segment("RFM", [], rfm_segment_ids=[(6, 0, rfm.ids)])
        segment.action_refresh()
        self.assertIn(partner, segment.partner_ids)
        segment.rfm_segment_ids = [(6, 0, other.ids)]
        segment.action_refresh()
        self.assertNotIn(partner, segment.partner_ids)

    def test_category_filter_includes_subcategories(self):
        parent = self.env["product.category"].create({"name": "Libros"})
        child = self.env["product.category"].create(
            {"name": "Novela", "parent_id": parent.id}
        )
        reader = self._customer("Lector", 0.0)
        reader.purchased_category_ids = [(6, 0, child.ids)]
        self._customer("Otro", 0.0)
        segment = self._segment("Lectores", [], category_ids=[(6, 0, parent.ids)])
        segment.action_refresh()
        self.assertEqual(segment.partner_ids, reader)

    def test_include_segment_restricts_members(self):
        ana = self._customer("Ana", 150.0)
        self._customer("Beto", 150.0, country=self.mexico)
        spain = self._segment("Spain", [("country_id", "=", self.spain.id)])
        big = self._segment(
            "Big in Spain",
            [("revenue_total", ">", 100)],
            include_segment_ids=[(6, 0, spain.ids)],
        )
        big.action_refresh()
        self.assertEqual(big.partner_ids, ana)
        # The included segment was refreshed first.
        self.assertEqual(spain.partner_ids, ana)

    def test_partner_shows_its_segments(self):
        ana = self._customer("Ana", 150.0)
        segment = self._segment("Revenue > 100", [("revenue_total", ">", 100)])
        segment.action_refresh()
        self.assertEqual(ana.segment_ids, segment)

    def test_cron_refreshes_auto_segments(self):
        self._customer("Ana", 150.0)
        auto = self._segment("Auto", [("revenue_total", ">", 100)])
        manual = self._segment(
            "Manual", [("revenue_total", ">", 100)], auto_refresh=False
        )
        self.Segment._cron_refresh()
        self.assertEqual(auto.member_count, 1)
        self.assertEqual(manual.member_count, 0)

    def test_unparsable_domain_rejected(self):
        with self.assertRaisesRegex(
            ValidationError, r"not a valid domain.*revenue_total"
        ):
            self._segment("Roto", "[('revenue_total', '>', ")

    def test_missing_field_rejected_by_name(self):
        with self.assertRaisesRegex(ValidationError, r"field shoe_size"):
            self._segment("Zapatos", [("shoe_size", "=", 42)])

    def test_missing_related_field_rejected_by_name(self):
        with self.assertRaisesRegex(ValidationError, r"field planet"):
            self._segment("Planeta", [("country_id.planet", "=", "Tierra")])

    def test_self_inclusion_through_other_rejected(self):
        first = self._segment("A", [])
        second = self._segment("B", [], include_segment_ids=[(6, 0, first.ids)])
        with self.assertRaisesRegex(ValidationError, r"A → B → A"):
            first.include_segment_ids = [(6, 0, second.ids)]

    def test_self_exclusion_rejected(self):
        first = self._segment("A", [])
        with self.assertRaisesRegex(ValidationError, r"A → A"):
            first.exclude_segment_ids = [(6, 0, first.ids)]
