import base64
import csv
import hashlib
import io

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import ConsentCase


@tagged("post_install", "-at_install")
class TestSuppressionLists(ConsentCase):
    def _list(self, lines, channel, **values):
        return self.env["crm.consent.suppression.list"].create(
            {
                "name": "Lista Robinson de prueba",
                "channel_id": channel.id,
                "file": base64.b64encode("\n".join(lines).encode()),
                "file_name": "robinson.txt",
                **values,
            }
        )

    def test_plain_email_list_refuses_listed_partner(self):
        self.ana.consent_record("email", "granted")
        robinson = self._list(
            [
                "email",
                "ANA.MARTIN@ejemplo.es",
                "otra.persona@ejemplo.es",
                "no es correo",
            ],
            self.channel_email,
        )

        robinson.action_import()

        self.assertEqual(robinson.entry_count, 2)
        self.assertEqual(robinson.rejected_count, 2, "header and invalid line")
        self.assertEqual(robinson.matched_count, 1)
        self.assertEqual(self.state_of(self.ana, "email"), "refused")
        self.assertEqual(self.state_of(self.ana, "email", "transactional"), False)
        event = self.events_of(self.ana, self.channel_email)[-1]
        self.assertEqual(event.source, "suppression_list")
        self.assertIn("Lista Robinson de prueba", event.proof)
        self.assertFalse(self.state_of(self.bruno, "email"))

    def test_hashed_phone_list_with_local_numbers(self):
        digest = hashlib.sha256(b"+525512345678").hexdigest()
        registry = self._list(
            [digest.upper(), "zz-not-a-digest"], self.channel_phone, is_hashed=True
        )

        registry.action_import()

        self.assertEqual(registry.entry_count, 1)
        self.assertEqual(self.state_of(self.carla, "phone"), "refused")
        self.assertFalse(
            self.state_of(self.carla, "sms"), "a call list does not refuse SMS"
        )

    def test_plain_phone_list_reads_country(self):
        registry = self._list(
            ["55 1234 5678"], self.channel_phone, country_id=self.mexico.id
        )
        registry.action_import()
        self.assertEqual(self.state_of(self.carla, "phone"), "refused")

    def test_partner_created_later_is_checked(self):
        robinson = self._list(["nuevo.cliente@ejemplo.es"], self.channel_email)
        robinson.action_import()

        newcomer = self.env["res.partner"].create(
            {"name": "Cliente Nuevo", "email": "Nuevo.Cliente@ejemplo.es"}
        )

        self.assertEqual(self.state_of(newcomer, "email"), "refused")
        self.assertFalse(newcomer.consent_filter_contactable("email"))

    def test_reimport_is_idempotent(self):
        robinson = self._list(["ana.martin@ejemplo.es"], self.channel_email)
        robinson.action_import()
        self.assertFalse(robinson.file, "the upload is dropped once imported")
        robinson.file = base64.b64encode(b"ANA.MARTIN@ejemplo.es\n")
        robinson.action_import()
        self.assertEqual(robinson.entry_count, 1)
        self.assertEqual(len(self.events_of(self.ana, self.channel_email)), 1)

    def test_import_without_file_names_list(self):
        empty = self.env["crm.consent.suppression.list"].create(
            {"name": "Vacía", "channel_id": self.channel_email.id}
        )
        with self.assertRaisesRegex(UserError, "Vacía"):
            empty.action_import()


@tagged("post_install", "-at_install")
class TestRegimes(ConsentCase):
    def test_opt_out_country_allows_never_asked(self):
        self.env["crm.consent.regime"].create(
            {
                "country_id": self.mexico.id,
                "channel_id": self.channel_email.id,
                "regime": "opt_out",
            }
        )
        partners = self.ana | self.carla

        self.assertEqual(partners.consent_filter_contactable("email"), self.carla.ids)

        self.carla.consent_record("email", "refused")
        self.assertFalse(partners.consent_filter_contactable("email"))

    def test_regime_applies_per_channel(self):
        self.env["crm.consent.regime"].create(
            {
                "country_id": self.mexico.id,
                "channel_id": self.channel_email.id,
                "regime": "opt_out",
            }
        )
        self.assertFalse(self.carla.consent_filter_contactable("sms"))

    def test_soft_opt_in_grants_on_purchase(self):
        self.env["crm.consent.regime"].create(
            {
                "country_id": self.spain.id,
                "channel_id": self.channel_email.id,
                "regime": "soft_opt_in",
            }
        )
        self.assertFalse(
            self.ana.consent_filter_contactable("email"), "not before buying"
        )
        self.bruno.consent_record("email", "refused")

        (self.ana | self.bruno | self.carla)._consent_grant_soft_opt_in(
            proof="Pedido S00042"
        )

        event = self.events_of(self.ana, self.channel_email)
        self.assertEqual(event.state, "granted")
        self.assertEqual(event.legal_basis, "legitimate_interests")
        self.assertEqual(event.source, "purchase")
        self.assertEqual(
            self.state_of(self.bruno, "email"), "refused", "a refusal stands"
        )
        self.assertFalse(
            self.state_of(self.carla, "email"), "Mexico has no soft opt-in"
        )


@tagged("post_install", "-at_install")
class TestProofExportAndRenewal(ConsentCase):
    def test_csv_export_has_header_and_rows(self):
        self.ana.consent_record("phone", "granted", proof="Formulario, casilla marcada")
        self.ana.consent_record(
            "phone", "refused", proof='Baja; dijo "no", por teléfono'
        )

        exported = self.ana.consent_export("csv")

        rows = list(csv.DictReader(io.StringIO(exported)))
        self.assertEqual(
            exported.splitlines()[0].split(",")[:4],
            ["event_id", "partner_id", "partner_name", "channel"],
        )
        self.assertEqual([row["state"] for row in rows], ["granted", "refused"])
        self.assertEqual(rows[1]["proof"], 'Baja; dijo "no", por teléfono')
        self.assertEqual(rows[1]["previous_state"], "granted")

    def test_unknown_export_format_is_named(self):
        with self.assertRaisesRegex(UserError, "xml"):
            self.ana.consent_export("xml")

    def test_pdf_report_lists_history(self):
        self.ana.consent_record("email", "granted", proof="Formulario en tienda")
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html("crm_consent.report_consent_proof", self.ana.ids)[0]
            .decode()
        )
        self.assertIn("Formulario en tienda", html)
        self.assertIn("o_consent_history", html)

    def test_old_grant_listed_for_renewal(self):
        self.ana.consent_record("email", "granted", date="2020-01-01 00:00:00")
        self.bruno.consent_record("email", "granted")

        due = self.env["crm.consent"].search([("needs_repermission", "=", True)])

        self.assertIn(self.ana, due.partner_id)
        self.assertNotIn(self.bruno, due.partner_id)
