from odoo.tests import HttpCase, tagged

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
