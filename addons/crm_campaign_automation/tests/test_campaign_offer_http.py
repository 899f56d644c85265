import re
from datetime import date, timedelta

from odoo.tests import HttpCase, tagged

from .common import CampaignCase

CSRF_PATTERN = re.compile(r'name="csrf_token" value="([^"]+)"')
# The session's CSRF token in the page layout carries a timestamp, so two
# pages served in different seconds differ there and nowhere else.
LAYOUT_CSRF_PATTERN = re.compile(r'csrf_token: "[^"]*"')


@tagged("post_install", "-at_install", "crm_campaign_automation")
class TestCampaignOfferPage(CampaignCase, HttpCase):
    """The public offer page over real HTTP, without login."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("es_ES")
        cls.env["ir.module.module"]._load_module_terms(
            ["crm_consent", "crm_campaign_automation"], ["es_ES"], overwrite=True
        )
        cls.ana.lang = "es_ES"
        cls.bruno.lang = "en_US"
        today = date.today()
        cls.offer = cls.env["crm.campaign.offer"].create(
            {
                "name": "Descuento de vuelta",
                "code_kind": "unique",
                "code_prefix": "VUELVE-",
                "discount_percent": 15,
                "date_start": today - timedelta(days=1),
                "date_end": today + timedelta(days=30),
            }
        )
        cls.campaign = cls.create_campaign(
            [
                {
                    "kind": "web",
                    "offer_id": cls.offer.id,
                    "web_body_html": "<p>Hola <t t-out='object.name'/>, vuelve.</p>",
                }
            ]
        )
        cls.campaign.action_launch()
        cls.campaign.action_execute()
        cls.trace_ana = cls.env["crm.campaign.trace"].search(
            [("campaign_id", "=", cls.campaign.id), ("partner_id", "=", cls.ana.id)]
        )
        cls.trace_bruno = cls.env["crm.campaign.trace"].search(
            [("campaign_id", "=", cls.campaign.id), ("partner_id", "=", cls.bruno.id)]
        )

    def path_of(self, trace):
        return trace.offer_url.split("/campaign/offer/")[1]

    def get_page(self, token):
        return self.url_open(f"/campaign/offer/{token}")

    def test_valid_link_shows_personal_page(self):
        response = self.get_page(self.path_of(self.trace_ana))

        self.assertEqual(response.status_code, 200)
        self.assertIn("Hola Ana Martín, vuelve.", response.text)
        self.assertIn(self.trace_ana.offer_code, response.text)
        self.assertIn("o_campaign_offer_accept", response.text)
        self.assertNotIn(self.trace_bruno.offer_code, response.text)

    def test_page_in_partner_language(self):
        spanish = self.get_page(self.path_of(self.trace_ana))
        english = self.get_page(self.path_of(self.trace_bruno))

        self.assertIn("Aceptar la oferta", spanish.text)
        self.assertNotIn("Accept the offer", spanish.text)
        self.assertIn("Accept the offer", english.text)

    def test_bad_links_indistinguishable(self):
        token = self.path_of(self.trace_ana)
        trace_id, expiry, signature = token.split(".")
        flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
        bad_tokens = {
            "tampered signature": f"{trace_id}.{expiry}.{flipped}",
            "other trace": f"{self.trace_bruno.id}.{expiry}.{signature}",
            "random": "123456.9999999999.0123456789abcdef0123456789abcdef01234567",
            "garbage": "no-es-un-token",
        }
        responses = {name: self.get_page(bad) for name, bad in bad_tokens.items()}
        self.offer.date_end = date.today() - timedelta(days=1)
        self.offer.date_start = date.today() - timedelta(days=10)
        responses["expired offer"] = self.get_page(token)

        reference = responses["random"]
        self.assertEqual(reference.status_code, 404)
        self.assertIn("o_consent_invalid_link", reference.text)
        reference_text = LAYOUT_CSRF_PATTERN.sub("", reference.text)
        for name, response in responses.items():
            self.assertEqual(response.status_code, 404, name)
            self.assertEqual(
                LAYOUT_CSRF_PATTERN.sub("", response.text), reference_text, name
            )

    def test_accept_idempotent(self):
        token = self.path_of(self.trace_ana)
        page = self.get_page(token)
        csrf_token = CSRF_PATTERN.search(page.text).group(1)

        first = self.url_open(
            f"/campaign/offer/{token}", data={"csrf_token": csrf_token}
        )
        self.assertEqual(first.status_code, 200)
        self.assertIn("o_campaign_offer_accepted", first.text)
        self.trace_ana.invalidate_recordset()
        accepted_at = self.trace_ana.offer_accepted_at
        self.assertTrue(accepted_at)
        self.assertEqual(self.trace_ana.offer_accepted_via, "web")

        second = self.url_open(
            f"/campaign/offer/{token}", data={"csrf_token": csrf_token}
        )
        self.assertEqual(second.status_code, 200)
        self.trace_ana.invalidate_recordset()
        self.assertEqual(self.trace_ana.offer_accepted_at, accepted_at)
        self.assertNotIn('o_campaign_offer_accept"', second.text)
        self.assertFalse(self.trace_bruno.offer_accepted_at)

    def test_accept_needs_csrf(self):
        token = self.path_of(self.trace_ana)

        response = self.url_open(f"/campaign/offer/{token}", data={"x": "1"})

        self.assertEqual(response.status_code, 400)
        self.trace_ana.invalidate_recordset()
        self.assertFalse(self.trace_ana.offer_accepted_at)

    def test_public_user_no_orm_access(self):
        public = self.env.ref("base.public_user")
        Offer = self.env["crm.campaign.offer"].with_user(public)
        Trace = self.env["crm.campaign.trace"].with_user(public)
        self.assertFalse(Offer.has_access("read"))
        self.assertFalse(Trace.has_access("read"))
