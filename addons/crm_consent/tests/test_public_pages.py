import random
import re
import time
from unittest.mock import patch
from urllib.parse import quote

from odoo.tests import HttpCase, new_test_user, tagged

from ..models import crm_consent_token
from .bad_tokens import bad_tokens

CSRF_TOKEN = re.compile(r"[0-9a-f]{40}o[0-9]+")
# Headers that differ between any two responses of the same page.
VOLATILE_HEADERS = {"date", "content-length"}
# A cookie's value and expiry date, which change with every new session
# and every second.
SESSION_COOKIE = re.compile(r"(session_id|Expires)=[^;]*")


@tagged("post_install", "-at_install")
class TestPublicPages(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create(
            {"name": "Inés Calvo Secreta", "email": "ines.calvo@ejemplo.es"}
        )
        cls.partner.consent_record("email", "granted", proof="Alta en tienda")

    def _path(self, url):
        return url.split("/", 3)[3]

    def _events(self, channel_code="email"):
        return self.env["crm.consent.event"].search(
            [
                ("partner_id", "=", self.partner.id),
                ("channel_id.code", "=", channel_code),
                ("purpose_id.code", "=", "marketing"),
            ],
            order="id",
        )

    def test_preference_page_lists_current_state(self):
        response = self.url_open(
            "/" + self._path(self.partner.consent_preference_url())
        )

        self.assertEqual(response.status_code, 200)
        email_row = response.text.split("o_consent_row_email_marketing", 1)[1]
        email_row = email_row.split("</tr>")[0]
        self.assertRegex(email_row, r'value="granted"[^>]*checked')
        self.assertNotRegex(email_row, r'value="refused"[^>]*checked')
        sms_row = response.text.split("o_consent_row_sms_marketing", 1)[1]
        self.assertNotIn(
            "checked", sms_row.split("</tr>")[0], "never asked: none selected"
        )

    def test_tampered_token_reveals_nothing(self):
        url = self.partner.consent_preference_url()
        expiry, signature = url.rsplit("/", 1)[1].split(".")
        tampered = url.rsplit("/", 1)[0] + f"/{expiry}.{'0' * len(signature)}"
        other_partner = url.replace(
            f"/preferences/{self.partner.id}/", "/preferences/999999/"
        )
        expired = url.rsplit("/", 1)[0] + f"/1000.{signature}"

        answers = [
            self.url_open("/" + self._path(candidate))
            for candidate in (tampered, other_partner, expired)
        ]
        self.assertEqual({answer.status_code for answer in answers}, {404})
        pages = {CSRF_TOKEN.sub("", answer.text) for answer in answers}
        self.assertEqual(len(pages), 1, "every invalid link gets the same page")
        self.assertNotIn("Inés", answers[0].text)
        self.assertIn("o_consent_invalid_link", answers[0].text)

    def test_preference_post_records_with_proof(self):
        path = "/" + self._path(self.partner.consent_preference_url())
        page = self.url_open(path)
        csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        email = self.env.ref("crm_consent.channel_email")
        sms = self.env.ref("crm_consent.channel_sms")
        marketing = self.env.ref("crm_consent.purpose_marketing")

        response = self.url_open(
            path,
            data={
                "csrf_token": csrf,
                f"choice_{email.id}_{marketing.id}": "refused",
                f"choice_{sms.id}_{marketing.id}": "granted",
            },
            headers={"User-Agent": "Navegador de prueba"},
        )

        self.assertEqual(response.status_code, 200)
        self.assertIn("o_consent_saved", response.text)
        refusal = self._events("email")[-1]
        self.assertEqual(refusal.state, "refused")
        self.assertEqual(refusal.source, "preference_centre")
        self.assertEqual(refusal.user_agent, "Navegador de prueba")
        self.assertEqual(refusal.ip_address, "127.0.0.1")
        self.assertEqual(self._events("sms").state, "granted")

    def test_one_click_unsubscribe(self):
        """Case C5: RFC 8058 POST refuses at once, with proof, without session."""
        url = self.partner.consent_unsubscribe_url("email", "marketing")
        response = self.url_open(
            "/" + self._path(url),
            data={"List-Unsubscribe": "One-Click"},
            allow_redirects=False,
        )

        self.assertEqual(response.status_code, 200)
        self.assertNotIn("Set-Cookie", response.headers)
        refusal = self._events("email")[-1]
        self.assertEqual(refusal.state, "refused")
        self.assertEqual(refusal.source, "unsubscribe")
        self.assertEqual(refusal.ip_address, "127.0.0.1")
        self.assertFalse(self.partner.consent_filter_contactable("email"))

    def test_one_click_replay_records_once(self):
        path = "/" + self._path(
            self.partner.consent_unsubscribe_url("email", "marketing")
        )
        for _attempt in range(3):
            response = self.url_open(path, data={"List-Unsubscribe": "One-Click"})
            self.assertEqual(response.status_code, 200)
        self.assertEqual(self._events("email").mapped("state"), ["granted", "refused"])

    def test_random_tokens_never_verify(self):
        """10,000 random, truncated or re-signed tokens are all rejected."""
        token_model = self.env["crm.consent.token"]
        valid = token_model._sign("preferences", [self.partner.id], 30)
        expiry, signature = valid.split(".")
        rng = random.Random(20261204)
        candidates = [valid[:-1], f"{expiry}.", f".{signature}", valid + "0", ""]
        candidates += [
            f"{expiry}.{rng.getrandbits(160):040x}" for _index in range(9000)
        ]
        candidates += [
            f"{int(expiry) + rng.randint(1, 10**6)}.{signature}"
            for _index in range(995)
        ]
        self.assertTrue(token_model._verify(valid, "preferences", [self.partner.id]))
        accepted = [
            token
            for token in candidates
            if token_model._verify(token, "preferences", [self.partner.id])
        ]
        self.assertEqual(accepted, [])
        other_partner = self.partner.id + 1
        self.assertFalse(token_model._verify(valid, "preferences", [other_partner]))
        self.assertFalse(token_model._verify(valid, "unsubscribe", [self.partner.id]))

    def test_one_click_empty_body_is_defined_error(self):
        url = self.partner.consent_unsubscribe_url("email", "marketing")
        response = self.opener.post(
            f"{self.base_url()}/{self._path(url)}",
            data=b"",
            allow_redirects=False,
            timeout=12,
        )

        self.assertEqual(response.status_code, 400)
        self.assertEqual(len(self._events("email")), 1, "nothing recorded")

    def test_one_click_bad_token_is_rejected(self):
        url = self.partner.consent_unsubscribe_url("email", "marketing")
        response = self.url_open(
            "/" + self._path(url[:-4] + "abcd"),
            data={"List-Unsubscribe": "One-Click"},
            allow_redirects=False,
        )
        self.assertEqual(response.status_code, 404)
        self.assertEqual(len(self._events("email")), 1)

    def test_headers_point_to_unsubscribe_route(self):
        headers = self.partner._consent_list_unsubscribe_headers("marketing")
        self.assertEqual(headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
        self.assertIn(
            f"/consent/unsubscribe/{self.partner.id}/email/marketing/",
            headers["List-Unsubscribe"],
        )

    def test_unsubscribe_mailto_refuses(self):
        alias_domain = self.env["mail.alias.domain"].create({"name": "ejemplo.test"})
        alias = self.env.ref("crm_consent.mail_alias_unsubscribe")
        alias.alias_domain_id = alias_domain
        headers = self.partner._consent_list_unsubscribe_headers("marketing")
        self.assertIn(
            "<mailto:unsubscribe@ejemplo.test?subject=unsubscribe%20marketing>",
            headers["List-Unsubscribe"],
        )
        message = (
            'From: "Inés Calvo" <Ines.Calvo@Ejemplo.es>\r\n'
            "To: unsubscribe@ejemplo.test\r\n"
            "Subject: unsubscribe marketing\r\n"
            "Message-ID: <baja-1@ejemplo.es>\r\n"
            "Date: Fri, 04 Dec 2026 10:00:00 +0000\r\n"
            "\r\n"
            "unsubscribe\r\n"
        )

        self.env["mail.thread"].message_process(False, message)

        refusal = self._events("email")[-1]
        self.assertEqual(refusal.state, "refused")
        self.assertEqual(refusal.source, "unsubscribe")
        self.assertIn("baja-1@ejemplo.es", refusal.proof)
        request = self.env["crm.consent.unsubscribe.request"].search(
            [("partner_ids", "in", self.partner.ids)]
        )
        self.assertEqual(len(request), 1)
        self.assertEqual(request.purpose_id.code, "marketing")

    def test_confirm_link_needs_post(self):
        self.partner.consent_record("email", "granted", "transactional")
        self.partner.consent_record("email", "granted", "marketing", double_opt_in=True)
        request_event = self._events("email")[-1]
        self.assertEqual(request_event.state, "pending")
        path = "/" + self._path(request_event.sudo().double_opt_in_url)

        page = self.url_open(path)
        self.assertEqual(
            request_event, self._events("email")[-1], "GET records nothing"
        )
        csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        response = self.url_open(path, data={"csrf_token": csrf})

        self.assertEqual(response.status_code, 200)
        self.assertIn("o_consent_confirmed", response.text)
        confirmation = self._events("email")[-1]
        self.assertEqual(confirmation.state, "granted")
        self.assertEqual(confirmation.source, "double_opt_in")

    def test_rotating_secret_invalidates_links(self):
        path = "/" + self._path(self.partner.consent_preference_url())
        self.env["crm.consent.token"]._rotate_secret()
        self.assertEqual(self.url_open(path).status_code, 404)


def describe(by_answer):
    """Summarise responses that differ: status, headers, body size, tokens."""
    return "answers differ:\n" + "\n".join(
        f"{status} {dict(headers)} body of {len(body)} characters,"
        f" {len(tokens)} tokens such as {tokens[:3]!r}"
        for (status, body, headers), tokens in by_answer.items()
    )


@tagged("post_install", "-at_install")
class TestPublicPagesBadTokens(HttpCase):
    """Guessed, tampered, replayed, expired and other partners' links on the
    three consent pages: none opens a page, changes a consent, or gets a
    response that differs from another bad link's."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        cls.partner, cls.other = Partner.create(
            [
                {"name": "Inés Calvo Secreta", "email": "ines.calvo@ejemplo.es"},
                {"name": "Óscar Vidal Oculto", "email": "oscar.vidal@ejemplo.es"},
            ]
        )
        (cls.partner | cls.other).consent_record("email", "granted", "transactional")
        (cls.partner | cls.other).consent_record(
            "email", "granted", "marketing", double_opt_in=True
        )
        Event = cls.env["crm.consent.event"]
        cls.pending = Event.search(
            [("partner_id", "=", cls.partner.id), ("state", "=", "pending")]
        )
        cls.other_pending = Event.search(
            [("partner_id", "=", cls.other.id), ("state", "=", "pending")]
        )
        cls.Token = cls.env["crm.consent.token"]

    def _token(self, url):
        return url.rsplit("/", 1)[1]

    def _signed(self, scope, parts, expiry):
        return f"{expiry}.{self.Token._signature(scope, parts, expiry)}"

    def _attacks(self, rng, count):
        """Return ``count`` (scope, parts, token) that must not verify.

        A third are mutations of valid tokens. The others are valid tokens
        moved to another partner, event, channel, purpose or scope, links
        replayed after their expiry, expiries extended by hand and random
        signatures.
        """
        partner, other = self.partner.id, self.other.id
        event, other_event = self.pending.id, self.other_pending.id
        valid = {
            "preferences": (
                [partner],
                self._token(self.partner.consent_preference_url()),
            ),
            "unsubscribe": (
                [partner, "email", "marketing"],
                self._token(self.partner.consent_unsubscribe_url("email", "marketing")),
            ),
            "confirm": ([event], self._token(self.pending.sudo().double_opt_in_url)),
        }
        for scope, (parts, token) in valid.items():
            self.assertTrue(self.Token._verify(token, scope, parts), scope)
        moved_parts = {
            "preferences": [[other], [partner + 1000], [0], [-partner]],
            "unsubscribe": [
                [other, "email", "marketing"],
                [partner, "sms", "marketing"],
                [partner, "email", "transactional"],
                [partner, "email", "marketing "],
            ],
            "confirm": [[other_event], [event + 1], [event + 1000], [-event]],
        }
        past = int(time.time()) - 1
        attacks = []
        per_scope = count // 3
        for scope, (parts, token) in valid.items():
            mutated = bad_tokens(rng, token, per_scope // 3)
            attacks += [(scope, parts, bad) for bad in mutated]
            attacks += [
                (scope, *self._moved(rng, scope, valid, moved_parts[scope], past))
                for _index in range(per_scope - len(mutated))
            ]
        scope, (parts, token) = "preferences", valid["preferences"]
        attacks += [
            (scope, parts, bad) for bad in bad_tokens(rng, token, count - len(attacks))
        ]
        return attacks

    def _moved(self, rng, scope, valid, moved_parts, past):
        """Return (parts, token): a valid token of ``scope`` put to a wrong use."""
        parts, token = valid[scope]
        expiry, signature = token.split(".")
        kind = rng.randrange(5)
        if kind == 0:
            # Another partner's, event's, channel's or purpose's ids.
            return rng.choice(moved_parts), token
        if kind == 1:
            # A valid token of another scope, for the same ids.
            return parts, valid[rng.choice([name for name in valid if name != scope])][
                1
            ]
        if kind == 2:
            # Correctly signed, but expired: a link replayed too late.
            return parts, self._signed(scope, parts, past - rng.randint(0, 10**8))
        if kind == 3:
            # The expiry extended by hand.
            return parts, f"{int(expiry) + rng.randint(1, 10**7)}.{signature}"
        # A random signature.
        return parts, f"{expiry}.{rng.getrandbits(160):040x}"

    def test_ten_thousand_bad_tokens_never_verify(self):
        """10,000 tokens of the three scopes: mutated (changed, cut,
        non-ASCII, huge numbers...), moved to other ids or scopes, expired,
        extended and random. None verifies and none raises."""
        attacks = self._attacks(random.Random(20261207), 10000)
        self.assertEqual(len(attacks), 10000)

        accepted = [
            attack for attack in attacks if self.Token._verify(attack[2], *attack[:2])
        ]

        self.assertEqual(accepted, [])

    def test_signature_compared_in_constant_time(self):
        """The signature goes through hmac.compare_digest (odoo.tools.consteq),
        as bytes of equal length, whether it is right or wrong."""
        token = self._token(self.partner.consent_preference_url())
        expiry, signature = token.split(".")
        wrong = f"{expiry}.{'0' * len(signature)}"
        compared = []
        consteq = crm_consent_token.consteq

        def recording_consteq(first, second):
            compared.append((type(first), type(second), len(first) == len(second)))
            return consteq(first, second)

        with patch.object(crm_consent_token, "consteq", recording_consteq):
            self.assertTrue(self.Token._verify(token, "preferences", [self.partner.id]))
            self.assertFalse(
                self.Token._verify(wrong, "preferences", [self.partner.id])
            )

        self.assertEqual(compared, [(bytes, bytes, True)] * 2)

    def _comparable(self, response):
        headers = tuple(
            sorted(
                (name.lower(), SESSION_COOKIE.sub(r"\1=-", value))
                for name, value in response.headers.items()
                if name.lower() not in VOLATILE_HEADERS
            )
        )
        return response.status_code, CSRF_TOKEN.sub("", response.text), headers

    def _ledger(self):
        events = self.env["crm.consent.event"].search([])
        consents = self.env["crm.consent"].search([])
        return (
            sorted(events.ids),
            sorted((consent.id, consent.state) for consent in consents),
            self.pending.state,
            self.other_pending.state,
        )

    def _path(self, scope, parts, token):
        token = quote(token, safe="")
        if scope == "preferences":
            return f"/consent/preferences/{parts[0]}/{token}"
        if scope == "confirm":
            return f"/consent/confirm/{parts[0]}/{token}"
        channel, purpose = (quote(code, safe="") for code in parts[1:])
        return f"/consent/unsubscribe/{parts[0]}/{channel}/{purpose}/{token}"

    def test_bad_links_over_http_indistinguishable(self):
        """A few hundred bad links per page, shown (GET) and posted (with a
        valid CSRF token, or the one-click body): per page and method every
        response is the same, with the same headers, and nothing changes."""
        attacks = self._attacks(random.Random(20261208), 900)
        # A path cannot hold an empty token, a NUL character or a negative id.
        attacks = [
            attack
            for attack in attacks
            if attack[2] and "\x00" not in attack[2] and attack[1][0] > 0
        ]
        page = self.url_open(
            "/" + self.partner.consent_preference_url().split("/", 3)[3]
        )
        csrf_token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
        session_cookies = self.opener.cookies.copy()
        before = self._ledger()

        answers = {}
        for index, (scope, parts, token) in enumerate(attacks):
            path = self._path(scope, parts, token)
            if index % 2:
                method = "POST"
                self.opener.cookies = session_cookies.copy()
                data = (
                    {"List-Unsubscribe": "One-Click"}
                    if scope == "unsubscribe"
                    else {"csrf_token": csrf_token}
                )
                if scope != "unsubscribe":
                    # A choice that would change the consent if it were applied.
                    data.update(
                        {
                            f"choice_{channel}_{purpose}": "refused"
                            for channel in self.env["crm.consent.channel"]
                            .search([])
                            .ids
                            for purpose in self.env["crm.consent.purpose"]
                            .search([])
                            .ids
                        }
                    )
                response = self.url_open(path, data=data)
            else:
                method = "GET"
                # A new visitor each time, so that the session cookie given
                # to a first visit is compared too.
                self.opener.cookies.clear()
                response = self.url_open(path)
            answers.setdefault((scope, method), {}).setdefault(
                self._comparable(response), []
            ).append(token)

        self.assertEqual(len(answers), 6)
        for (scope, method), by_answer in answers.items():
            self.assertGreater(sum(map(len, by_answer.values())), 100)
            self.assertEqual(
                len(by_answer), 1, f"{scope} {method}: {describe(by_answer)}"
            )
            [(status, body, _headers)] = by_answer
            self.assertEqual(status, 404, f"{scope} {method}")
            for name in ("Inés", "Óscar", "ines.calvo", "oscar.vidal"):
                self.assertNotIn(name, body, f"{scope} {method}")
        self.assertEqual(self._ledger(), before)


@tagged("post_install", "-at_install")
class TestPreferenceCentreTour(HttpCase):
    def test_preference_centre_in_spanish(self):
        self.env["res.lang"]._activate_lang("es_ES")
        self.env["ir.module.module"]._load_module_terms(["crm_consent"], ["es_ES"])
        partner = self.env["res.partner"].create(
            {"name": "Marta Ortiz", "email": "marta.ortiz@ejemplo.es", "lang": "es_ES"}
        )
        partner.consent_record("email", "granted")
        new_test_user(self.env, login="unused_tour_user")

        self.start_tour(
            partner.consent_preference_url(), "crm_consent_preference_centre"
        )

        events = self.env["crm.consent.event"].search(
            [("partner_id", "=", partner.id), ("purpose_id.code", "=", "marketing")],
            order="id",
        )
        self.assertEqual(events[-1].state, "refused")
        self.assertEqual(events[-1].source, "preference_centre")
