from odoo.tests import tagged

from odoo.addons.crm_consent.tools import normalize_phone

from .common import ConsentCase


@tagged("post_install", "-at_install")
class TestBlacklistSync(ConsentCase):
    def test_blacklist_refuses_every_marketing_purpose(self):
        newsletter = self.env["crm.consent.purpose"].create(
            {"name": "Boletín", "code": "test_newsletter"}
        )
        self.ana.consent_record("email", "granted", "test_newsletter")

        self.env["mail.blacklist"]._add(
            "Ana.Martin@Ejemplo.es", message="Baja desde la web"
        )

        self.assertEqual(self.state_of(self.ana, "email", "marketing"), "refused")
        self.assertEqual(self.state_of(self.ana, "email", "test_newsletter"), "refused")
        self.assertFalse(self.state_of(self.ana, "email", "transactional"))
        event = self.events_of(self.ana, self.channel_email, newsletter)[-1]
        self.assertEqual(event.source, "blacklist")
        self.assertEqual(event.previous_state, "granted")
        self.assertEqual(event.proof, "Baja desde la web")

    def test_marketing_refusal_blacklists_address(self):
        self.ana.consent_record("email", "granted")
        self.ana.consent_record("email", "refused")

        entry = self.env["mail.blacklist"].search(
            [("email", "=", "ana.martin@ejemplo.es")]
        )
        self.assertTrue(entry.active)
        self.assertEqual(
            len(self.events_of(self.ana, self.channel_email)), 2, "no duplicate refusal"
        )

    def test_marketing_grant_lifts_blacklist(self):
        self.env["mail.blacklist"]._add("ana.martin@ejemplo.es")
        self.ana.consent_record("email", "granted", proof="Volvió a suscribirse")

        entry = (
            self.env["mail.blacklist"]
            .with_context(active_test=False)
            .search([("email", "=", "ana.martin@ejemplo.es")])
        )
        self.assertFalse(entry.active)
        self.assertEqual(self.ana.consent_filter_contactable("email"), self.ana.ids)

    def test_grant_without_blacklist_creates_no_entry(self):
        self.ana.consent_record("email", "granted")
        entries = (
            self.env["mail.blacklist"]
            .with_context(active_test=False)
            .search([("email", "=", "ana.martin@ejemplo.es")])
        )
        self.assertFalse(entries)

    def test_lifting_blacklist_restores_refused(self):
        self.env["mail.blacklist"]._add("bruno.diaz@ejemplo.es")
        self.env["mail.blacklist"]._remove(
            "bruno.diaz@ejemplo.es", message="Error de tecleo"
        )

        events = self.events_of(self.bruno, self.channel_email)
        self.assertEqual(events.mapped("state"), ["refused", "granted"])
        self.assertEqual(events[1].proof, "Error de tecleo")
        self.assertEqual(self.state_of(self.bruno, "email"), "granted")

    def test_lifting_blacklist_never_invents_grant(self):
        self.env["mail.blacklist"]._add("nuevo.cliente@ejemplo.es")
        newcomer = self.env["res.partner"].create(
            {"name": "Cliente Nuevo", "email": "nuevo.cliente@ejemplo.es"}
        )
        self.assertFalse(newcomer.consent_filter_contactable("email", "marketing"))

        self.env["mail.blacklist"]._remove("nuevo.cliente@ejemplo.es")

        self.assertFalse(self.state_of(newcomer, "email"))
        self.assertFalse(self.events_of(newcomer, self.channel_email))

    def test_phone_notations_normalise_alike(self):
        """Case C6: two notations of a Mexican number are one E.164 number."""
        self.assertEqual(normalize_phone("+52 55 1234 5678"), "+525512345678")
        self.assertEqual(normalize_phone("55 1234 5678", "MX"), "+525512345678")
        self.assertEqual(self.carla.mobile_e164, "+525512345678")
        self.assertIsNone(normalize_phone("no es un número", "MX"))

    def test_sms_blacklist_history_with_reason(self):
        """Case C6: blacklist, remove with a reason, blacklist again."""
        self.carla.consent_record("sms", "granted")
        number = normalize_phone("55 1234 5678", "MX")
        PhoneBlacklist = self.env["phone.blacklist"]

        PhoneBlacklist._add([number], message="STOP recibido por SMS")
        PhoneBlacklist._remove([number], message="volvió en tienda")
        PhoneBlacklist._add([number], message="STOP recibido por SMS")

        entry = PhoneBlacklist.search([("number", "=", "+525512345678")])
        self.assertTrue(entry.active)
        events = self.events_of(self.carla, self.channel_sms)
        self.assertEqual(
            events.mapped("state"), ["granted", "refused", "granted", "refused"]
        )
        self.assertEqual(events[2].proof, "volvió en tienda")
        self.assertEqual(set(events[1:].mapped("source")), {"blacklist"})
        self.assertFalse(self.carla.consent_filter_contactable("sms"))

    def test_refused_call_does_not_block_sms(self):
        self.carla.consent_record("sms", "granted")
        self.carla.consent_record("phone", "refused")

        self.assertEqual(self.carla.consent_filter_contactable("sms"), self.carla.ids)
        self.assertFalse(
            self.env["phone.blacklist"].search([("number", "=", "+525512345678")])
        )

    def test_refused_sms_does_not_block_call(self):
        self.carla.consent_record("phone", "granted")
        self.carla.consent_record("sms", "refused")

        self.assertEqual(self.carla.consent_filter_contactable("phone"), self.carla.ids)
        self.assertTrue(
            self.env["phone.blacklist"].search([("number", "=", "+525512345678")])
        )
