from odoo.exceptions import UserError
from odoo.tests import new_test_user, tagged

from .common import LegacyCase

GOOD_LINE = "cliente{n}@ejemplo.es\n"
# A Windows-1252 "ñ" on line 451 of a file read as UTF-8.
BAD_FILE = (
    "email\n"
    + "".join(GOOD_LINE.format(n=n) for n in range(449))
    + "iñigo@ejemplo.es\n"
).encode("cp1252")
SPANISH_MESSAGE = (
    "No se pudo leer el origen: la línea 451 no es texto UTF-8 (byte 0xF1)."
)


@tagged("post_install", "-at_install", "crm_legacy_connectors")
class TestRunLanguage(LegacyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for lang in ("es_ES", "es_419"):
            cls.env["res.lang"]._activate_lang(lang)
        cls.env["ir.module.module"]._load_module_terms(
            ["crm_legacy_connectors"], ["es_ES", "es_419"], overwrite=True
        )
        cls.user = new_test_user(
            cls.env,
            login="legacy_language_user",
            lang="es_ES",
            groups="base.group_user,crm_consent.group_marketing_user",
        )

    def make_bad_source(self, **values):
        return self.make_source(
            {"email": "partner_email"}, content=BAD_FILE, encoding="utf-8", **values
        )

    def test_background_run_in_requesting_user_language(self):
        self.env.company.partner_id.lang = "en_US"
        source = self.make_bad_source()
        source.with_user(self.user).with_context(lang=None).action_run_background()
        self.assertEqual(source.run_requested_by_id, self.user)

        # The scheduled action runs as OdooBot, without a language.
        self.env["crm.legacy.source"].with_context(lang=None)._cron_run_scheduled()

        run = source.last_run_id
        self.assertEqual(run.state, "failed")
        self.assertEqual(run.user_id, self.user)
        self.assertTrue(run.message.startswith(SPANISH_MESSAGE), run.message)
        self.assertFalse(source.is_run_requested)
        self.assertFalse(source.run_requested_by_id)

    def test_background_rejection_reason_in_requesting_user_language(self):
        self.user.lang = "es_419"
        source = self.make_source(
            {"id": "partner_ref", "fecha": "txn_date", "importe": "txn_amount"},
            content=b"id;fecha;importe\n1;12/31/2024;1\n",
        )
        source.with_user(self.user).action_run_background()
        self.env["crm.legacy.source"].with_context(lang=None)._cron_run_scheduled()
        self.assertEqual(
            source.last_run_id.rejected_row_ids.reason,
            "Fila 1, columna fecha: fecha no válida 12/31/2024 "
            "(formato esperado %d/%m/%Y).",
        )

    def test_scheduled_run_in_company_language(self):
        self.env.company.partner_id.lang = "es_ES"
        source = self.make_bad_source(is_scheduled=True)
        self.env["crm.legacy.source"].with_context(lang=None)._cron_run_scheduled()
        run = source.last_run_id
        self.assertEqual(run.state, "failed")
        self.assertTrue(run.message.startswith(SPANISH_MESSAGE), run.message)

    def test_run_without_language_in_context_uses_user_language(self):
        """XML-RPC calls send no language; the stored message is in the
        user's language all the same."""
        source = self.make_bad_source()
        run_id = source.with_user(self.user).with_context(lang=None).action_run()
        run = self.env["crm.legacy.run"].browse(run_id)
        self.assertEqual(run.user_id, self.user)
        self.assertTrue(run.message.startswith(SPANISH_MESSAGE), run.message)

    def test_run_with_language_in_context_keeps_it(self):
        source = self.make_bad_source()
        run_id = source.with_user(self.user).with_context(lang="en_US").action_run()
        message = self.env["crm.legacy.run"].browse(run_id).message
        self.assertIn("line 451 is not UTF-8 text (byte 0xF1)", message)


@tagged("post_install", "-at_install", "crm_legacy_connectors")
class TestFieldValues(LegacyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("es_ES")
        cls.env["ir.module.module"]._load_module_terms(
            ["crm_legacy_connectors"], ["es_ES"], overwrite=True
        )

    def test_wrong_selection_names_field_value_and_choices(self):
        with self.assertRaises(UserError) as caught:
            self.make_source({"email": "partner_email"}, kind="pdf")
        message = str(caught.exception)
        self.assertIn("'pdf'", message)
        self.assertIn("Kind", message)
        self.assertIn("csv (CSV File)", message)

    def test_wrong_integer_names_field_and_value(self):
        source = self.make_source({"email": "partner_email"})
        with self.assertRaises(UserError) as caught:
            source.with_context(lang="es_ES").write({"batch_size": "mucho"})
        self.assertIn("'mucho'", str(caught.exception))
        self.assertIn("número entero", str(caught.exception))
        self.assertEqual(source.batch_size, 1000)

    def test_wrong_mapping_target_names_value(self):
        source = self.make_source({"email": "partner_email"})
        with self.assertRaises(UserError) as caught:
            source.mapping_ids.write({"target": "shoe_size"})
        self.assertIn("'shoe_size'", str(caught.exception))
        self.assertIn("partner_email", str(caught.exception))

    def test_integer_as_text_accepted(self):
        source = self.make_source({"email": "partner_email"}, batch_size="500")
        self.assertEqual(source.batch_size, 500)

    def test_file_not_base64_in_spanish_without_english(self):
        with self.assertRaises(UserError) as caught:
            self.env["crm.legacy.source"].with_context(lang="es_ES").create(
                {"name": "Origen roto", "file": "esto no es base64 ¡!"}
            )
        message = str(caught.exception)
        self.assertIn("Origen roto", message)
        self.assertIn("base64", message)
        self.assertNotIn("Only base64 data is allowed", message)
        self.assertNotIn("is not", message)
