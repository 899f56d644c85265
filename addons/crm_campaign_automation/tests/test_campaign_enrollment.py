from unittest.mock import patch

from odoo.tests import tagged

from ..models import crm_campaign
from ..tools.experiment_assignment import assignment_fraction
from .common import CampaignCase


@tagged("post_install", "-at_install", "crm_campaign_automation")
class TestCampaignEnrollment(CampaignCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.crowd = cls.env["res.partner"].create(
            [
                {
                    "name": f"Socia {index:02d}",
                    "email": f"socia{index:02d}@ejemplo.es",
                    "category_id": [(4, cls.tag_audience.id)],
                }
                for index in range(60)
            ]
        )
        cls.crowd.consent_record("email", "granted")
        cls.audience = cls.customers | cls.crowd

    def test_launch_enrolls_in_batches(self):
        campaign = self.create_campaign(
            [{"kind": "email"}, {"kind": "email", "parent": 0}],
            holdout_percent=30.0,
        )
        campaign.experiment_seed = 777
        root_step = campaign.step_ids.filtered(lambda step: not step.parent_id)
        # Ana is already running (enrolled by hand), so the launch skips her.
        ana_participant = self.env["crm.campaign.participant"].create(
            {"campaign_id": campaign.id, "partner_id": self.ana.id}
        )
        batch_sizes = []
        enroll_batch = crm_campaign.CrmCampaign._enroll_batch

        def record_batch(campaign_self, partner_ids, entry_dates, now):
            batch_sizes.append(len(partner_ids))
            return enroll_batch(campaign_self, partner_ids, entry_dates, now)

        with (
            patch.object(crm_campaign, "ENROLL_BATCH_SIZE", 7),
            patch.object(crm_campaign.CrmCampaign, "_enroll_batch", record_batch),
        ):
            campaign.action_launch()

        # 63 audience partners in batches of 7: nine batches.
        self.assertEqual(batch_sizes, [7] * 9)
        participants = campaign.participant_ids
        self.assertEqual(len(participants), 63)
        self.assertEqual(participants.partner_id, self.audience)
        self.assertEqual(
            participants.filtered(lambda p: p.partner_id == self.ana),
            ana_participant,
        )
        root_traces = self.traces_of(campaign, step=root_step)
        self.assertEqual(len(root_traces), 62, "one first trace per new participant")
        self.assertEqual(root_traces.partner_id, self.audience - self.ana)
        self.assertEqual(
            len(self.traces_of(campaign)), 62, "child steps wait for their parent"
        )

        # Holdout membership follows the seeded hash of each partner.
        expected_holdout = {
            partner.id
            for partner in self.audience - self.ana
            if assignment_fraction(777, campaign.id, partner.id, "holdout") * 100 < 30.0
        }
        new_participants = participants - ana_participant
        self.assertEqual(
            set(new_participants.filtered("is_holdout").partner_id.ids),
            expected_holdout,
        )
        self.assertTrue(0 < len(expected_holdout) < 62, expected_holdout)

    def test_enroll_skips_duplicates_across_batches(self):
        campaign = self.create_campaign([{"kind": "email"}])
        campaign.action_launch()
        self.assertEqual(len(campaign.participant_ids), 63)

        # A repeated id and partners already running: nothing is added again.
        newcomer = self.env["res.partner"].create({"name": "Nuria Gil"})
        partner_ids = [newcomer.id, *self.audience.ids, newcomer.id]
        with patch.object(crm_campaign, "ENROLL_BATCH_SIZE", 5):
            created = campaign._enroll(partner_ids)

        self.assertEqual(created.partner_id, newcomer)
        self.assertEqual(len(created), 1)
        self.assertEqual(len(campaign.participant_ids), 64)
        self.assertEqual(len(self.traces_of(campaign, partner=newcomer)), 1)
