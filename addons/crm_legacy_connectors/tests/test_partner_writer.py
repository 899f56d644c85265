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
