from freezegun import freeze_time

from odoo.tests import tagged

from .common import RfmCommon


@tagged("post_install", "-at_install")
class TestValueTiers(RfmCommon):
    def _tiers(self):
        return {name: partner.value_tier for name, partner in self.people.items()}

    def test_top_share_tiers(self):
        # Lifetime values, highest first: Gloria 1000, Bruno 900, Jorge 700,
        # Alba 600, Fermín 300, Elena 200, Pilar 100, Dario 50, Hugo 20,
        # Inés 10, Ulises 5. Top 10% of 11 is Gloria (1/11); top 50% adds the
        # next four (5/11 = 45%).
        self.shop.write(
            {"tier_one_to_one_percent": 10.0, "tier_database_percent": 50.0}
        )
        self.refresh_profiles()
        tiers = self._tiers()
        self.assertEqual(tiers["Gloria"], "one_to_one")
        for name in ("Bruno", "Jorge", "Alba", "Fermín"):
            self.assertEqual(tiers[name], "database", name)
        for name in ("Elena", "Pilar", "Dario", "Hugo", "Inés", "Ulises"):
            self.assertEqual(tiers[name], "mass", name)

    def test_rfm_segment_tier_rule(self):
        champions = self.env.ref("crm_segments.rfm_segment_champions")
        self.shop.write(
            {
                "tier_one_to_one_rule": "rfm_segments",
                "tier_one_to_one_rfm_segment_ids": [(6, 0, champions.ids)],
                "tier_database_percent": 0.0,
            }
        )
        self.refresh_profiles()
        one_to_one = [
            name for name, tier in self._tiers().items() if tier == "one_to_one"
        ]
        self.assertEqual(sorted(one_to_one), ["Alba", "Bruno"])

    def test_partner_without_purchase_has_no_tier(self):
        self.refresh_profiles()
        self.assertFalse(self.customer.value_tier)

    def test_tier_change_is_logged(self):
        self.shop.write({"tier_one_to_one_percent": 10.0})
        self.refresh_profiles()
        gloria = self.people["Gloria"]
        self.assertEqual(gloria.value_tier_log_ids.tier, "one_to_one")
        self.assertFalse(gloria.value_tier_log_ids.previous_tier)
        self.shop.write({"tier_one_to_one_percent": 0.0})
        self.refresh_profiles()
        last = gloria.value_tier_log_ids.sorted("id")[-1]
        self.assertEqual(last.previous_tier, "one_to_one")
        self.assertEqual(last.tier, "database")

    def test_unchanged_tier_not_logged_again(self):
        self.refresh_profiles()
        count = len(self.people["Gloria"].value_tier_log_ids)
        self.refresh_profiles()
        self.assertEqual(len(self.people["Gloria"].value_tier_log_ids), count)

    def test_one_to_one_entry_schedules_activity(self):
        salesperson = self.env["res.users"].create(
            {"name": "Rocío Vega", "login": "rocio.vega@ejemplo.es"}
        )
        self.people["Gloria"].user_id = salesperson
        self.shop.write({"tier_one_to_one_percent": 10.0})
        self.refresh_profiles()
        activities = self.env["mail.activity"].search(
            [
                ("res_model", "=", "res.partner"),
                ("res_id", "=", self.people["Gloria"].id),
            ]
        )
        self.assertEqual(len(activities), 1)
        self.assertEqual(activities.user_id, salesperson)

    def snapshot_profiles(self):
        """Return the profile values, tier log and activities of the people."""
        names = [
            "first_purchase_date",
            "last_purchase_date",
            "purchase_count",
            "revenue_total",
            "average_order_value",
            "customer_lifetime_value",
            "profile_company_id",
            "rfm_recency",
            "rfm_frequency",
            "rfm_monetary",
            "rfm_segment",
            "value_tier",
            "preferred_channel_id",
            "profile_outdated",
        ]
        self.env.invalidate_all()
        people = self.Partner.browse([partner.id for partner in self.people.values()])
        profiles = {row["id"]: row for row in people.read(names)}
        logs = sorted(
            (log.partner_id.id, log.previous_tier or "", log.tier or "")
            for log in people.value_tier_log_ids
        )
        activities = self.env["mail.activity"].search_count(
            [("res_model", "=", "res.partner"), ("res_id", "in", people.ids)]
        )
        return profiles, logs, activities

    def test_full_refresh_matches_batch_refresh(self):
        salesperson = self.env["res.users"].create(
            {"name": "Rocío Vega", "login": "rocio.vega@ejemplo.es"}
        )
        self.people["Gloria"].user_id = salesperson
        self.shop.write(
            {"tier_one_to_one_percent": 10.0, "tier_database_percent": 50.0}
        )
        with self.env.cr.savepoint() as savepoint:
            self.refresh_profiles()
            by_batch = self.snapshot_profiles()
            savepoint.rollback()
        self.env.invalidate_all()
        with freeze_time(self.TODAY):
            self.Partner._profile_refresh_all()
        full = self.snapshot_profiles()

        self.assertEqual(full[0], by_batch[0])
        self.assertEqual(full[1], by_batch[1])
        self.assertEqual(full[2], by_batch[2])
        self.assertEqual(full[2], 1, "Gloria's salesperson gets one to-do")
