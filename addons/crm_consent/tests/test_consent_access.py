from psycopg2 import IntegrityError

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import ConsentCase


@tagged("post_install", "-at_install")
class TestConsentAccess(ConsentCase):
    def test_marketing_user_records_and_reads_ledger(self):
        partner = self.ana.with_user(self.user_marketing)
        partner.consent_record("email", "granted", proof="Formulario en tienda")

        events = (
            self.env["crm.consent.event"]
            .with_user(self.user_marketing)
            .search([("partner_id", "=", self.ana.id)])
        )
        self.assertEqual(events.user_id, self.user_marketing)
        self.assertEqual(partner.consent_event_count, 1)

    def test_employee_reads_state_but_cannot_record(self):
        self.ana.consent_record("phone", "refused")
        partner = self.ana.with_user(self.user_employee)

        self.assertEqual(partner.consent_get("phone")[0]["state"], "refused")
        with self.assertRaises(AccessError):
            partner.consent_record("phone", "granted")
        with self.assertRaises(AccessError):
            self.env["crm.consent.event"].with_user(self.user_employee).search([])

    def test_portal_user_has_no_access(self):
        Consent = self.env["crm.consent"].with_user(self.user_portal)
        with self.assertRaises(AccessError):
            Consent.search([])
        with self.assertRaises(AccessError):
            self.env["crm.consent.event"].with_user(self.user_portal).search([])
        with self.assertRaises(AccessError):
            self.env["crm.consent.channel"].with_user(self.user_portal).search([])

    def test_only_manager_configures_channels(self):
        values = {"name": "Telegram", "code": "telegram", "address_type": "phone"}
        with self.assertRaises(AccessError):
            self.env["crm.consent.channel"].with_user(self.user_marketing).create(
                values
            )
        channel = (
            self.env["crm.consent.channel"].with_user(self.user_manager).create(values)
        )

        self.ana.consent_record("telegram", "granted")
        self.assertEqual(self.ana.consent_filter_contactable("telegram"), self.ana.ids)
        self.assertEqual(channel.code, "telegram")

    def test_duplicate_channel_code_rejected(self):
        with (
            self.assertRaises(IntegrityError),
            mute_logger("odoo.sql_db"),
            self.cr.savepoint(),
        ):
            self.env["crm.consent.channel"].create({"name": "Correo", "code": "email"})

    def test_other_company_consent_hidden(self):
        other_company = self.env["res.company"].create({"name": "Filial México"})
        foreign = self.env["res.partner"].create(
            {
                "name": "Cliente de la filial",
                "email": "filial@ejemplo.mx",
                "company_id": other_company.id,
            }
        )
        foreign.consent_record("email", "granted")
        self.ana.consent_record("email", "granted")

        visible = (
            self.env["crm.consent"]
            .with_user(self.user_marketing)
            .search([("partner_id", "in", (foreign | self.ana).ids)])
        )
        self.assertEqual(visible.partner_id, self.ana)

    def test_consent_key_cannot_change(self):
        self.ana.consent_record("email", "granted")
        with self.assertRaisesRegex(UserError, "cannot change"):
            self.ana.consent_ids.write({"channel_id": self.channel_sms.id})


@tagged("post_install", "-at_install")
class TestConsentAccessMatrix(ConsentCase):
    # Read, write, create, unlink per model and group. Events are never
    # written or deleted by anyone; the ORM also rejects it in code.
    MATRIX = {
        "crm.consent.channel": {
            "manager": "rwcu",
            "marketing": "r",
            "employee": "r",
            "portal": "",
            "public": "",
        },
        "crm.consent.purpose": {
            "manager": "rwcu",
            "marketing": "r",
            "employee": "r",
            "portal": "",
            "public": "",
        },
        "crm.consent": {
            "manager": "rwc",
            "marketing": "rwc",
            "employee": "r",
            "portal": "",
            "public": "",
        },
        "crm.consent.event": {
            "manager": "r",
            "marketing": "r",
            "employee": "",
            "portal": "",
            "public": "",
        },
        "crm.consent.text": {
            "manager": "rwc",
            "marketing": "r",
            "employee": "r",
            "portal": "",
            "public": "",
        },
        "crm.consent.regime": {
            "manager": "rwcu",
            "marketing": "r",
            "employee": "",
            "portal": "",
            "public": "",
        },
        "crm.consent.suppression.list": {
            "manager": "rwcu",
            "marketing": "r",
            "employee": "",
            "portal": "",
            "public": "",
        },
        "crm.consent.suppression.entry": {
            "manager": "r",
            "marketing": "",
            "employee": "",
            "portal": "",
            "public": "",
        },
        "crm.consent.unsubscribe.request": {
            "manager": "r",
            "marketing": "r",
            "employee": "",
            "portal": "",
            "public": "",
        },
        "crm.consent.request.wizard": {
            "manager": "rwcu",
            "marketing": "rwcu",
            "employee": "",
            "portal": "",
            "public": "",
        },
    }
    OPERATIONS = {"r": "read", "w": "write", "c": "create", "u": "unlink"}

    def test_access_matrix(self):
        users = {
            "manager": self.user_manager,
            "marketing": self.user_marketing,
            "employee": self.user_employee,
            "portal": self.user_portal,
            "public": self.env.ref("base.public_user"),
        }
        for model, expected_by_group in self.MATRIX.items():
            for group, expected in expected_by_group.items():
                for letter, operation in self.OPERATIONS.items():
                    with self.subTest(model=model, group=group, operation=operation):
                        allowed = (
                            self.env[model]
                            .with_user(users[group])
                            .has_access(operation)
                        )
                        self.assertEqual(allowed, letter in expected)
