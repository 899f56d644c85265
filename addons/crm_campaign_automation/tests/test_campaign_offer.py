from datetime import date

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import freeze_time, new_test_user, tagged

from ..models.crm_campaign_offer import CODE_ALPHABET, CODE_LENGTH
from .common import CampaignCase


@tagged("post_install", "-at_install", "crm_campaign_automation")
class TestCampaignOffer(CampaignCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Offer = cls.env["crm.campaign.offer"]
        cls.unique_offer = Offer.create(
            {
                "name": "15 % de vuelta",
                "code_kind": "unique",
                "code_prefix": "vuelve-",
                "discount_percent": 15,
                "date_start": date(2026, 5, 1),
                "date_end": date(2026, 5, 31),
            }
        )
        cls.shared_offer = Offer.create(
            {
                "name": "Verano",
                "code_kind": "shared",
                "code": "VERANO26",
                "date_start": date(2026, 5, 1),
                "date_end": date(2026, 5, 31),
            }
        )
        cls.offer_template = cls.env["mail.template"].create(
            {
                "name": "Oferta personal",
                "model_id": cls.env["ir.model"]._get("res.partner").id,
                "subject": "Tu código",
                "body_html": "<p>Código: [[offer_code]]</p>"
                '<p><a href="[[offer_url]]">Ver oferta</a></p>'
                '<p><a href="https://ejemplo.es/tienda">Tienda</a></p>',
                "email_from": "tienda@ejemplo.es",
            }
        )

    def run_offer_step(self, offer, kind="email", **step_values):
        """Launch a one-step campaign carrying ``offer`` on 2026-05-10 and
        execute it; return the campaign."""
        values = {"kind": kind, "offer_id": offer.id, **step_values}
        if kind in ("email", "web"):
            values.setdefault("mail_template_id", self.offer_template.id)
        campaign = self.create_campaign([values])
        with freeze_time("2026-05-10 10:00:00"):
            campaign.action_launch()
            campaign.action_execute()
        return campaign

    def new_order(self, partner, code, day="2026-05-15 10:00:00"):
        return self.env["sale.order"].create(
            {
                "partner_id": partner.id,
                "date_order": day,
                "campaign_offer_code": code,
                "order_line": [(0, 0, {"product_id": self.product.id})],
            }
        )

    # ------------------------------------------------------------------
    # Codes
    # ------------------------------------------------------------------

    def test_unique_codes_differ_per_partner(self):
        campaign = self.run_offer_step(self.unique_offer)

        traces = self.traces_of(campaign)
        codes = traces.mapped("offer_code")
        self.assertEqual(traces.mapped("state"), ["done"] * 3)
        self.assertEqual(len(set(codes)), 3, "one distinct code per partner")
        for code in codes:
            self.assertTrue(code.startswith("VUELVE-"), code)
            suffix = code.removeprefix("VUELVE-")
            self.assertEqual(len(suffix), CODE_LENGTH)
            self.assertLessEqual(set(suffix), set(CODE_ALPHABET))
        self.assertEqual(traces.offer_id, self.unique_offer)

    def test_shared_code_same_for_everyone(self):
        campaign = self.run_offer_step(self.shared_offer)

        self.assertEqual(
            self.traces_of(campaign).mapped("offer_code"), ["VERANO26"] * 3
        )

    def test_email_placeholders_replaced(self):
        campaign = self.run_offer_step(self.unique_offer)

        trace = self.traces_of(campaign, partner=self.ana)
        body = trace.mail_mail_id.body_html
        self.assertIn(f"Código: {trace.offer_code}", body)
        self.assertIn(trace.offer_url, body, "the signed link is not shortened")
        self.assertNotIn("[[offer_", body)
        self.assertNotIn("https://ejemplo.es/tienda", body, "other links are tracked")
        self.assertIn("/campaign/offer/", trace.offer_url)

    def test_shared_code_must_be_unique(self):
        with self.assertRaises(ValidationError):
            self.env["crm.campaign.offer"].create(
                {"name": "Copia", "code_kind": "shared", "code": "verano26"}
            )

    def test_shared_offer_needs_code(self):
        with self.assertRaises(ValidationError):
            self.env["crm.campaign.offer"].create(
                {"name": "Sin código", "code_kind": "shared"}
            )

    def test_offer_dates_in_order(self):
        with self.assertRaises(ValidationError):
            self.env["crm.campaign.offer"].create(
                {
                    "name": "Al revés",
                    "date_start": date(2026, 6, 1),
                    "date_end": date(2026, 5, 1),
                }
            )

    def test_validity_bounds_inclusive(self):
        self.assertFalse(self.unique_offer._is_valid_on(date(2026, 4, 30)))
        self.assertTrue(self.unique_offer._is_valid_on(date(2026, 5, 1)))
        self.assertTrue(self.unique_offer._is_valid_on(date(2026, 5, 31)))
        self.assertFalse(self.unique_offer._is_valid_on(date(2026, 6, 1)))

    # ------------------------------------------------------------------
    # Acceptance on sale orders
    # ------------------------------------------------------------------

    def test_unique_code_on_order_accepts_once(self):
        campaign = self.run_offer_step(self.unique_offer)
        trace = self.traces_of(campaign, partner=self.ana)
        order = self.new_order(self.ana, trace.offer_code.lower())

        with freeze_time("2026-05-15 10:00:00"):
            order.action_confirm()

        self.assertEqual(trace.offer_accepted_via, "sale_order")
        self.assertEqual(trace.offer_order_id, order)
        accepted_at = trace.offer_accepted_at
        self.assertTrue(accepted_at)

        order._action_cancel()
        order.action_draft()
        with freeze_time("2026-05-16 10:00:00"):
            order.action_confirm()
        self.assertEqual(trace.offer_accepted_at, accepted_at, "accepted once")

    def test_unique_code_used_twice_rejected(self):
        campaign = self.run_offer_step(self.unique_offer)
        trace = self.traces_of(campaign, partner=self.ana)
        with freeze_time("2026-05-15 10:00:00"):
            self.new_order(self.ana, trace.offer_code).action_confirm()

        with self.assertRaisesRegex(ValidationError, "already used"):
            self.new_order(self.ana, trace.offer_code)

    def test_unique_code_of_other_customer_rejected(self):
        campaign = self.run_offer_step(self.unique_offer)
        code = self.traces_of(campaign, partner=self.ana).offer_code

        with self.assertRaisesRegex(ValidationError, "another customer"):
            self.new_order(self.bruno, code)

    def test_shared_code_accepts_partner_trace(self):
        campaign = self.run_offer_step(self.shared_offer)
        order = self.new_order(self.bruno, " verano26 ")

        with freeze_time("2026-05-15 10:00:00"):
            order.action_confirm()

        accepted = self.traces_of(campaign).filtered("offer_accepted_at")
        self.assertEqual(accepted.partner_id, self.bruno)
        self.assertEqual(accepted.offer_order_id, order)

    def test_unknown_code_rejected(self):
        with self.assertRaisesRegex(ValidationError, "NOEXISTE.*does not exist"):
            self.new_order(self.ana, "NOEXISTE")

    def test_expired_code_rejected(self):
        campaign = self.run_offer_step(self.unique_offer)
        code = self.traces_of(campaign, partner=self.ana).offer_code

        with self.assertRaisesRegex(ValidationError, "not valid on 2026-06-01"):
            self.new_order(self.ana, code, day="2026-06-01 09:00:00")

    def test_code_error_translated(self):
        self.env["res.lang"]._activate_lang("es_ES")
        self.env["ir.module.module"]._load_module_terms(
            ["crm_campaign_automation"], ["es_ES"], overwrite=True
        )
        order_model = self.env["sale.order"].with_context(lang="es_ES")

        with self.assertRaisesRegex(ValidationError, "no existe"):
            order_model.create(
                {"partner_id": self.ana.id, "campaign_offer_code": "NOEXISTE"}
            )

    # ------------------------------------------------------------------
    # Acceptance by call
    # ------------------------------------------------------------------

    def test_call_outcome_accepts_offer(self):
        self.ana.user_id = self.user_marketing
        campaign = self.run_offer_step(self.unique_offer, kind="call")
        trace = self.traces_of(campaign, partner=self.ana)
        activity = trace.activity_id
        self.assertIn(trace.offer_code, str(activity.note))
        self.assertTrue(activity.campaign_has_offer)
        self.assertEqual(activity.campaign_trace_id, trace)

        activity.with_user(self.user_marketing).action_done_offer_accepted()

        self.assertEqual(trace.offer_accepted_via, "call")
        self.assertTrue(trace.offer_accepted_at)
        self.assertFalse(activity.exists(), "the activity is done")
        other = self.traces_of(campaign, partner=self.bruno)
        self.assertFalse(other.offer_accepted_at)

    def test_call_button_on_trace_idempotent(self):
        campaign = self.run_offer_step(self.unique_offer, kind="call")
        trace = self.traces_of(campaign, partner=self.ana)
        with freeze_time("2026-05-11 10:00:00"):
            trace.action_accept_offer_call()
        with freeze_time("2026-05-12 10:00:00"):
            trace.action_accept_offer_call()
            trace._accept_offer("web")

        self.assertEqual(str(trace.offer_accepted_at), "2026-05-11 10:00:00")
        self.assertEqual(trace.offer_accepted_via, "call")

    # ------------------------------------------------------------------
    # Web step
    # ------------------------------------------------------------------

    def test_web_step_sends_link_and_code(self):
        campaign = self.run_offer_step(self.unique_offer, kind="web")

        traces = self.traces_of(campaign)
        self.assertEqual(traces.mapped("state"), ["done"] * 3)
        for trace in traces:
            self.assertTrue(trace.offer_url)
            self.assertIn(trace.offer_code, trace.mail_mail_id.body_html)
            self.assertIn(trace.offer_url, trace.mail_mail_id.body_html)
            with freeze_time("2026-05-12 10:00:00"):
                opened = self.env["crm.campaign.trace"]._from_offer_token(
                    trace.offer_url.rsplit("/", 1)[1]
                )
            self.assertEqual(opened, trace)

    def test_web_step_without_template_sends_nothing(self):
        campaign = self.run_offer_step(
            self.unique_offer, kind="web", mail_template_id=False
        )

        traces = self.traces_of(campaign)
        self.assertEqual(traces.mapped("state"), ["done"] * 3)
        self.assertFalse(traces.mail_mail_id)
        self.assertTrue(all(traces.mapped("offer_url")))

    def test_email_after_web_uses_web_link(self):
        campaign = self.create_campaign(
            [
                {
                    "kind": "web",
                    "offer_id": self.unique_offer.id,
                    "web_body_html": "<p>Hola</p>",
                },
                {
                    "kind": "email",
                    "parent": 0,
                    "mail_template_id": self.offer_template.id,
                },
            ]
        )
        web_step, email_step = campaign.step_ids.sorted("id")
        with freeze_time("2026-05-10 10:00:00"):
            campaign.action_launch()
            campaign.action_execute()
            campaign.action_execute()

        web_trace = self.traces_of(campaign, web_step, self.ana)
        email_trace = self.traces_of(campaign, email_step, self.ana)
        self.assertEqual(email_trace.state, "done")
        self.assertFalse(email_trace.offer_url, "no offer of its own")
        body = email_trace.mail_mail_id.body_html
        self.assertIn(web_trace.offer_url, body)
        self.assertIn(web_trace.offer_code, body)

    def test_token_rejects_tampering(self):
        campaign = self.run_offer_step(self.unique_offer)
        trace = self.traces_of(campaign, partner=self.ana)
        other = self.traces_of(campaign, partner=self.bruno)
        token = trace.offer_url.rsplit("/", 1)[1]
        trace_id, expiry, signature = token.split(".")
        Trace = self.env["crm.campaign.trace"]

        with freeze_time("2026-05-12 10:00:00"):
            self.assertEqual(Trace._from_offer_token(token), trace)
            self.assertFalse(
                Trace._from_offer_token(f"{other.id}.{expiry}.{signature}")
            )
            self.assertFalse(
                Trace._from_offer_token(f"{trace_id}.{int(expiry) + 1}.{signature}")
            )
            self.assertFalse(Trace._from_offer_token("garbage"))
            self.assertFalse(Trace._from_offer_token(""))
        with freeze_time("2026-06-01 10:00:00"):
            self.assertFalse(Trace._from_offer_token(token), "offer ended")

    def test_web_step_needs_content_or_offer(self):
        campaign = self.create_campaign([{"kind": "web"}])
        with self.assertRaisesRegex(Exception, "incomplete"):
            campaign.action_launch()

    # ------------------------------------------------------------------
    # Access
    # ------------------------------------------------------------------

    def test_marketing_user_manages_offers(self):
        offer = (
            self.env["crm.campaign.offer"]
            .with_user(self.user_marketing)
            .create({"name": "Oferta del usuario", "code_kind": "unique"})
        )
        offer.write({"discount_percent": 5})
        self.assertEqual(offer.discount_percent, 5)
        with self.assertRaises(AccessError):
            offer.unlink()

    def test_unsafe_page_content_needs_editor(self):
        editor_group = self.env.ref("mail.group_mail_template_editor")
        user = new_test_user(
            self.env,
            login="campaign_no_editor",
            groups="base.group_user,crm_consent.group_marketing_user",
        )
        user.groups_id -= editor_group
        self.assertFalse(user.has_group("mail.group_mail_template_editor"))
        campaign = self.create_campaign([])
        Step = self.env["crm.campaign.step"].with_user(user)

        safe = Step.create(
            {
                "campaign_id": campaign.id,
                "name": "Web segura",
                "kind": "web",
                "web_body_html": "<p>Hola <t t-out='object.name'/></p>",
            }
        )
        self.assertTrue(safe)
        with self.assertRaises(AccessError):
            Step.create(
                {
                    "campaign_id": campaign.id,
                    "name": "Web insegura",
                    "kind": "web",
                    "web_body_html": "<p t-out='object.env.cr.dbname'/>",
                }
            )
