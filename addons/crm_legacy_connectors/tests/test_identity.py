import base64

from odoo.tests import tagged

from .common import LegacyCase

PARTNER_MAPPING = {
    "codigo": "partner_ref",
    "nombre": "partner_name",
    "pais": "partner_country",
    "nif": "partner_vat",
    "email": "partner_email",
    "telefono": "partner_phone",
}
HEADER = "codigo;nombre;pais;nif;email;telefono\n"


class IdentityCase(LegacyCase):
    def import_rows(self, *lines):
        content = (HEADER + "\n".join(lines) + "\n").encode()
        source = self.make_source(PARTNER_MAPPING, content=content)
        return source, self.run_source(source)


@tagged("post_install", "-at_install", "crm_legacy_connectors")
class TestIdentity(IdentityCase):
    def test_email_case_makes_one_contact(self):
        _source, run = self.import_rows(
            ";Juan López;ES;;Juan.Lopez@Ejemplo.ES;",
            ";Juan López;ES;;juan.lopez@ejemplo.es;",
        )
        partners = self.env["res.partner"].search(
            [("email_normalized", "=", "juan.lopez@ejemplo.es")]
        )
        self.assertEqual(len(partners), 1)
        self.assertEqual(run.partners_created, 1)

    def test_email_case_matches_existing_partner(self):
        existing = self.env["res.partner"].create(
            {"name": "Juan López", "email": "juan.lopez@ejemplo.es"}
        )
        _source, run = self.import_rows(";Juan;ES;;Juan.Lopez@Ejemplo.ES;")
        self.assertEqual(run.partners_created, 0)
        self.assertEqual(run.partners_matched, 1)
        link = self.env["crm.legacy.partner.link"].search(
            [("partner_id", "=", existing.id)]
        )
        self.assertFalse(link, "a row without key creates no link")

    def test_two_addresses_in_one_field_one_partner(self):
        rows = [
            ';Lucía Prieto;MX;;"lucia@ejemplo.mx;compras@ejemplo.mx";'
            for _i in range(5)
        ]
        _source, run = self.import_rows(*rows)
        self.assertEqual(run.rows_rejected, 0)
        self.assertEqual(run.partners_created, 1)
        partner = self.env["res.partner"].search(
            [("email_normalized", "=", "lucia@ejemplo.mx")]
        )
        self.assertEqual(partner.email, "lucia@ejemplo.mx, compras@ejemplo.mx")

    def test_second_address_matches_multi_address_partner(self):
        partner = self.env["res.partner"].create(
            {"name": "Lucía Prieto", "email": "lucia@ejemplo.mx;compras@ejemplo.mx"}
        )
        _source, run = self.import_rows(";Compras;MX;;Compras@Ejemplo.mx;")
        self.assertEqual(run.partners_created, 0)
        self.assertEqual(run.partners_matched, 1)
        self.assertEqual(
            self.env["res.partner"].search_count(
                [("email", "ilike", "compras@ejemplo.mx")]
            ),
            1,
            partner.name,
        )

    def test_external_key_wins_over_email(self):
        source, _run = self.import_rows("C1;Ana;ES;;ana@ejemplo.es;")
        link = self.env["crm.legacy.partner.link"].search(
            [("source_id", "=", source.id)]
        )
        other = self.env["res.partner"].create(
            {"name": "Otra Ana", "email": "ana.nueva@ejemplo.es"}
        )
        source.file = base64.b64encode(
            (HEADER + "C1;Ana;ES;;ana.nueva@ejemplo.es;\n").encode()
        )
        second = self.run_source(source)
        self.assertEqual(second.partners_matched, 1)
        self.assertEqual(second.partners_created, 0)
        self.assertNotEqual(link.partner_id, other)
        self.assertEqual(
            self.env["crm.legacy.partner.link"].search_count(
                [("source_id", "=", source.id)]
            ),
            1,
        )

    def test_phone_e164_matches(self):
        partner = self.env["res.partner"].create(
            {
                "name": "Rosa",
                "phone": "+52 81 8765 4321",
                "country_id": self.env.ref("base.mx").id,
            }
        )
        _source, run = self.import_rows(";Rosa M.;MX;;;81 8765 4321")
        self.assertEqual(run.partners_matched, 1)
        self.assertEqual(run.partners_created, 0)
        self.assertEqual(partner.phone_e164, "+528187654321")

    def test_two_candidates_go_to_review(self):
        self.env["res.partner"].create(
            [
                {"name": "Luis Mora", "email": "luis@ejemplo.co"},
                {"name": "Luis Mora", "email": "Luis@Ejemplo.co"},
            ]
        )
        _source, run = self.import_rows(";Luis;CO;;luis@ejemplo.co;")
        self.assertEqual(run.rows_to_review, 1)
        self.assertEqual(run.partners_matched, 0)
        self.assertEqual(len(run.review_ids.candidate_partner_ids), 2)
        self.assertEqual(
            self.env["res.partner"].search_count(
                [("email_normalized", "=", "luis@ejemplo.co")]
            ),
            2,
        )

    def test_review_applies_row_to_chosen_partner(self):
        first, _second = self.env["res.partner"].create(
            [
                {"name": "Luis Mora", "email": "luis@ejemplo.co"},
                {"name": "Luis Mora", "email": "luis@ejemplo.co"},
            ]
        )
        source, run = self.import_rows("K9;Luis;CO;;luis@ejemplo.co;")
        review = run.review_ids
        review.partner_id = first
        review.action_resolve()
        self.assertEqual(review.state, "done")
        link = self.env["crm.legacy.partner.link"].search(
            [("source_id", "=", source.id)]
        )
        self.assertEqual(link.partner_id, first)

    def test_unknown_country_rejected(self):
        _source, run = self.import_rows("C1;Ana;Narnia;;ana@ejemplo.es;")
        self.assertEqual(run.rows_rejected, 1)
        self.assertIn(
            "column pais: unknown country Narnia", run.rejected_row_ids.reason
        )

    def test_country_name_with_accent(self):
        _source, run = self.import_rows("C1;Ana;méxico;;ana@ejemplo.mx;")
        self.assertEqual(run.rows_rejected, 0)
        partner = self.env["res.partner"].search(
            [("email_normalized", "=", "ana@ejemplo.mx")]
        )
        self.assertEqual(partner.country_id, self.env.ref("base.mx"))


