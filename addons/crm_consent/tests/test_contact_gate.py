from odoo.tests import tagged

from .common import ConsentCase


@tagged("post_install", "-at_install")
class TestContactGate(ConsentCase):
    def test_email_consent_does_not_allow_phone_call(self):
        self.ana.consent_record("email", "granted")

        self.assertEqual(self.ana.consent_filter_contactable("email"), self.ana.ids)
        self.assertFalse(self.ana.consent_filter_contactable("phone"))

    def test_never_asked_not_contactable_for_opt_in(self):
        self.assertFalse(self.ana.consent_filter_contactable("email"))

    def test_pending_not_contactable(self):
        self.ana.consent_record("email", "pending")
        self.assertFalse(self.ana.consent_filter_contactable("email"))

    def test_opt_out_purpose_allows_never_asked(self):
        partners = self.ana | self.bruno
        self.bruno.consent_record("email", "refused", "transactional")

        allowed = partners.consent_filter_contactable("email", "transactional")

        self.assertEqual(allowed, self.ana.ids)

    def test_marketing_refusal_keeps_transactional(self):
        self.ana.consent_record("email", "refused", proof="No quiero publicidad")

        self.assertFalse(self.ana.consent_filter_contactable("email"))
        self.assertEqual(
            self.ana.consent_filter_contactable("email", "transactional"), self.ana.ids
        )

    def test_missing_address_not_contactable(self):
        self.bruno.consent_record("postal", "granted")
        self.assertFalse(self.bruno.consent_filter_contactable("postal"))

        self.bruno.street = "Calle Luna 3"
        self.assertEqual(
            self.bruno.consent_filter_contactable("postal"), self.bruno.ids
        )

    def test_leaving_one_list_keeps_the_others(self):
        """Case C1: leaving "Ofertas" does not leave "Boletín"."""
        Purpose = self.env["crm.consent.purpose"]
        Purpose.create({"name": "Boletín", "code": "test_boletin"})
        Purpose.create({"name": "Ofertas", "code": "test_ofertas"})
        self.ana.consent_record("email", "granted", "marketing")
        self.ana.consent_record("email", "granted", "test_boletin")
        self.ana.consent_record("email", "granted", "test_ofertas")

        self.ana.consent_record(
            "email", "refused", "test_ofertas", proof="Baja de Ofertas"
        )

        self.assertEqual(
            self.ana.consent_filter_contactable("email", "test_boletin"), self.ana.ids
        )
        self.assertFalse(self.ana.consent_filter_contactable("email", "test_ofertas"))
        self.assertEqual(self.state_of(self.ana, "email", "marketing"), "granted")
        blacklisted = self.env["mail.blacklist"].search(
            [("email", "=", "ana.martin@ejemplo.es")]
        )
        self.assertFalse(blacklisted)

    def test_gate_query_count_does_not_grow(self):
        many = self.env["res.partner"].create(
            [
                {"name": f"Cliente {index}", "email": f"cliente{index}@ejemplo.es"}
                for index in range(60)
            ]
        )
        many.consent_record("email", "granted")
        few = many[:3]
        # Reading the channel and purpose costs a few queries; the partners
        # themselves are checked by one query whatever their number.
        self.env.invalidate_all()
        with self.assertQueryCount(__system__=6):
            few.consent_filter_contactable("email")
        self.env.invalidate_all()
        with self.assertQueryCount(__system__=6):
            allowed = many.consent_filter_contactable("email")
        self.assertEqual(sorted(allowed), sorted(many.ids))

    def test_recording_query_count_does_not_grow(self):
        few = self.env["res.partner"].create(
            [{"name": f"Socio {index}"} for index in range(3)]
        )
        many = self.env["res.partner"].create(
            [{"name": f"Socio grande {index}"} for index in range(60)]
        )
        # Channel, purpose and consent text lookups cost a few queries; the
        # events of every partner are written by one statement.
        self.env.invalidate_all()
        with self.assertQueryCount(__system__=6):
            few.consent_record("phone", "granted")
        self.env.invalidate_all()
        with self.assertQueryCount(__system__=6):
            many.consent_record("phone", "granted")
        self.assertEqual(
            self.env["crm.consent.event"].search_count(
                [("partner_id", "in", many.ids)]
            ),
            60,
        )

    def test_search_filter_may_email_marketing(self):
        self.ana.consent_record("email", "granted")
        self.bruno.consent_record("email", "refused")
        scope = [("id", "in", (self.ana | self.bruno | self.carla).ids)]
        Partner = self.env["res.partner"]

        allowed = Partner.search(scope + [("may_email_marketing", "=", True)])
        blocked = Partner.search(scope + [("may_email_marketing", "=", False)])

        self.assertEqual(allowed, self.ana)
        self.assertEqual(blocked, self.bruno | self.carla)
        self.assertTrue(self.ana.may_email_marketing)
        self.assertFalse(self.ana.may_phone_marketing)
