import random
import re
import time
from datetime import date, timedelta
from urllib.parse import quote

from odoo.tests import HttpCase, tagged

from odoo.addons.crm_consent.tests.bad_tokens import bad_tokens
from odoo.addons.crm_consent.tests.test_public_pages import describe

from .common import CampaignCase

CSRF_PATTERN = re.compile(r'name="csrf_token" value="([^"]+)"')
# The session's CSRF token in the page layout carries a timestamp, so two
# pages served in different seconds differ there and nowhere else.
LAYOUT_CSRF_PATTERN = re.compile(r'csrf_token: "[^"]*"')
# Headers that differ between any two responses of the same page.
VOLATILE_HEADERS = {"date", "content-length"}
# A cookie's value and expiry date, which change with every new session
# and every second.
SESSION_COOKIE_PATTERN = re.compile(r"(session_id|Expires)=[^;]*")


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

    # ------------------------------------------------------------------
    # Guessed, tampered, replayed and expired links
    # ------------------------------------------------------------------

    def _signed(self, trace_id, expiry):
        signature = self.env["crm.consent.token"]._signature(
            "campaign_offer", [trace_id], expiry
        )
        return f"{trace_id}.{expiry}.{signature}"

    def _attack_tokens(self, rng, count):
        """Return ``count`` tokens that must open no page, by kind."""
        token = self.path_of(self.trace_ana)
        trace_id, expiry, signature = token.split(".")
        other_ids = [self.trace_bruno.id, self.trace_ana.id + 1000, 10**17]
        past = int(time.time()) - 1
        kinds = {
            # Mutations: changed, cut, extended, non-ASCII, huge numbers...
            "mutated": bad_tokens(rng, token, count * 4 // 10),
            # Ana's expiry and signature on another trace's id.
            "other trace": [
                f"{rng.choice(other_ids)}.{expiry}.{signature}"
                for _index in range(count // 10)
            ],
            # Correctly signed links whose date has passed: a link replayed
            # after it expired.
            "expired": [
                self._signed(self.trace_ana.id, past - rng.randint(0, 10**8))
                for _index in range(count // 10)
            ],
            # Ana's signature with a later expiry: lifetime extended by hand.
            "extended": [
                f"{trace_id}.{int(expiry) + rng.randint(1, 10**7)}.{signature}"
                for _index in range(count // 10)
            ],
            # Well-formed tokens with a random signature.
            "random": [
                f"{rng.choice([int(trace_id), rng.randint(1, 10**6)])}"
                f".{int(expiry) + rng.randint(-(10**5), 10**5)}"
                f".{rng.getrandbits(160):040x}"
                for _index in range(count // 10)
            ],
            # Correctly signed for the trace, but with another scope's
            # secret message: a consent link's signature pasted in.
            "other scope": [
                f"{trace_id}.{expiry}."
                + self.env["crm.consent.token"]._signature(
                    rng.choice(["preferences", "confirm", "unsubscribe"]),
                    [int(trace_id)],
                    int(expiry),
                )
                for _index in range(count // 10)
            ],
        }
        kinds["mutated"] += bad_tokens(
            rng, token, count - sum(len(tokens) for tokens in kinds.values())
        )
        return kinds

    def test_ten_thousand_bad_tokens_open_nothing(self):
        """10,000 tampered, other-trace, expired, extended, random and
        malformed tokens open no trace, and none raises."""
        Trace = self.env["crm.campaign.trace"]
        token = self.path_of(self.trace_ana)
        self.assertEqual(Trace._from_offer_token(token), self.trace_ana)
        kinds = self._attack_tokens(random.Random(20261205), 10000)
        self.assertEqual(sum(len(tokens) for tokens in kinds.values()), 10000)

        opened = {
            name: [bad for bad in tokens if Trace._from_offer_token(bad)]
            for name, tokens in kinds.items()
        }

        self.assertEqual(opened, {name: [] for name in kinds})

    def _comparable(self, response):
        """Status, body without CSRF tokens, and headers without the date,
        the length and the random value of a new session cookie."""
        headers = tuple(
            sorted(
                (name.lower(), SESSION_COOKIE_PATTERN.sub(r"\1=-", value))
                for name, value in response.headers.items()
                if name.lower() not in VOLATILE_HEADERS
            )
        )
        body = LAYOUT_CSRF_PATTERN.sub("", CSRF_PATTERN.sub("", response.text))
        return response.status_code, body, headers

    def _offer_state(self):
        traces = self.env["crm.campaign.trace"].search([])
        traces.invalidate_recordset()
        return {
            trace.id: (trace.offer_accepted_at, trace.offer_accepted_via)
            for trace in traces
        }

    def test_bad_links_over_http_indistinguishable(self):
        """A few hundred bad tokens over HTTP, shown (GET) and posted with a
        valid CSRF token (the accept button): every response is the same 404
        page with the same headers, and no acceptance is recorded."""
        rng = random.Random(20261206)
        kinds = self._attack_tokens(rng, 300)
        tokens = [bad for tokens in kinds.values() for bad in tokens]
        # Over HTTP a path cannot hold an empty token or a NUL character.
        tokens = [bad for bad in tokens if bad and "\x00" not in bad]
        page = self.get_page(self.path_of(self.trace_ana))
        csrf_token = CSRF_PATTERN.search(page.text).group(1)
        before = self._offer_state()

        session_cookies = self.opener.cookies.copy()
        answers = {"GET": {}, "POST": {}}
        for index, bad in enumerate(tokens):
            path = f"/campaign/offer/{quote(bad, safe='')}"
            if index % 3 == 2:
                self.opener.cookies = session_cookies.copy()
                response = self.url_open(path, data={"csrf_token": csrf_token})
                method = "POST"
            else:
                # A new visitor each time, so that the session cookie given
                # to a first visit is compared too.
                self.opener.cookies.clear()
                response = self.url_open(path)
                method = "GET"
            answers[method].setdefault(self._comparable(response), []).append(bad)

        self.assertGreater(len(tokens), 250)
        for method, by_answer in answers.items():
            self.assertEqual(len(by_answer), 1, f"{method}: {describe(by_answer)}")
            [(status, body, _headers)] = by_answer
            self.assertEqual(status, 404, method)
            self.assertIn("o_consent_invalid_link", body, method)
            self.assertNotIn("Ana", body, method)
            self.assertNotIn(self.trace_ana.offer_code, body, method)
        self.assertEqual(self._offer_state(), before)