@tagged("post_install", "-at_install", "crm_legacy_connectors")
class TestTaxIds(IdentityCase):
    def test_chile_rut_stored_compact(self):
        _source, run = self.import_rows(
            "1;Uno;CL;12.345.613-0;;", "2;Dos;CL;12.345.605-K;;"
        )
        self.assertEqual(run.rows_rejected, 0)
        self.assertEqual(
            len(
                self.env["res.partner"].search(
                    [("vat", "in", ["123456130", "12345605K"])]
                )
            ),
            2,
        )

    def test_chile_rut_preview_in_local_format(self):
        source = self.make_source(
            PARTNER_MAPPING, content=(HEADER + "1;Uno;CL;123456130;;\n").encode()
        )
        self.assertEqual(source.preview()[0]["values"]["partner_vat"], "12.345.613-0")

    def test_uruguay_rut_with_22_prefix(self):
        _source, run = self.import_rows("1;Uno;UY;220000010011;;")
        self.assertEqual(run.rows_rejected, 0)
        self.assertEqual(
            self.env["res.partner"].search_count([("vat", "=", "220000010011")]), 1
        )

    def test_argentina_cuit_with_colon_rejected(self):
        _source, run = self.import_rows("1;Uno;AR;:20-12345678-6;;")
        self.assertEqual(run.rows_rejected, 1)
        self.assertIn("invalid tax id :20-12345678-6", run.rejected_row_ids.reason)
        self.assertEqual(run.rejected_row_ids.value, ":20-12345678-6")

    def test_argentina_cuit_matched_compact(self):
        partner = self.env["res.partner"].create(
            {"name": "Existente", "vat": "20123456786"}
        )
        _source, run = self.import_rows("1;Uno;AR;20-12345678-6;;")
        self.assertEqual(run.partners_matched, 1)
        self.assertEqual(run.partners_created, 0)
        self.assertEqual(partner.vat, "20123456786")

    def test_argentina_cuit_unknown_prefix_rejected(self):
        # 21 is not a CUIT prefix, although check digit 2 is right for it.
        _source, run = self.import_rows("1;Uno;AR;21-12345678-2;;")
        self.assertEqual(run.rows_rejected, 1)

    def test_brazil_cpf_valid(self):
        _source, run = self.import_rows("1;Uno;BR;123.456.789-09;;")
        self.assertEqual(run.partners_created, 1)
        self.assertEqual(
            self.env["res.partner"].search_count([("vat", "=", "12345678909")]), 1
        )

    def test_brazil_placeholder_cpf_goes_to_review(self):
        self.env["res.partner"].create({"name": "Existente", "vat": "11111111111"})
        _source, run = self.import_rows(
            "1;Uno;BR;111.111.111-11;;", "2;Dos;BR;111.111.111-11;;"
        )
        self.assertEqual(run.rows_to_review, 2)
        self.assertEqual(run.partners_matched, 0)
        self.assertEqual(run.partners_created, 0)
        self.assertIn("placeholder", run.review_ids[0].reason)

    def test_spain_nif_matches_prefixed_vat(self):
        partner = self.env["res.partner"].create(
            {"name": "Iñiguez", "vat": "ESB58378431"}
        )
        _source, run = self.import_rows("1;Iñiguez SL;ES;B-58378431;;")
        self.assertEqual(run.partners_matched, 1)
        self.assertTrue(partner)
