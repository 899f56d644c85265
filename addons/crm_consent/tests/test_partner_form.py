from odoo.tests import Form, tagged

from .common import ConsentCase


@tagged("post_install", "-at_install")
class TestPartnerForm(ConsentCase):
    def test_form_line_records_event(self):
        with Form(self.ana.with_user(self.user_marketing)) as form:
            with form.consent_ids.new() as line:
                line.channel_id = self.channel_phone
                line.purpose_id = self.purpose_marketing
                line.state = "granted"

        event = self.events_of(self.ana, self.channel_phone)
        self.assertEqual(event.state, "granted")
        self.assertEqual(event.source, "form")
        self.assertEqual(event.user_id, self.user_marketing)

    def test_form_state_change_records_event(self):
        self.ana.consent_record("phone", "granted")
        with Form(self.ana.with_user(self.user_marketing)) as form:
            with form.consent_ids.edit(0) as line:
                line.state = "refused"

        events = self.events_of(self.ana, self.channel_phone)
        self.assertEqual(events.mapped("state"), ["granted", "refused"])
        self.assertEqual(events[1].previous_state, "granted")
        self.assertEqual(self.state_of(self.ana, "phone"), "refused")

    def test_ledger_button_opens_partner_events(self):
        self.ana.consent_record("email", "granted")
        action = self.ana.action_view_consent_events()
        self.assertEqual(action["res_model"], "crm.consent.event")
        self.assertEqual(
            self.env["crm.consent.event"].search(action["domain"]),
            self.events_of(self.ana, self.channel_email),
        )
