from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import ConsentCase


@tagged("post_install", "-at_install")
class TestConsentLedger(ConsentCase):
    def test_event_write_rejected_for_superuser(self):
        self.ana.consent_record("email", "granted")
        event = self.events_of(self.ana, self.channel_email)
        with self.assertRaisesRegex(UserError, "append-only"):
            event.sudo().write({"state": "refused"})
        self.assertEqual(event.state, "granted")

    def test_event_unlink_rejected_for_superuser(self):
        self.ana.consent_record("email", "granted")
        event = self.events_of(self.ana, self.channel_email)
        with self.assertRaisesRegex(UserError, "append-only"):
            event.sudo().unlink()
        self.assertTrue(event.exists())

    def test_event_direct_create_rejected(self):
        with self.assertRaisesRegex(UserError, "consent_record"):
            self.env["crm.consent.event"].sudo().create(
                {
                    "partner_id": self.ana.id,
                    "channel_id": self.channel_email.id,
                    "purpose_id": self.purpose_marketing.id,
                    "state": "granted",
                    "source": "api",
                    "date": "2025-01-01 00:00:00",
                }
            )

    def test_consent_unlink_rejected(self):
        self.ana.consent_record("email", "granted")
        consent = self.ana.consent_ids
        with self.assertRaisesRegex(UserError, "refusal"):
            consent.sudo().unlink()

    def test_never_asked_channel_has_no_state(self):
        """Case C8: "not asked" is a state of its own."""
        self.ana.consent_record("email", "granted")

        self.assertFalse(self.state_of(self.ana, "postal"))
        self.assertFalse(self.state_of(self.ana, "email", "transactional"))
        self.assertFalse(self.events_of(self.ana, self.channel_postal))

    def test_history_answers_past_send(self):
        """Case C8: a send on 4 April was covered, today the state is refused."""
        self.ana.consent_record("email", "granted", date="2025-04-01 09:00:00")
        self.ana.consent_record("email", "refused", date="2025-04-10 09:00:00")

        send_time = "2025-04-04 12:00:00"
        self.assertEqual(self.state_of(self.ana, "email", at=send_time), "granted")
        self.assertEqual(
            self.ana.consent_filter_contactable("email", at=send_time), self.ana.ids
        )
        self.assertEqual(self.state_of(self.ana, "email"), "refused")
        self.assertFalse(self.ana.consent_filter_contactable("email"))
        self.assertFalse(self.state_of(self.ana, "email", at="2025-03-01 00:00:00"))

    def test_address_edit_keeps_consent(self):
        """Case C8: editing the street does not change postal consent."""
        self.ana.consent_record("postal", "granted")
        events_before = self.events_of(self.ana, self.channel_postal)

        self.ana.write({"street": "Avenida de América 10", "email": "ana@nuevo.es"})

        self.assertEqual(self.state_of(self.ana, "postal"), "granted")
        self.assertEqual(self.events_of(self.ana, self.channel_postal), events_before)
        self.assertFalse(self.state_of(self.ana, "email"))
