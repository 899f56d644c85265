from datetime import datetime

from odoo.tests import freeze_time, tagged

from .common import CampaignCase


@tagged("post_install", "-at_install", "crm_campaign_automation")
class TestCampaignGate(CampaignCase):
    def test_blacklisted_recipient_gets_no_mail(self):
        """C2: a blacklisted address on a three-person audience."""
        self.env["mail.blacklist"]._add(self.carla.email)
        campaign = self.create_campaign([{"kind": "email"}])
        campaign.action_launch()

        campaign.action_execute()

        mails = self.mails_of(campaign)
        self.assertEqual(len(mails), 2)
        self.assertEqual(
            set(mails.mapped("res_id")), {self.ana.id, self.bruno.id}, "two queued"
        )
        carla_trace = self.traces_of(campaign, partner=self.carla)
        self.assertEqual(carla_trace.state, "skipped")
        self.assertEqual(carla_trace.skip_reason, "consent")
        self.assertFalse(carla_trace.mail_mail_id)
        self.assertFalse(
            self.env["mail.mail"].search_count(
                [("res_id", "=", self.carla.id), ("model", "=", "res.partner")]
            )
        )

    def test_refused_channel_skips_once(self):
        """C10: refusing e-mail mid-sequence skips only the e-mail step, once."""
        with freeze_time("2026-05-04 10:00:00"):
            campaign = self.create_campaign(
                [
                    {"name": "E-mail 1", "kind": "email"},
                    {
                        "name": "E-mail 2",
                        "kind": "email",
                        "parent": 0,
                        "interval_number": 2,
                    },
                    {
                        "name": "SMS",
                        "kind": "sms",
                        "parent": 1,
                        "interval_number": 2,
                    },
                ]
            )
            step_1, step_2, step_sms = campaign.step_ids.sorted("id")
            campaign.action_launch()
            campaign.action_execute()
        self.assertEqual(self.traces_of(campaign, step_1).mapped("state"), ["done"] * 3)

        self.ana.consent_record("email", "refused")
        with freeze_time("2026-05-06 10:00:00"):
            campaign.action_execute()
        trace_2 = self.traces_of(campaign, step_2, self.ana)
        self.assertEqual(trace_2.state, "skipped")
        self.assertEqual(trace_2.skip_reason, "consent")
        executed_at = trace_2.executed_at

        with freeze_time("2026-05-06 12:00:00"):
            processed = campaign.action_execute()
        self.assertEqual(processed, 0, "a skipped trace is not retried")
        self.assertEqual(trace_2.executed_at, executed_at)

        with freeze_time("2026-05-08 10:00:00"):
            campaign.action_execute()
        sms_trace = self.traces_of(campaign, step_sms, self.ana)
        self.assertEqual(sms_trace.state, "done")
        self.assertTrue(sms_trace.sms_id)

    def test_transactional_purpose_ignores_marketing_refusal(self):
        """C10: only messages marked transactional reach a refused customer."""
        self.ana.consent_record("email", "refused")
        marketing = self.create_campaign([{"kind": "email"}], name="Promo")
        transactional = self.create_campaign(
            [{"kind": "email"}],
            name="Aviso de pedido",
            purpose_id=self.env.ref("crm_consent.purpose_transactional").id,
        )
        (marketing | transactional).action_launch()

        (marketing | transactional).action_execute()

        self.assertEqual(self.traces_of(marketing, partner=self.ana).state, "skipped")
        self.assertEqual(self.traces_of(transactional, partner=self.ana).state, "done")

    def test_pressure_budget_goes_to_priority(self):
        self.company.campaign_pressure_limit = 1
        low = self.create_campaign([{"kind": "email"}], name="Baja", priority=5)
        high = self.create_campaign([{"kind": "email"}], name="Alta", priority=50)
        (low | high).action_launch()

        (low | high).action_execute()

        self.assertEqual(self.traces_of(high).mapped("state"), ["done"] * 3)
        low_traces = self.traces_of(low)
        self.assertEqual(low_traces.mapped("state"), ["skipped"] * 3)
        self.assertEqual(low_traces.mapped("skip_reason"), ["pressure"] * 3)

    def test_pressure_counts_previous_contacts(self):
        self.company.campaign_pressure_limit = 1
        first = self.create_campaign([{"kind": "email"}], name="Primera")
        with freeze_time("2026-05-04 10:00:00"):
            first.action_launch()
            first.action_execute()
        second = self.create_campaign([{"kind": "email"}], name="Segunda")
        with freeze_time("2026-05-08 10:00:00"):
            second.action_launch()
            second.action_execute()
        with freeze_time("2026-05-12 10:00:00"):
            third = self.create_campaign([{"kind": "email"}], name="Tercera")
            third.action_launch()
            third.action_execute()
        self.assertEqual(self.traces_of(second).mapped("skip_reason"), ["pressure"] * 3)
        self.assertEqual(self.traces_of(third).mapped("state"), ["done"] * 3)

    def test_quiet_hours_delay_to_morning(self):
        self.company.write({"campaign_hour_from": 9.0, "campaign_hour_to": 21.0})
        campaign = self.create_campaign([{"kind": "email"}])
        # 22:30 UTC on a Tuesday in January is 23:30 in Madrid.
        with freeze_time("2026-01-13 22:30:00"):
            campaign.action_launch()
            campaign.action_execute()
        traces = self.traces_of(campaign)
        self.assertEqual(traces.mapped("state"), ["scheduled"] * 3)
        self.assertEqual(traces.mapped("skip_reason"), ["quiet_hours"] * 3)
        self.assertEqual(
            traces.mapped("scheduled_at"), [datetime(2026, 1, 14, 8, 0)] * 3
        )
        self.assertFalse(self.mails_of(campaign))

        with freeze_time("2026-01-13 23:30:00"):
            self.assertEqual(campaign.action_execute(), 0)
        with freeze_time("2026-01-14 08:00:00"):
            campaign.action_execute()
        self.assertEqual(traces.mapped("state"), ["done"] * 3)
        self.assertEqual(traces.mapped("skip_reason"), [False] * 3)
        self.assertEqual(len(self.mails_of(campaign)), 3)

    def test_quiet_weekday_moves_to_next_allowed_day(self):
        self.company.write(
            {
                "campaign_hour_from": 9.0,
                "campaign_hour_to": 21.0,
                "campaign_weekday_6": False,
            }
        )
        campaign = self.create_campaign([{"kind": "email"}])
        # Sunday 2026-07-12, 10:00 in Madrid (UTC+2).
        with freeze_time("2026-07-12 08:00:00"):
            campaign.action_launch()
            campaign.action_execute()
        self.assertEqual(
            self.traces_of(campaign).mapped("scheduled_at"),
            [datetime(2026, 7, 13, 7, 0)] * 3,
        )

    def test_local_hour_waits_summer(self):
        """C12: tomorrow 08:00 in Madrid is 06:00 UTC in summer."""
        campaign = self.create_campaign(
            [{"kind": "email", "interval_number": 1, "local_hour": 8.0}],
            tz="Europe/Madrid",
        )
        (self.customers).write({"tz": False})
        with freeze_time("2026-07-09 12:00:00"):
            campaign.with_user(self.user_marketing).action_launch()
            self.assertEqual(campaign.action_execute(), 0)
        self.assertFalse(self.mails_of(campaign))
        self.assertEqual(
            self.traces_of(campaign).mapped("scheduled_at"),
            [datetime(2026, 7, 10, 6, 0)] * 3,
        )
        with freeze_time("2026-07-10 05:59:00"):
            self.assertEqual(campaign.action_execute(), 0)
        with freeze_time("2026-07-10 06:00:00"):
            self.assertEqual(campaign.action_execute(), 3)
        self.assertEqual(len(self.mails_of(campaign)), 3)

    def test_local_hour_waits_winter(self):
        """C12: tomorrow 08:00 in Madrid is 07:00 UTC in winter."""
        campaign = self.create_campaign(
            [{"kind": "email", "interval_number": 1, "local_hour": 8.0}],
            tz="Europe/Madrid",
        )
        (self.customers).write({"tz": False})
        with freeze_time("2026-01-15 12:00:00"):
            campaign.action_launch()
            self.assertEqual(campaign.action_execute(), 0)
        self.assertEqual(
            self.traces_of(campaign).mapped("scheduled_at"),
            [datetime(2026, 1, 16, 7, 0)] * 3,
        )

    def test_preview_counts_refusals_by_reason(self):
        self.env["mail.blacklist"]._add(self.carla.email)
        campaign = self.create_campaign([{"kind": "email"}])

        preview = campaign.get_audience_preview()

        self.assertEqual(preview["audience"], 3)
        self.assertEqual(preview["refused"]["consent"], 1)
        self.assertEqual(preview["refused"]["pressure"], 0)
        self.assertFalse(self.traces_of(campaign), "a preview schedules nothing")

    def test_event_promotion_to_refused_customer(self):
        """C10: a form-triggered promotional e-mail to a refused customer."""
        self.bruno.consent_record("email", "refused")
        with freeze_time("2026-05-04 10:00:00"):
            campaign = self.create_campaign(
                [{"kind": "email"}],
                name="Promoción tras formulario",
                entry_mode="event",
                event_model_id=self.env["ir.model"]._get("res.partner").id,
                event_domain=repr([("category_id", "in", self.tag.ids)]),
            )
            campaign.action_launch()
        with freeze_time("2026-05-04 11:00:00"):
            self.bruno.write({"category_id": [(4, self.tag.id)]})
            self.env.flush_all()
            campaign.action_enroll()
            campaign.action_execute()

        trace = self.traces_of(campaign, partner=self.bruno)
        self.assertEqual(trace.state, "skipped")
        self.assertEqual(trace.skip_reason, "consent")
        self.assertFalse(self.mails_of(campaign))
