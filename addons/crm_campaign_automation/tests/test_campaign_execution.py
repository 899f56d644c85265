from datetime import date, datetime

from psycopg2 import IntegrityError

from odoo.exceptions import UserError
from odoo.tests import freeze_time, tagged
from odoo.tools import mute_logger

from .common import CampaignCase


@tagged("post_install", "-at_install", "crm_campaign_automation")
class TestCampaignExecution(CampaignCase):
    def test_launch_enrolls_audience_once(self):
        campaign = self.create_campaign([{"kind": "email"}])

        campaign.action_launch()
        campaign.action_enroll()

        self.assertEqual(campaign.state, "running")
        self.assertEqual(
            campaign.participant_ids.partner_id, self.customers, "each partner once"
        )
        self.assertEqual(len(self.traces_of(campaign)), 3)

    def test_launch_requires_steps(self):
        campaign = self.create_campaign([])
        with self.assertRaises(UserError):
            campaign.action_launch()

    def test_new_member_joins_running_campaign(self):
        campaign = self.create_campaign([{"kind": "email"}])
        campaign.action_launch()
        diego = self.env["res.partner"].create(
            {
                "name": "Diego Sanz",
                "email": "diego@ejemplo.es",
                "category_id": [(4, self.tag_audience.id)],
            }
        )

        added = campaign.action_enroll()

        self.assertEqual(added, 1)
        self.assertIn(diego, campaign.participant_ids.partner_id)

    def test_segment_audience_with_exclusion(self):
        segment = self.env["crm.segment"].create(
            {"name": "Audiencia", "domain": repr([("id", "in", self.customers.ids)])}
        )
        excluded = self.env["crm.segment"].create(
            {"name": "Excluidos", "domain": repr([("id", "=", self.carla.id)])}
        )
        (segment | excluded).action_refresh()
        campaign = self.create_campaign(
            [{"kind": "email"}],
            domain="[]",
            segment_ids=[(6, 0, segment.ids)],
            exclude_segment_ids=[(6, 0, excluded.ids)],
        )

        campaign.action_launch()

        self.assertEqual(campaign.participant_ids.partner_id, self.ana | self.bruno)

    def test_child_step_waits_for_its_delay(self):
        with freeze_time("2026-05-04 10:00:00"):
            campaign = self.create_campaign(
                [
                    {"kind": "email"},
                    {"kind": "email", "parent": 0, "interval_number": 2},
                ]
            )
            step_2 = campaign.step_ids.sorted("id")[1]
            campaign.action_launch()
            campaign.action_execute()
        child_traces = self.traces_of(campaign, step_2)
        self.assertEqual(
            child_traces.mapped("scheduled_at"), [datetime(2026, 5, 6, 10, 0)] * 3
        )
        with freeze_time("2026-05-05 10:00:00"):
            self.assertEqual(campaign.action_execute(), 0)
        with freeze_time("2026-05-06 10:00:00"):
            self.assertEqual(campaign.action_execute(), 3)
        self.assertEqual(child_traces.mapped("state"), ["done"] * 3)
        self.assertEqual(campaign.participant_ids.mapped("state"), ["completed"] * 3)

    def test_email_creates_mailing_trace(self):
        campaign = self.create_campaign([{"kind": "email"}])
        campaign.action_launch()

        campaign.action_execute()

        trace = self.traces_of(campaign, partner=self.ana)
        self.assertTrue(trace.mail_mail_id)
        self.assertEqual(trace.mailing_trace_id.trace_type, "mail")
        self.assertEqual(trace.mailing_trace_id.res_id, self.ana.id)
        self.assertEqual(trace.mailing_trace_id.campaign_id, campaign.utm_campaign_id)
        self.assertEqual(trace.mail_mail_id.subject, "Hola Ana Martín")
        self.assertIn("/r/", trace.mail_mail_id.body_html, "links are tracked")

    def test_email_rendered_in_partner_language(self):
        self.env["res.lang"]._activate_lang("es_ES")
        self.template.with_context(lang="es_ES").subject = "Hola {{ object.name }}"
        self.template.subject = "Hello {{ object.name }}"
        self.template.lang = "{{ object.lang }}"
        self.ana.lang = "es_ES"
        self.bruno.lang = "en_US"
        campaign = self.create_campaign([{"kind": "email"}])
        campaign.action_launch()

        campaign.action_execute()

        self.assertEqual(
            self.traces_of(campaign, partner=self.ana).mail_mail_id.subject,
            "Hola Ana Martín",
        )
        self.assertEqual(
            self.traces_of(campaign, partner=self.bruno).mail_mail_id.subject,
            "Hello Bruno Díaz",
        )

    def test_opened_trigger_follows_mailing_trace(self):
        with freeze_time("2026-05-04 10:00:00"):
            campaign = self.create_campaign(
                [
                    {"kind": "email"},
                    {
                        "kind": "email",
                        "parent": 0,
                        "trigger": "opened",
                        "interval_number": 1,
                    },
                ]
            )
            opened_step = campaign.step_ids.sorted("id")[1]
            campaign.action_launch()
            campaign.action_execute()
            self.traces_of(campaign, partner=self.ana)[-1].mailing_trace_id.set_opened()
        with freeze_time("2026-05-05 10:00:00"):
            campaign.action_execute()
        self.assertEqual(self.traces_of(campaign, opened_step, self.ana).state, "done")
        bruno_trace = self.traces_of(campaign, opened_step, self.bruno)
        self.assertEqual(bruno_trace.state, "canceled")
        self.assertEqual(bruno_trace.skip_reason, "trigger")

    def test_sms_creates_sms_and_trace(self):
        campaign = self.create_campaign([{"kind": "sms"}])
        campaign.action_launch()

        campaign.action_execute()

        trace = self.traces_of(campaign, partner=self.ana)
        self.assertEqual(trace.sms_id.number, "+34611222333")
        self.assertEqual(
            trace.sms_id.body, "Hola Ana Martín, 10% en tu próxima compra."
        )
        self.assertEqual(trace.mailing_trace_id.trace_type, "sms")

    def test_call_goes_to_salesperson(self):
        self.ana.user_id = self.user_marketing
        campaign = self.create_campaign(
            [{"kind": "call", "activity_summary": "Llamar para reactivar"}]
        )
        campaign.action_launch()

        campaign.action_execute()

        activity = self.traces_of(campaign, partner=self.ana).activity_id
        self.assertEqual(activity.user_id, self.user_marketing)
        self.assertEqual(activity.summary, "Llamar para reactivar")
        self.assertEqual(activity.res_id, self.ana.id)

    def test_tier_routing(self):
        self.ana.value_tier = "one_to_one"
        (self.bruno | self.carla).write({"value_tier": "mass"})
        campaign = self.create_campaign(
            [
                {"kind": "call", "tier_filter": "one_to_one"},
                {"kind": "email", "tier_filter": "automated"},
            ]
        )
        call_step, email_step = campaign.step_ids.sorted("id")
        campaign.action_launch()

        campaign.action_execute()

        done = self.traces_of(campaign).filtered(lambda t: t.state == "done")
        self.assertEqual(
            done.filtered(lambda t: t.step_id == call_step).partner_id, self.ana
        )
        self.assertEqual(
            done.filtered(lambda t: t.step_id == email_step).partner_id,
            self.bruno | self.carla,
        )

    def test_add_tag_action(self):
        campaign = self.create_campaign(
            [{"kind": "action", "action_kind": "add_tag", "tag_id": self.tag.id}]
        )
        campaign.action_launch()

        campaign.action_execute()

        self.assertIn(self.tag, self.ana.category_id)

    def test_purchase_goal_ends_journey(self):
        with freeze_time("2026-05-04 10:00:00"):
            campaign = self.create_campaign(
                [
                    {"kind": "email"},
                    {"kind": "email", "parent": 0, "interval_number": 3},
                ],
                goal="purchase",
            )
            campaign.action_launch()
            campaign.action_execute()
        with freeze_time("2026-05-05 10:00:00"):
            order = self.env["sale.order"].create(
                {
                    "partner_id": self.ana.id,
                    "order_line": [
                        (0, 0, {"product_id": self.product.id, "product_uom_qty": 1})
                    ],
                }
            )
            order.action_confirm()
        with freeze_time("2026-05-07 10:00:00"):
            campaign.action_execute()
        participant = campaign.participant_ids.filtered(
            lambda p: p.partner_id == self.ana
        )
        self.assertEqual(participant.state, "converted")
        second = self.traces_of(campaign, campaign.step_ids.sorted("id")[1], self.ana)
        self.assertEqual(second.state, "canceled")
        self.assertEqual(second.skip_reason, "goal")

    def test_pause_holds_and_resume_runs(self):
        campaign = self.create_campaign([{"kind": "email"}])
        campaign.action_launch()
        campaign.action_pause()

        self.assertEqual(campaign.action_execute(), 0)
        campaign.action_resume()

        self.assertEqual(campaign.action_execute(), 3)

    def test_stop_cancels_scheduled_steps(self):
        campaign = self.create_campaign([{"kind": "email", "interval_number": 1}])
        campaign.action_launch()

        campaign.action_stop()

        traces = self.traces_of(campaign)
        self.assertEqual(traces.mapped("state"), ["canceled"] * 3)
        self.assertEqual(traces.mapped("skip_reason"), ["stopped"] * 3)
        self.assertEqual(campaign.state, "done")

    def test_trace_unique_per_participant_and_step(self):
        campaign = self.create_campaign([{"kind": "email"}])
        campaign.action_launch()
        trace = self.traces_of(campaign, partner=self.ana)
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError):
            with self.env.cr.savepoint():
                trace.copy()

    def test_date_rule_birthday_local_morning(self):
        """C11: birthday 1990-03-15 at 09:00 in Mexico City is 15:00 UTC."""
        self.ana.write(
            {"tz": "America/Mexico_City", "last_purchase_date": date(1990, 3, 15)}
        )
        campaign = self.create_campaign(
            [{"kind": "email"}],
            entry_mode="date_rule",
            date_field_id=self.env["ir.model.fields"]
            ._get("res.partner", "last_purchase_date")
            .id,
            date_yearly=True,
            date_hour=9.0,
        )
        with freeze_time("2026-03-14 12:00:00"):
            campaign.action_launch()
        trace = self.traces_of(campaign, partner=self.ana)
        self.assertEqual(trace.scheduled_at, datetime(2026, 3, 15, 15, 0))
        with freeze_time("2026-03-15 14:59:00"):
            self.assertEqual(campaign.action_execute(), 0)
        with freeze_time("2026-03-15 15:00:00"):
            self.assertEqual(campaign.action_execute(), 1)

    def test_local_hour_sao_paulo(self):
        """C11: 2025-01-20 09:00 in America/Sao_Paulo is stored as 12:00 UTC."""
        campaign = self.create_campaign(
            [{"kind": "email", "interval_number": 1, "local_hour": 9.0}]
        )
        step = campaign.step_ids

        due = step._get_due_date(datetime(2025, 1, 19, 15, 0), "America/Sao_Paulo")

        self.assertEqual(due, datetime(2025, 1, 20, 12, 0))

    def test_test_send_creates_no_trace(self):
        campaign = self.create_campaign([{"kind": "email"}])
        mail_ids = campaign.step_ids.action_test_send(emails=["prueba@ejemplo.es"])

        mail = self.env["mail.mail"].browse(mail_ids)
        self.assertEqual(mail.email_to, "prueba@ejemplo.es")
        self.assertTrue(mail.subject.startswith("[TEST]"))
        self.assertFalse(self.traces_of(campaign))

    def test_event_enrolls_buyer(self):
        with freeze_time("2026-05-04 10:00:00"):
            campaign = self.create_campaign(
                [{"kind": "email"}],
                name="Gracias por tu compra",
                entry_mode="event",
                event_model_id=self.env["ir.model"]._get("sale.order").id,
                event_partner_field_id=self.env["ir.model.fields"]
                ._get("sale.order", "partner_id")
                .id,
                event_domain=repr([("state", "=", "sale")]),
            )
            campaign.action_launch()
        self.assertFalse(campaign.participant_ids, "events only count after launch")

        with freeze_time("2026-05-04 11:00:00"):
            order = self.env["sale.order"].create(
                {
                    "partner_id": self.bruno.id,
                    "order_line": [
                        (0, 0, {"product_id": self.product.id, "product_uom_qty": 1})
                    ],
                }
            )
            order.action_confirm()
            self.env.flush_all()
            enrolled = campaign.action_enroll()

        self.assertEqual(enrolled, 1)
        self.assertEqual(campaign.participant_ids.partner_id, self.bruno)

    def test_form_buttons_return_notifications(self):
        campaign = self.create_campaign([{"kind": "email"}])
        campaign.action_launch()

        action = campaign.action_execute_now()

        self.assertEqual(action["tag"], "display_notification")
        self.assertIn("3", action["params"]["message"])

    def test_email_carries_consent_links(self):
        campaign = self.create_campaign([{"kind": "email"}])
        campaign.action_launch()
        campaign.action_execute()
        mail = self.traces_of(campaign, partner=self.ana).mail_mail_id

        [email_values] = mail._prepare_outgoing_list()

        self.assertIn(f"/consent/preferences/{self.ana.id}/", mail.body_html)
        self.assertIn("/consent/", email_values["headers"]["List-Unsubscribe"])
        self.assertEqual(
            email_values["headers"]["List-Unsubscribe-Post"],
            "List-Unsubscribe=One-Click",
        )

    def test_postal_letters_and_address_list(self):
        campaign = self.create_campaign(
            [{"kind": "postal", "mail_template_id": self.template.id}]
        )
        campaign.action_launch()

        campaign.action_execute()

        traces = self.traces_of(campaign)
        self.assertEqual(traces.mapped("state"), ["done"] * 3)
        ana_trace = traces.filtered(lambda t: t.partner_id == self.ana)
        self.assertIn("oferta", ana_trace.letter_html)
        attachment = ana_trace.postal_attachment_id
        self.assertEqual(attachment.res_id, campaign.step_ids.id)
        csv_text = attachment.raw.decode("utf-8-sig")
        self.assertIn("Calle Mayor 5", csv_text)
        self.assertEqual(len(csv_text.strip().splitlines()), 4, "header and 3 rows")
        html, _report_type = self.env["ir.actions.report"]._render_qweb_pdf(
            "crm_campaign_automation.action_report_campaign_letter", traces.ids
        )
        self.assertIn(b"Calle Mayor 5", html)
