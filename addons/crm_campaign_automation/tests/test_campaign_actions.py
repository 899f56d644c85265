from odoo.tests import freeze_time, tagged

from .common import CampaignCase


@tagged("post_install", "-at_install", "crm_campaign_automation")
class TestCampaignActions(CampaignCase):
    """Action steps, value-tier routing and the pressure rule over cron runs."""

    def run_campaign(self, steps, **values):
        campaign = self.create_campaign(steps, **values)
        campaign.action_launch()
        campaign.action_execute()
        return campaign

    def test_add_to_segment_survives_refresh(self):
        segment = self.env["crm.segment"].create(
            {"name": "Solo Carla", "domain": repr([("id", "=", self.carla.id)])}
        )
        segment.action_refresh()

        self.run_campaign(
            [
                {
                    "kind": "action",
                    "action_kind": "add_segment",
                    "segment_id": segment.id,
                }
            ],
            domain=repr([("id", "in", (self.ana | self.bruno).ids)]),
        )

        self.assertEqual(segment.partner_ids, self.customers)
        self.assertEqual(segment.member_count, 3)
        entered = segment.member_log_ids.filtered(lambda log: log.action == "entered")
        self.assertEqual(entered.partner_id, self.customers)
        segment.action_refresh()
        self.assertEqual(segment.partner_ids, self.customers, "kept by a refresh")

    def test_remove_from_segment_survives_refresh(self):
        segment = self.env["crm.segment"].create(
            {"name": "Todos", "domain": repr([("id", "in", self.customers.ids)])}
        )
        segment.action_refresh()

        self.run_campaign(
            [
                {
                    "kind": "action",
                    "action_kind": "remove_segment",
                    "segment_id": segment.id,
                }
            ],
            domain=repr([("id", "=", self.ana.id)]),
        )

        self.assertEqual(segment.partner_ids, self.bruno | self.carla)
        segment.action_refresh()
        self.assertEqual(segment.partner_ids, self.bruno | self.carla)
        left = segment.member_log_ids.filtered(lambda log: log.action == "left")
        self.assertEqual(left.partner_id, self.ana)

    def test_add_after_remove_restores_member(self):
        segment = self.env["crm.segment"].create(
            {"name": "Todos", "domain": repr([("id", "in", self.customers.ids)])}
        )
        segment._campaign_set_static_members(self.ana, add=False)
        self.assertNotIn(self.ana, segment.partner_ids)

        segment._campaign_set_static_members(self.ana, add=True)

        self.assertIn(self.ana, segment.partner_ids)
        self.assertFalse(segment.campaign_removed_partner_ids)

    def test_create_opportunity(self):
        self.ana.user_id = self.user_marketing
        team = self.env["crm.team"].create({"name": "Equipo Sevilla"})
        source = self.env["utm.source"].create({"name": "Boletín"})
        campaign = self.run_campaign(
            [
                {
                    "kind": "action",
                    "action_kind": "create_opportunity",
                    "opportunity_name": "Renovación",
                    "opportunity_team_id": team.id,
                }
            ],
            utm_source_id=source.id,
        )

        leads = self.env["crm.lead"].search(
            [("campaign_id", "=", campaign.utm_campaign_id.id)]
        )
        self.assertEqual(leads.partner_id, self.customers)
        self.assertEqual(set(leads.mapped("type")), {"opportunity"})
        self.assertEqual(set(leads.mapped("name")), {"Renovación"})
        self.assertEqual(leads.team_id, team)
        self.assertEqual(leads.source_id, source)
        self.assertEqual(leads.medium_id, self.env.ref("utm.utm_medium_email"))
        ana_lead = leads.filtered(lambda lead: lead.partner_id == self.ana)
        self.assertEqual(ana_lead.user_id, self.user_marketing, "her salesperson")
        bruno_lead = leads.filtered(lambda lead: lead.partner_id == self.bruno)
        self.assertEqual(bruno_lead.user_id, campaign.user_id, "the responsible")

    def test_opportunity_source_created_from_campaign(self):
        campaign = self.run_campaign(
            [{"kind": "action", "action_kind": "create_opportunity"}],
            name="Primavera 2026",
        )

        self.assertEqual(campaign.utm_source_id.name, "Primavera 2026")
        leads = self.env["crm.lead"].search(
            [("source_id", "=", campaign.utm_source_id.id)]
        )
        self.assertEqual(len(leads), 3)

    def test_server_action_runs_on_batch(self):
        server_action = self.env["ir.actions.server"].create(
            {
                "name": "Marcar como cliente",
                "model_id": self.env["ir.model"]._get("res.partner").id,
                "state": "code",
                "code": "records.write({'comment': 'Visto por la campaña'})",
            }
        )

        self.run_campaign(
            [
                {
                    "kind": "action",
                    "action_kind": "server_action",
                    "server_action_id": server_action.id,
                }
            ]
        )

        self.assertEqual(
            self.customers.mapped("comment"),
            ["<p>Visto por la campaña</p>"] * 3,
        )

    def test_one_to_one_gets_personal_call(self):
        self.ana.write({"value_tier": "one_to_one", "user_id": self.user_marketing.id})
        (self.bruno | self.carla).write({"value_tier": "database"})
        campaign = self.run_campaign(
            [
                {
                    "name": "Llamada personal",
                    "kind": "call",
                    "tier_filter": "one_to_one",
                    "activity_summary": "Proponer la renovación",
                    "activity_note": "<p>Hola Ana, te llamo por tu renovación.</p>",
                },
                {"name": "Correo", "kind": "email", "tier_filter": "automated"},
            ]
        )
        call_step, email_step = campaign.step_ids.sorted("id")

        call_traces = self.traces_of(campaign, call_step)
        self.assertEqual(
            call_traces.filtered(lambda t: t.state == "done").partner_id, self.ana
        )
        self.assertEqual(
            set(
                call_traces.filtered(lambda t: t.state == "canceled").mapped(
                    "skip_reason"
                )
            ),
            {"filter"},
        )
        activity = self.traces_of(campaign, call_step, self.ana).activity_id
        self.assertEqual(activity.user_id, self.user_marketing, "account manager")
        self.assertIn("te llamo por tu renovación", activity.note)
        mails = self.mails_of(campaign)
        self.assertEqual(mails.recipient_ids, self.bruno | self.carla)
        self.assertEqual(
            self.traces_of(campaign, email_step, self.ana).state, "canceled"
        )

    def test_pressure_refusal_not_retried(self):
        self.company.campaign_pressure_limit = 1
        with freeze_time("2026-05-04 10:00:00"):
            first = self.run_campaign([{"kind": "email"}], name="Primera")
            second = self.run_campaign([{"kind": "email"}], name="Segunda")
        refused = self.traces_of(second)
        self.assertEqual(refused.mapped("skip_reason"), ["pressure"] * 3)
        executed_at = refused.mapped("executed_at")

        with freeze_time("2026-05-04 11:00:00"):
            processed = (first | second).action_execute()

        self.assertEqual(processed, 0, "refused traces are not claimed again")
        self.assertEqual(refused.mapped("state"), ["skipped"] * 3)
        self.assertEqual(refused.mapped("executed_at"), executed_at)
        self.assertEqual(len(self.mails_of(second)), 0)

    def test_pressure_priority_within_one_batch(self):
        """With room for one contact, each partner gets the higher-priority
        campaign, whichever was created first."""
        self.company.campaign_pressure_limit = 1
        high = self.create_campaign([{"kind": "email"}], name="Alta", priority=90)
        low = self.create_campaign([{"kind": "sms"}], name="Baja", priority=1)
        (high | low).action_launch()

        (low | high).action_execute()

        self.assertEqual(self.traces_of(high).mapped("state"), ["done"] * 3)
        self.assertEqual(self.traces_of(low).mapped("skip_reason"), ["pressure"] * 3)

    def test_queued_mail_matches_orm_and_sends(self):
        """The e-mails the executor inserts in batch look like those
        mail.mail.create writes, and the mail queue sends them."""
        campaign = self.run_campaign([{"kind": "email"}])
        trace = self.traces_of(campaign, partner=self.ana)
        mail = trace.mail_mail_id

        self.assertEqual(mail.state, "outgoing")
        self.assertEqual(mail.recipient_ids, self.ana)
        self.assertEqual(mail.model, "res.partner")
        self.assertEqual(mail.res_id, self.ana.id)
        self.assertEqual(mail.record_name, "Ana Martín")
        self.assertEqual(mail.message_type, "email_outgoing")
        self.assertEqual(mail.subject, "Hola Ana Martín")
        self.assertEqual(mail.email_from, "tienda@ejemplo.es")
        self.assertEqual(mail.author_id, self.env.user.partner_id)
        self.assertEqual(mail.mailing_id, campaign.step_ids.mailing_id)
        self.assertEqual(trace.mailing_trace_id.mail_mail_id, mail)
        self.assertEqual(trace.mailing_trace_id.trace_status, "outgoing")
        self.assertEqual(trace.mailing_trace_id.email, "ana.martin@ejemplo.es")
        self.assertEqual(trace.mailing_trace_id.campaign_id, campaign.utm_campaign_id)
        self.assertEqual(trace.mailing_trace_id.message_id, mail.message_id)
        self.assertEqual(len(campaign.step_ids.mailing_id.mailing_trace_ids), 3)

        mail.send()

        self.assertEqual(trace.mailing_trace_id.trace_status, "sent")
        self.assertTrue(trace.mailing_trace_id.sent_datetime)
