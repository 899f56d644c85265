from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from .common import ConsentCase


@tagged("post_install", "-at_install")
class TestDoubleOptIn(ConsentCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.text_v1 = cls.env["crm.consent.text"].create(
            {
                "purpose_id": cls.purpose_marketing.id,
                "channel_id": cls.channel_email.id,
                "body": "<p>Acepto recibir ofertas por correo electrónico.</p>",
            }
        )

    def _subscribe(self, partner):
        partner.consent_record(
            "email",
            "granted",
            source="form",
            double_opt_in=True,
            ip_address="203.0.113.7",
            user_agent="Browser A",
            origin="newsletter footer form",
        )
        return self.events_of(partner, self.channel_email)[-1]

    def test_request_is_pending_and_mailed(self):
        request_event = self._subscribe(self.ana)

        self.assertEqual(request_event.state, "pending")
        self.assertEqual(self.state_of(self.ana, "email"), "pending")
        self.assertFalse(self.ana.consent_filter_contactable("email"))
        mail = self.env["mail.mail"].search(
            [("model", "=", "crm.consent.event"), ("res_id", "=", request_event.id)]
        )
        self.assertEqual(len(mail), 1)
        self.assertIn(self.ana.email, mail.email_to)
        self.assertIn(f"/consent/confirm/{request_event.id}/", mail.body_html)
        self.assertIn(f"/consent/preferences/{self.ana.id}/", mail.body_html)

    def test_request_mail_in_partner_language(self):
        self.env["res.lang"]._activate_lang("es_ES")
        self.env["ir.module.module"]._load_module_terms(["crm_consent"], ["es_ES"])
        self.ana.lang = "es_ES"
        template = self.env.ref("crm_consent.mail_template_double_opt_in")
        spanish_subject = template.with_context(lang="es_ES").subject
        self.assertNotEqual(
            spanish_subject, template.with_context(lang="en_US").subject
        )

        request_event = self._subscribe(self.ana)

        mail = self.env["mail.mail"].search(
            [("res_id", "=", request_event.id), ("model", "=", "crm.consent.event")]
        )
        self.assertEqual(mail.subject, spanish_subject)

    def test_double_opt_in_needs_email_channel(self):
        with self.assertRaisesRegex(UserError, "sms"):
            self.ana.consent_record("sms", "granted", double_opt_in=True)

    def test_confirmation_proof_is_complete(self):
        """Case C7: sign-up and confirmation are two events with full proof."""
        with freeze_time("2025-05-12 10:00:00"):
            request_event = self._subscribe(self.ana)
        with freeze_time("2025-05-12 10:05:00"):
            result = request_event._confirm_double_opt_in(
                ip_address="198.51.100.9", user_agent="Browser B"
            )

        self.assertEqual(result, "confirmed")
        signup, confirmation = self.events_of(self.ana, self.channel_email)
        self.assertEqual(signup.date, datetime(2025, 5, 12, 10, 0))
        self.assertEqual(signup.ip_address, "203.0.113.7")
        self.assertEqual(signup.user_agent, "Browser A")
        self.assertEqual(signup.origin, "newsletter footer form")
        self.assertEqual(signup.consent_text_id, self.text_v1)
        self.assertEqual(confirmation.state, "granted")
        self.assertEqual(confirmation.previous_state, "pending")
        self.assertEqual(confirmation.date, datetime(2025, 5, 12, 10, 5))
        self.assertEqual(confirmation.ip_address, "198.51.100.9")
        self.assertEqual(confirmation.user_agent, "Browser B")
        self.assertEqual(confirmation.source, "double_opt_in")
        self.assertEqual(confirmation.consent_text_id, self.text_v1)
        self.assertEqual(self.ana.consent_filter_contactable("email"), self.ana.ids)

        exported = self.ana.consent_export("json")
        self.assertEqual(
            [row["ip_address"] for row in exported], ["203.0.113.7", "198.51.100.9"]
        )
        self.assertEqual(
            [row["user_agent"] for row in exported], ["Browser A", "Browser B"]
        )
        self.assertEqual(exported[0]["date"], "2025-05-12 10:00:00")
        self.assertEqual(exported[1]["date"], "2025-05-12 10:05:00")
        self.assertEqual({row["consent_text_version"] for row in exported}, {1})
        self.assertIn("Acepto recibir ofertas", exported[0]["consent_text"])

    def test_confirming_twice_records_once(self):
        request_event = self._subscribe(self.ana)
        self.assertEqual(request_event._confirm_double_opt_in(), "confirmed")
        self.assertEqual(request_event._confirm_double_opt_in(), "already")
        self.assertEqual(len(self.events_of(self.ana, self.channel_email)), 2)

    def test_later_refusal_outdates_request(self):
        request_event = self._subscribe(self.ana)
        self.ana.consent_record("email", "refused")

        self.assertEqual(request_event._confirm_double_opt_in(), "outdated")
        self.assertEqual(self.state_of(self.ana, "email"), "refused")

    def test_unconfirmed_request_expires(self):
        with freeze_time(datetime.now() - timedelta(days=10)):
            self._subscribe(self.ana)
        self._subscribe(self.bruno)

        expired = self.env["crm.consent"]._expire_double_opt_in()

        self.assertGreaterEqual(expired, 1)
        last = self.events_of(self.ana, self.channel_email)[-1]
        self.assertEqual(last.state, "refused")
        self.assertEqual(last.source, "expiry")
        self.assertEqual(self.state_of(self.bruno, "email"), "pending")
        blacklisted = self.env["mail.blacklist"].search(
            [("email", "=", self.ana.email_normalized)]
        )
        self.assertFalse(
            blacklisted, "a lapsed request is not a refusal by the customer"
        )

    def test_used_text_cannot_change(self):
        self._subscribe(self.ana)
        with self.assertRaises(ValidationError):
            self.text_v1.body = "<p>Otra redacción</p>"
        action = self.text_v1.action_new_version()
        new_text = self.env["crm.consent.text"].browse(action["res_id"])
        self.assertEqual(new_text.version, 2)
        self.assertFalse(self.text_v1.active)


@tagged("post_install", "-at_install")
class TestConsentRequestWizard(ConsentCase):
    def test_wizard_sends_pending_requests(self):
        no_email = self.env["res.partner"].create({"name": "Sin correo"})
        wizard = (
            self.env["crm.consent.request.wizard"]
            .with_user(self.user_marketing)
            .with_context(
                active_model="res.partner", active_ids=(self.ana | no_email).ids
            )
            .create({"proof": "Pidió la newsletter en caja"})
        )
        self.assertEqual(wizard.missing_email_count, 1)

        wizard.action_send()

        self.assertEqual(self.state_of(self.ana, "email"), "pending")
        self.assertFalse(self.state_of(no_email, "email"))
        event = self.events_of(self.ana, self.channel_email)
        self.assertEqual(event.proof, "Pidió la newsletter en caja")
        self.assertEqual(event.user_id, self.user_marketing)
