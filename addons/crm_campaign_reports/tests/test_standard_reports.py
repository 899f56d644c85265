from datetime import date

from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged

DAY_ONE = date(2026, 1, 31)
DAY_TWO = date(2026, 2, 28)


@tagged("post_install", "-at_install")
class TestConsentCoverage(TransactionCase):
    """Four customers of a new company, so that the demo data does not count:

    ======  ==========  ============  ==================  ==================
    Name    E-mail      Mobile        E-mail consent      SMS consent
    ======  ==========  ============  ==================  ==================
    Elena   yes         no            granted             granted (no mobile)
    Fausto  yes         no            refused             -
    Gema    yes         no            never asked         -
    Héctor  no          yes           -                   granted
    ======  ==========  ============  ==================  ==================

    Marketing is opt-in and the company has no regime, so partners never
    asked are not contactable. E-mail: 1 of 4 contactable (Elena), 25 %.
    SMS: 1 of 4 (Héctor), 25 %. Postal: nobody has an address, 0 %.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.env["res.company"].create({"name": "Cobertura SL"})
        cls.elena, cls.fausto, cls.gema, cls.hector = cls.env["res.partner"].create(
            [
                {"name": "Elena Cobertura", "email": "elena@ejemplo.es"},
                {"name": "Fausto Cobertura", "email": "fausto@ejemplo.es"},
                {"name": "Gema Cobertura", "email": "gema@ejemplo.es"},
                {
                    "name": "Héctor Cobertura",
                    "mobile": "+34 600 11 22 33",
                    "country_id": cls.env.ref("base.es").id,
                },
            ]
        )
        cls.elena.consent_record("email", "granted")
        cls.elena.consent_record("sms", "granted")
        cls.fausto.consent_record("email", "refused")
        cls.hector.consent_record("sms", "granted")
        cls.env["crm.customer.transaction"].sudo().record_transactions(
            [
                {
                    "partner_id": partner.id,
                    "date": "2026-01-15",
                    "amount": 10.0,
                    "kind": "purchase",
                    "source_ref": f"coverage-test/{partner.id}",
                    "company_id": cls.company.id,
                }
                for partner in (cls.elena, cls.fausto, cls.gema, cls.hector)
            ]
        )

    def read_coverage(self):
        marketing = self.env.ref("crm_consent.purpose_marketing")
        groups = self.env["crm.consent.coverage.report"]._read_group(
            [("company_id", "=", self.company.id), ("purpose_id", "=", marketing.id)],
            ["channel_id"],
            ["customers:sum", "contactable:sum", "coverage:avg"],
        )
        return {channel.code: values for channel, *values in groups}

    def test_coverage_per_channel(self):
        coverage = self.read_coverage()
        self.assertEqual(coverage["email"], [4, 1, 25.0])
        self.assertEqual(coverage["sms"], [4, 1, 25.0])
        self.assertEqual(coverage["postal"], [4, 0, 0.0])

    def test_coverage_follows_new_consent(self):
        self.gema.consent_record("email", "granted")
        self.assertEqual(self.read_coverage()["email"], [4, 2, 50.0])

    def test_blacklisted_address_not_contactable(self):
        self.env["mail.blacklist"].sudo()._add("elena@ejemplo.es")
        self.assertEqual(self.read_coverage()["email"], [4, 0, 0.0])


@tagged("post_install", "-at_install")
class TestRfmMigration(TransactionCase):
    """Five customers of a new company, snapshotted on two days:

    =======  ================  =================
    Partner  31 January        28 February
    =======  ================  =================
    Irene    champions         loyal
    Jaime    champions         champions
    Lucía    at_risk           lost
    Manuel   new               (no segment: none)
    Nuria    (none)            new
    =======  ================  =================
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env["res.company"].create({"name": "Migración SL"})
        cls.partners = cls.env["res.partner"].create(
            [
                {"name": name}
                for name in (
                    "Irene RFM",
                    "Jaime RFM",
                    "Lucía RFM",
                    "Manuel RFM",
                    "Nuria RFM",
                )
            ]
        )
        cls.set_segments(["champions", "champions", "at_risk", "new", False])
        cls.env["crm.rfm.snapshot"]._take_snapshot(DAY_ONE)
        cls.set_segments(["loyal", "champions", "lost", False, "new"])
        cls.env["crm.rfm.snapshot"]._take_snapshot(DAY_TWO)

    @classmethod
    def set_segments(cls, segments):
        for partner, segment in zip(cls.partners, segments, strict=True):
            partner.sudo().write(
                {
                    "rfm_segment": segment,
                    "value_tier": "database" if segment else False,
                    "profile_company_id": cls.company.id,
                }
            )

    def snapshot_rows(self, day):
        return self.env["crm.rfm.snapshot"].search(
            [("date", "=", day), ("partner_id", "in", self.partners.ids)]
        )

    def test_snapshot_per_day(self):
        rows = self.snapshot_rows(DAY_ONE)
        self.assertEqual(len(rows), 4)
        self.assertEqual(
            {row.partner_id.name: row.rfm_segment for row in rows},
            {
                "Irene RFM": "champions",
                "Jaime RFM": "champions",
                "Lucía RFM": "at_risk",
                "Manuel RFM": "new",
            },
        )
        self.assertEqual(set(rows.mapped("company_id")), {self.company})

    def test_snapshot_idempotent_per_day(self):
        snapshot = self.env["crm.rfm.snapshot"]
        snapshot._take_snapshot(DAY_TWO)
        snapshot._take_snapshot(DAY_TWO)
        rows = self.snapshot_rows(DAY_TWO)
        self.assertEqual(len(rows), 4)
        self.partners[0].sudo().rfm_segment = "cannot_lose"
        snapshot._take_snapshot(DAY_TWO)
        rows = self.snapshot_rows(DAY_TWO)
        self.assertEqual(len(rows), 4)
        irene = rows.filtered(lambda row: row.partner_id == self.partners[0])
        self.assertEqual(irene.rfm_segment, "cannot_lose")

    def test_snapshot_in_batches(self):
        written = self.env["crm.rfm.snapshot"]._take_snapshot(
            date(2026, 3, 31), batch_size=2
        )
        self.assertGreaterEqual(written, 4)
        self.assertEqual(len(self.snapshot_rows(date(2026, 3, 31))), 4)

    def test_migration_counts(self):
        wizard = self.env["crm.rfm.migration"].create(
            {"company_id": self.company.id, "date_from": DAY_ONE, "date_to": DAY_TWO}
        )
        self.assertEqual(
            wizard.get_migration_counts(),
            {
                "champions": {"loyal": 1, "champions": 1},
                "at_risk": {"lost": 1},
                "new": {"none": 1},
                "none": {"new": 1},
            },
        )

    def test_migration_action_opens_pivot(self):
        wizard = self.env["crm.rfm.migration"].create(
            {"company_id": self.company.id, "date_from": DAY_ONE, "date_to": DAY_TWO}
        )
        action = wizard.action_open_migration()
        self.assertEqual(action["res_model"], "crm.rfm.migration.line")
        self.assertTrue(action["view_mode"].startswith("pivot"))
        lines = self.env["crm.rfm.migration.line"].search(action["domain"])
        self.assertEqual(len(lines), 5)

    def test_migration_dates_checked(self):
        wizard = self.env["crm.rfm.migration"].create(
            {"company_id": self.company.id, "date_from": DAY_TWO, "date_to": DAY_ONE}
        )
        with self.assertRaisesRegex(UserError, "must be before"):
            wizard.action_open_migration()
        wizard.date_from = date(2026, 1, 1)
        with self.assertRaisesRegex(
            UserError, "No RFM snapshot was taken on 2026-01-01"
        ):
            wizard.action_open_migration()
