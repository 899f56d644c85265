from unittest.mock import patch

from odoo.tests import tagged

from .common import LegacyCase

MAPPING = {
    "codigo": "partner_ref",
    "nombre": "partner_name",
    "pais": "partner_country",
    "nif": "partner_vat",
    "email": "partner_email",
    "telefono": "partner_phone",
    "calle": "partner_street",
    "ciudad": "partner_city",
    "cp": "partner_zip",
    "fecha": "txn_date",
    "importe": "txn_amount",
    "ref": "txn_ref",
}
HEADER = "codigo;nombre;pais;nif;email;telefono;calle;ciudad;cp;fecha;importe;ref\n"
# Stored fields that differ between any two partners whatever their values.
VOLATILE_FIELDS = {
    "id",
    "create_date",
    "write_date",
    "commercial_partner_id",
    "__last_update",
}


@tagged("post_install", "-at_install", "crm_legacy_connectors")
class TestPartnerWriter(LegacyCase):
    def import_rows(self, *lines, **source_values):
        content = (HEADER + "\n".join(lines) + "\n").encode()
        source = self.make_source(MAPPING, content=content, **source_values)
        return source, self.run_source(source)

    def stored_values(self, partner):
        names = [
            name
            for name, field in partner._fields.items()
            if field.store
            and field.type not in ("one2many", "many2many", "binary")
            and name not in VOLATILE_FIELDS
        ]
        return partner.read(names)[0]

    def test_copy_partner_equals_orm_partner(self):
        _source, run = self.import_rows(
            "C1;Marta Gil;ES;B-58378431;Marta.Gil@Ejemplo.ES;633 845 271;"
            "Calle Mayor 1;Madrid;28013;;;"
        )
        self.assertEqual(run.partners_created, 1)
        imported = self.env["res.partner"].search([("name", "=", "Marta Gil")])
        self.assertEqual(len(imported), 1)
        self.assertEqual(imported.commercial_partner_id, imported)

        orm_partner = (
            self.env["res.partner"]
            .with_context(tracking_disable=True, mail_create_nolog=True)
            .create(
                {
                    "name": "Marta Gil",
                    "country_id": self.env.ref("base.es").id,
                    "vat": "B58378431",
                    "email": "marta.gil@ejemplo.es",
                    "phone": "633 845 271",
                    "street": "Calle Mayor 1",
                    "city": "Madrid",
                    "zip": "28013",
                }
            )
        )
        imported_values = self.stored_values(imported)
        orm_values = self.stored_values(orm_partner)
        for name, value in orm_values.items():
            if name in VOLATILE_FIELDS:
                continue
            self.assertEqual(imported_values[name], value, f"field {name}")
        self.assertEqual(imported.email_normalized, "marta.gil@ejemplo.es")
        self.assertEqual(imported.phone_e164, "+34633845271")
        self.assertEqual(imported.complete_name, "Marta Gil")

    def test_copy_escapes_tabs_and_backslashes(self):
        _source, run = self.import_rows(
            'C2;"Back\\slash\tTab";ES;;tab@ejemplo.es;;;;;15/04/2024;1;T2'
        )
        self.assertEqual(run.rows_rejected, 0)
        partner = self.env["res.partner"].search(
            [("email_normalized", "=", "tab@ejemplo.es")]
        )
        self.assertEqual(partner.name, "Back\\slash\tTab")

    def test_matched_partner_empty_fields_filled(self):
        existing = self.env["res.partner"].create(
            {"name": "Ana Ruiz", "email": "ana@ejemplo.es", "city": "Sevilla"}
        )
        _source, run = self.import_rows(
            ";Ana R.;ES;B-58378431;ana@ejemplo.es;633 845 271;"
            "Calle Feria 3;Madrid;41003;15/04/2024;5;T3"
        )
        self.assertEqual(run.partners_matched, 1)
        self.assertEqual(run.partners_created, 0)
        existing.invalidate_recordset()
        self.assertEqual(existing.name, "Ana Ruiz", "the name is never changed")
        self.assertEqual(existing.city, "Sevilla", "a non-empty field is kept")
        self.assertEqual(existing.street, "Calle Feria 3")
        self.assertEqual(existing.zip, "41003")
        self.assertEqual(existing.vat, "B58378431")
        self.assertEqual(existing.country_id, self.env.ref("base.es"))
        self.assertEqual(existing.phone, "633 845 271")
        self.assertEqual(existing.phone_e164, "+34633845271")

    def test_filled_phone_matches_next_run(self):
        existing = self.env["res.partner"].create(
            {"name": "Pilar Sanz", "email": "pilar@ejemplo.es"}
        )
        self.import_rows(";Pilar;ES;;pilar@ejemplo.es;633 111 222;;;;15/04/2024;5;T4")
        _source, run = self.import_rows(";Pilar;ES;;;633111222;;;;16/04/2024;6;T5")
        self.assertEqual(run.partners_created, 0)
        self.assertEqual(run.partners_matched, 1)
        self.assertEqual(sorted(existing.transaction_ids.mapped("amount")), [5.0, 6.0])

    def test_overwrite_option_replaces_values(self):
        existing = self.env["res.partner"].create(
            {"name": "Luis Mora", "email": "luis@ejemplo.es", "city": "Sevilla"}
        )
        self.import_rows(
            ";Luis;ES;;luis@ejemplo.es;;;Madrid;;15/04/2024;5;T6",
            partner_update="overwrite",
        )
        existing.invalidate_recordset()
        self.assertEqual(existing.city, "Madrid")
        self.assertEqual(existing.name, "Luis Mora")

    def test_never_option_changes_nothing(self):
        existing = self.env["res.partner"].create(
            {"name": "Eva Pons", "email": "eva@ejemplo.es"}
        )
        self.import_rows(
            ";Eva;ES;;eva@ejemplo.es;633 000 111;;Madrid;;15/04/2024;5;T7",
            partner_update="never",
        )
        existing.invalidate_recordset()
        self.assertFalse(existing.city)
        self.assertFalse(existing.phone)

    def test_filled_vat_copied_to_contacts(self):
        company = self.env["res.partner"].create(
            {"name": "Talleres Gil", "is_company": True, "email": "gil@ejemplo.es"}
        )
        contact = self.env["res.partner"].create(
            {"name": "Rosa", "parent_id": company.id, "type": "contact"}
        )
        self.import_rows(";Gil;ES;B-58378431;gil@ejemplo.es;;;;;15/04/2024;5;T8")
        contact.invalidate_recordset()
        self.assertEqual(contact.vat, "B58378431")

    def snapshot(self, batch_size):
        """Import the same rows with ``batch_size`` and return what they
        wrote, keyed by customer key, without ids."""
        lines = [
            "K1;Uno;ES;;uno@ejemplo.es;;;;;01/02/2024;10;R1",
            "K2;Dos;ES;;dos@ejemplo.es;633 000 002;;;;02/02/2024;20;R2",
            "K1;Uno;ES;;uno@ejemplo.es;;;Madrid;;03/02/2024;30;R3",
            ";Tres;ES;;DOS@ejemplo.es;;;;;04/02/2024;40;R4",
            "K3;Cuatro;ES;;;633 000 002;;;;05/02/2024;-5;R5",
        ]
        source, run = self.import_rows(*lines, batch_size=batch_size)
        partners = {
            link.external_key: link.partner_id
            for link in self.env["crm.legacy.partner.link"].search(
                [("source_id", "=", source.id)]
            )
        }
        ledger = sorted(
            (
                tx.source_ref.split(":")[-1],
                tx.partner_id.name,
                str(tx.date),
                tx.amount,
                tx.kind,
            )
            for tx in self.env["crm.customer.transaction"].search(
                [("source_ref", "like", f"legacy:{source.id}:%")]
            )
        )
        return {
            "counts": (run.partners_created, run.partners_matched, run.rows_rejected),
            "partners": {
                key: (partner.name, partner.email, partner.phone, partner.city)
                for key, partner in partners.items()
            },
            "ledger": ledger,
        }

    def test_batch_sizes_write_same_result(self):
        with self.env.cr.savepoint() as savepoint:
            one_batch = self.snapshot(batch_size=1000)
            savepoint.rollback()
        self.env.invalidate_all()
        row_by_row = self.snapshot(batch_size=1)
        self.assertEqual(row_by_row, one_batch)
        # Rows 3 to 5 find the partners that rows 1 and 2 created in the
        # same run, so no partner counts as matched.
        self.assertEqual(one_batch["counts"], (2, 0, 0))
        self.assertEqual(
            one_batch["partners"],
            {
                # Created by row 1: a later row of the run fills nothing.
                "K1": ("Uno", "uno@ejemplo.es", False, False),
                "K2": ("Dos", "dos@ejemplo.es", "633 000 002", False),
                "K3": ("Dos", "dos@ejemplo.es", "633 000 002", False),
            },
        )
        self.assertEqual(len(one_batch["ledger"]), 5)

    def orm_twin(self, values):
        return (
            self.env["res.partner"]
            .with_context(tracking_disable=True, mail_create_nolog=True)
            .create(values)
        )

    def assert_same_stored_values(self, imported, orm_partner):
        imported_values = self.stored_values(imported)
        for name, value in self.stored_values(orm_partner).items():
            # The twin has no ledger row, so no profile to refresh; the
            # calendar's default is the time of creation.
            if name in VOLATILE_FIELDS or name in (
                "profile_outdated",
                "calendar_last_notif_ack",
            ):
                continue
            self.assertEqual(imported_values[name], value, f"{imported.name}: {name}")

    def test_computed_values_shared_by_same_inputs_equal_orm(self):
        """Partners with the same phone, country and tax id get the computed
        values of the first of them. Each must still equal a partner made by
        the ORM, across batches and with different inputs in one batch."""
        lines = [
            "S1;Sin Tel Uno;ES;;;;;;;01/02/2024;10;A1",
            "S2;Sin Tel Dos;ES;;;;;;;01/02/2024;11;A2",
            "T1;Tel Uno;ES;;;633 845 271;;;;01/02/2024;12;A3",
            "T2;Tel Dos;ES;;;633 845 272;;;;01/02/2024;13;A4",
            "S3;Sin Tel Tres;ES;;;;;;;01/02/2024;14;A5",
            "B1;Bruselas;BE;BE0477472701;;;;;;01/02/2024;15;A6",
            "B2;Bruselas Dos;BE;BE0477472701;;;;;;01/02/2024;16;A7",
            "F1;Francia;FR;;;;;;;01/02/2024;17;A8",
        ]
        _source, run = self.import_rows(*lines, batch_size=3)
        self.assertEqual(run.rows_rejected, 0)
        # B2 has B1's tax id: the next batch finds B1 by it.
        self.assertEqual(run.partners_created, 7)
        phones = self.env["res.partner"].search([("name", "=like", "Tel %")])
        self.assertEqual(
            sorted(phones.mapped("phone_e164")), ["+34633845271", "+34633845272"]
        )
        twins = {
            "Sin Tel Uno": {"country_id": self.env.ref("base.es").id},
            "Sin Tel Dos": {"country_id": self.env.ref("base.es").id},
            "Sin Tel Tres": {"country_id": self.env.ref("base.es").id},
            "Tel Uno": {
                "country_id": self.env.ref("base.es").id,
                "phone": "633 845 271",
            },
            "Tel Dos": {
                "country_id": self.env.ref("base.es").id,
                "phone": "633 845 272",
            },
            "Bruselas": {"country_id": self.env.ref("base.be").id, "vat": True},
            "Francia": {"country_id": self.env.ref("base.fr").id},
        }
        for name, values in twins.items():
            imported = self.env["res.partner"].search([("name", "=", name)])
            self.assertEqual(len(imported), 1, name)
            twin_values = dict(values, name=name)
            if values.get("vat"):
                # The twin gets the tax id as the import stored it.
                self.assertTrue(imported.vat)
                twin_values["vat"] = imported.vat
            self.assert_same_stored_values(imported, self.orm_twin(twin_values))

    def test_new_partner_marked_outdated_only_with_ledger_row(self):
        self.import_rows(
            "L1;Con Compra;ES;;;;;;;01/02/2024;10;M1",
            "L2;Sin Compra;ES;;sin@ejemplo.es;;;;;;;",
        )
        with_purchase = self.env["res.partner"].search([("name", "=", "Con Compra")])
        without = self.env["res.partner"].search([("name", "=", "Sin Compra")])
        self.assertTrue(with_purchase.profile_outdated)
        self.assertTrue(with_purchase.transaction_ids)
        self.assertFalse(without.profile_outdated)
        self.assertFalse(without.transaction_ids)

    def test_reference_moved_within_batch_marks_only_last_partner(self):
        """Of two rows with one transaction reference, the last one is kept,
        so the partner of the first row has no ledger row to refresh."""
        self.import_rows(
            "P1;Primero;ES;;;;;;;01/02/2024;10;SAME",
            "P2;Segundo;ES;;;;;;;02/02/2024;20;SAME",
        )
        first = self.env["res.partner"].search([("name", "=", "Primero")])
        second = self.env["res.partner"].search([("name", "=", "Segundo")])
        self.assertFalse(first.transaction_ids)
        self.assertFalse(first.profile_outdated)
        self.assertEqual(second.transaction_ids.amount, 20.0)
        self.assertTrue(second.profile_outdated)

    def test_recompute_inputs_follow_dependencies_to_columns(self):
        writer = self.env["crm.legacy.partner.writer"]
        partners = self.env["res.partner"]
        fields = [partners._fields["phone_e164"], partners._fields["peppol_eas"]]
        inputs = writer._recompute_inputs(partners, fields)
        # country_code has no column: it is followed to country_id.
        # company_registry is not among the fields passed, so it is an input.
        self.assertEqual(
            set(inputs), {"phone", "mobile", "country_id", "vat", "company_registry"}
        )
        self.assertIsNone(
            writer._recompute_inputs(
                partners, [partners._fields["commercial_partner_id"]]
            ),
            "a computed link to a record is never copied from another partner",
        )

    def test_every_partner_computed_when_inputs_unknown(self):
        writer_class = type(self.env["crm.legacy.partner.writer"])
        with patch.object(writer_class, "_recompute_inputs", return_value=None):
            _source, run = self.import_rows(
                "U1;Uno Tel;ES;;;633 845 271;;;;01/02/2024;10;U1",
                "U2;Dos Tel;ES;;;633 845 272;;;;01/02/2024;10;U2",
            )
        self.assertEqual(run.partners_created, 2)
        partners = self.env["res.partner"].search([("name", "like", " Tel")])
        self.assertEqual(
            sorted(partners.mapped("phone_e164")), ["+34633845271", "+34633845272"]
        )
