from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import CampaignCase


@tagged("post_install", "-at_install", "crm_campaign_automation")
class TestCampaignAccess(CampaignCase):
    def test_marketing_user_runs_campaign(self):
        campaign = self.create_campaign([{"kind": "email"}])
        campaign = campaign.with_user(self.user_marketing)

        campaign.action_launch()
        processed = campaign.action_execute()

        self.assertEqual(processed, 3)
        self.assertEqual(len(self.mails_of(campaign.sudo())), 3)

    def test_portal_user_reads_no_campaign(self):
        portal = new_test_user(
            self.env, login="campaign_portal", groups="base.group_portal"
        )
        with self.assertRaises(AccessError):
            self.env["crm.campaign"].with_user(portal).search([])
        with self.assertRaises(AccessError):
            self.env["crm.campaign.trace"].with_user(portal).search([])

    def test_other_company_campaign_hidden(self):
        other_company = self.env["res.company"].create({"name": "Filial México"})
        campaign = self.create_campaign(
            [{"kind": "email"}], company_id=other_company.id
        )

        visible = (
            self.env["crm.campaign"]
            .with_user(self.user_marketing)
            .search([("id", "=", campaign.id)])
        )

        self.assertFalse(visible)

    def test_rename_updates_utm_campaign(self):
        campaign = self.create_campaign([{"kind": "email"}])

        campaign.name = "Reactivación otoño"

        self.assertEqual(campaign.utm_campaign_id.title, "Reactivación otoño")
