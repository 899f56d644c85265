from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import ConsentCase


@tagged("post_install", "-at_install")
class TestConsentRecord(ConsentCase):
    def test_grant_then_refuse_appends_two_events(self):
        self.ana.consent_record("email", "granted", proof="Alta en la web")
        self.ana.consent_record("email", "refused", proof="Respuesta: baja")

        events = self.events_of(self.ana, self.channel_email)
        self.assertEqual(events.mapped("state"), ["granted", "refused"])
        self.assertEqual(events.mapped("previous_state"), [False, "granted"])
        self.assertEqual(events[1].proof, "Respuesta: baja")
        self.assertEqual(events[1].user_id, self.env.user)
        self.assertEqual(self.state_of(self.ana, "email"), "refused")

    def test_record_for_many_partners_in_one_call(self):
        partners = self.ana | self.bruno | self.carla
        partners.consent_record("postal", "granted", source="import")

        states = partners.consent_get("postal")
        self.assertEqual([row["partner_id"] for row in states], partners.ids)
        self.assertEqual({row["state"] for row in states}, {"granted"})
        consents = self.env["crm.consent"].search(
            [
                ("partner_id", "in", partners.ids),
                ("channel_id", "=", self.channel_postal.id),
            ]
        )
        self.assertEqual(len(consents), 3)
        self.assertEqual(set(consents.mapped("source")), {"import"})

    def test_unknown_channel_is_rejected_by_name(self):
        with self.assertRaisesRegex(UserError, "fax"):
            self.ana.consent_record("fax", "granted")

    def test_unknown_purpose_is_rejected_by_name(self):
        with self.assertRaisesRegex(UserError, "lottery"):
            self.ana.consent_record("email", "granted", "lottery")

    def test_invalid_state_is_rejected_by_value(self):
        with self.assertRaisesRegex(UserError, "maybe"):
            self.ana.consent_record("email", "maybe")
        self.assertFalse(self.events_of(self.ana, self.channel_email))

    def test_invalid_source_is_rejected_by_value(self):
        with self.assertRaisesRegex(UserError, "carrier_pigeon"):
            self.ana.consent_record("email", "granted", source="carrier_pigeon")

    def test_older_event_does_not_override_newer_state(self):
        self.ana.consent_record("sms", "refused", date="2025-06-01 10:00:00")
        self.ana.consent_record("sms", "granted", date="2024-01-01 10:00:00")

        self.assertEqual(self.state_of(self.ana, "sms"), "refused")
        older = self.events_of(self.ana, self.channel_sms)[1]
        self.assertEqual(older.state, "granted")
        self.assertFalse(older.previous_state, "nothing was in force in January 2024")

    def test_expired_grant_blocks_contact(self):
        self.ana.consent_record("email", "granted", expiry_date="2020-01-01")

        self.assertEqual(self.state_of(self.ana, "email"), "granted")
        self.assertFalse(self.ana.consent_filter_contactable("email"))
