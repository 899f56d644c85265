from freezegun import freeze_time

from odoo.tests import tagged

from .common import RfmCommon


@tagged("post_install", "-at_install")
class TestProfiles(RfmCommon):
    def test_profile_aggregates(self):
        self.refresh_profiles()
        pilar = self.people["Pilar"]
        self.assertEqual(str(pilar.first_purchase_date), "2024-11-28")
        self.assertEqual(str(pilar.last_purchase_date), "2024-12-01")
        self.assertEqual(pilar.purchase_count, 4)
        self.assertEqual(pilar.revenue_total, 150.0)
        self.assertEqual(pilar.average_order_value, 37.5)
        self.assertEqual(pilar.customer_lifetime_value, 100.0)
        self.assertEqual(pilar.profile_company_id, self.shop)

    def test_profile_refresh_clears_outdated_flag(self):
        self.assertTrue(self.people["Alba"].profile_outdated)
        self.refresh_profiles()
        self.assertFalse(self.people["Alba"].profile_outdated)

    def test_empty_recordset_refreshes_outdated_only(self):
        self.refresh_profiles()
        self.record(
            self.people["Hugo"],
            80.0,
            date="2024-12-31",
            ref="late/1",
            company_id=self.shop.id,
        )
        self.assertTrue(self.people["Hugo"].profile_outdated)
        self.Partner.browse().profile_refresh()
        self.assertFalse(self.people["Hugo"].profile_outdated)
        self.assertEqual(self.people["Hugo"].purchase_count, 2)
        self.assertEqual(str(self.people["Hugo"].last_purchase_date), "2024-12-31")

    def test_full_refresh_recomputes_every_customer(self):
        self.refresh_profiles()
        # A direct SQL change leaves the profile stale without marking it.
        self.env.cr.execute(
            "UPDATE res_partner SET purchase_count = 99 WHERE id = %s",
            [self.people["Alba"].id],
        )
        self.Partner.invalidate_model(["purchase_count"])
        with freeze_time(self.TODAY):
            self.Partner._profile_refresh_all()
        self.assertEqual(self.people["Alba"].purchase_count, 6)

    def test_contact_refresh_refreshes_company(self):
        self.record(self.contact, 30.0)
        self.contact.profile_refresh()
        self.assertEqual(self.company_customer.purchase_count, 1)
        self.assertEqual(self.contact.purchase_count, 0)

    def test_deleted_ledger_resets_profile(self):
        tx_id = self.record(self.customer, 30.0)
        self.customer.profile_refresh()
        self.assertEqual(self.customer.purchase_count, 1)
        self.Transaction.browse(tx_id).unlink()
        self.Partner.browse().profile_refresh()
        self.assertEqual(self.customer.purchase_count, 0)
        self.assertFalse(self.customer.last_purchase_date)
        self.assertFalse(self.customer.rfm_segment)
        self.assertFalse(self.customer.value_tier)

    def test_rfm_scores_hand_checked(self):
        # Scores are 1 + floor(5 * percent_rank), percent_rank = (rank - 1) / 9
        # over the ten customers with a purchase in 2024.
        expected = {
            "Alba": (5, 4, 4),
            "Bruno": (5, 4, 5),
            "Pilar": (4, 3, 2),
            "Dario": (4, 1, 2),
            "Elena": (3, 2, 3),
            "Fermín": (3, 3, 3),
            "Gloria": (2, 5, 5),
            "Hugo": (2, 1, 1),
            "Inés": (1, 1, 1),
            "Jorge": (1, 5, 4),
        }
        self.refresh_profiles()
        for name, scores in expected.items():
            partner = self.people[name]
            with self.subTest(customer=name):
                self.assertEqual(
                    (partner.rfm_recency, partner.rfm_frequency, partner.rfm_monetary),
                    scores,
                )

    def test_rfm_segments_hand_checked(self):
        expected = {
            "Alba": "champions",
            "Bruno": "champions",
            "Pilar": "potential_loyalists",
            "Dario": "promising",
            "Elena": "about_to_sleep",
            "Fermín": "need_attention",
            "Gloria": "cannot_lose",
            "Hugo": "hibernating",
            "Inés": "lost",
            "Jorge": "cannot_lose",
        }
        self.refresh_profiles()
        for name, segment in expected.items():
            with self.subTest(customer=name):
                self.assertEqual(self.people[name].rfm_segment, segment)

    def test_customer_outside_window_is_lost(self):
        self.refresh_profiles()
        ulises = self.people["Ulises"]
        self.assertEqual(ulises.rfm_segment, "lost")
        self.assertFalse(ulises.rfm_recency)

    def test_rfm_window_is_configurable(self):
        # A two-year window brings Ulises back among the active customers.
        self.shop.rfm_window_days = 731
        self.refresh_profiles()
        self.assertEqual(self.people["Ulises"].rfm_recency, 1)
        self.assertEqual(self.people["Ulises"].rfm_segment, "lost")
        self.assertEqual(self.people["Inés"].rfm_recency, 2)

    def test_rfm_rules_are_configurable(self):
        self.env.ref("crm_segments.rfm_segment_champions").recency_min = 4
        self.refresh_profiles()
        self.assertEqual(self.people["Alba"].rfm_segment, "champions")
        self.assertEqual(self.people["Pilar"].rfm_segment, "potential_loyalists")
        self.env.ref("crm_segments.rfm_segment_champions").frequency_min = 3
        self.refresh_profiles()
        self.assertEqual(self.people["Pilar"].rfm_segment, "champions")

    def test_purchased_categories_from_orders(self):
        category = self.env["product.category"].create({"name": "Herramientas"})
        product = self.env["product.product"].create(
            {"name": "Taladro", "categ_id": category.id, "list_price": 90.0}
        )
        order = self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "order_line": [
                    (0, 0, {"product_id": product.id, "product_uom_qty": 1})
                ],
            }
        )
        order.action_confirm()
        self.customer.profile_refresh()
        self.assertEqual(self.customer.purchased_category_ids, category)

    def test_preferred_channel_follows_consent(self):
        self.customer.write({"email": "maria@ejemplo.es", "phone": "+34 600 123 456"})
        self.customer.consent_record("email", "refused")
        self.customer.consent_record("phone", "granted")
        self.record(self.customer, 10.0)
        self.customer.profile_refresh()
        self.assertEqual(self.customer.preferred_channel_id.code, "phone")
