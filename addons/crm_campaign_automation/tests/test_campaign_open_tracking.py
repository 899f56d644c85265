import random
import re
from urllib.parse import quote

from odoo.tests import HttpCase, tagged

from odoo.addons.crm_consent.tests.bad_tokens import bad_tokens
from odoo.addons.crm_consent.tests.test_public_pages import describe

from .common import CampaignCase

GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 "
    "(via ggpht.com GoogleImageProxy)"
)
THUNDERBIRD = "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Thunderbird/115.0"


@tagged("post_install", "-at_install", "crm_campaign_automation")
class TestCampaignOpenTracking(CampaignCase, HttpCase):
    def test_tracking_image_records_client(self):
        campaign = self.create_campaign([{"kind": "email"}])
        campaign.action_launch()
        campaign.action_execute()
        trace = self.traces_of(campaign, partner=self.ana)
        mail_id = trace.mail_mail_id.id
        token = self.env["mail.mail"]._generate_mail_recipient_token(mail_id)
        url = f"/mail/track/{mail_id}/{token}/blank.gif"
        mailing_trace = trace.mailing_trace_id

        response = self.url_open(url, headers={"User-Agent": GMAIL_PROXY})

        self.assertEqual(response.status_code, 200)
        mailing_trace.invalidate_recordset()
        self.assertTrue(mailing_trace.open_datetime)
        self.assertTrue(mailing_trace.crm_machine_open)
        self.assertFalse(mailing_trace.crm_human_open_datetime)

        self.url_open(url, headers={"User-Agent": THUNDERBIRD})

        mailing_trace.invalidate_recordset()
        self.assertTrue(mailing_trace.crm_human_open_datetime)

    def test_tracking_image_rejects_bad_token(self):
        campaign = self.create_campaign([{"kind": "email"}])
        campaign.action_launch()
        campaign.action_execute()
        trace = self.traces_of(campaign, partner=self.ana)

        response = self.url_open(
            f"/mail/track/{trace.mail_mail_id.id}/wrong-token/blank.gif",
            headers={"User-Agent": THUNDERBIRD},
        )

        self.assertEqual(response.status_code, 401)
        trace.mailing_trace_id.invalidate_recordset()
        self.assertFalse(trace.mailing_trace_id.crm_human_open_datetime)
        self.assertFalse(trace.mailing_trace_id.open_datetime)

    def test_tracking_image_bad_tokens_indistinguishable(self):
        """A few hundred bad tokens, on this mail and on another partner's:
        the same 401 response, whatever the token looks like (cut, changed,
        not ASCII, huge...), and no open is recorded on any trace."""
        campaign = self.create_campaign([{"kind": "email"}])
        campaign.action_launch()
        campaign.action_execute()
        trace = self.traces_of(campaign, partner=self.ana)
        other = self.traces_of(campaign, partner=self.bruno)
        mail_id = trace.mail_mail_id.id
        token = self.env["mail.mail"]._generate_mail_recipient_token(mail_id)
        rng = random.Random(20261209)
        attempts = [(mail_id, bad) for bad in bad_tokens(rng, token, 240)]
        # Ana's valid token on Bruno's mail, and on ids that are no mail.
        attempts += [
            (rng.choice([other.mail_mail_id.id, mail_id + 10**6]), token)
            for _index in range(60)
        ]
        attempts = [(mail, bad) for mail, bad in attempts if bad and "\x00" not in bad]
        mailing_traces = self.env["mailing.trace"].search([])
        fields = ["open_datetime", "crm_human_open_datetime", "trace_status"]
        before = mailing_traces.read(fields)

        answers = {}
        for mail, bad in attempts:
            self.opener.cookies.clear()
            response = self.url_open(
                f"/mail/track/{mail}/{quote(bad, safe='')}/blank.gif",
                headers={"User-Agent": THUNDERBIRD},
            )
            headers = tuple(
                sorted(
                    (name.lower(), re.sub(r"(session_id|Expires)=[^;]*", "", value))
                    for name, value in response.headers.items()
                    if name.lower() not in ("date", "content-length")
                )
            )
            answers.setdefault(
                (response.status_code, response.text, headers), []
            ).append(bad)

        self.assertGreater(len(attempts), 250)
        self.assertEqual(len(answers), 1, describe(answers))
        [(status, _body, _headers)] = answers
        self.assertEqual(status, 401)
        mailing_traces.invalidate_recordset()
        self.assertEqual(mailing_traces.read(fields), before)
