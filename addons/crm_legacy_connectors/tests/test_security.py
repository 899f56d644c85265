from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import LegacyCase


@tagged("post_install", "-at_install", "crm_legacy_connectors")
class TestSecurity(LegacyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(
            cls.env, login="legacy_user", groups="crm_consent.group_marketing_user"
        )
        cls.source = cls.make_source(
            {"email": "partner_email"},
            content=b"email\nalba@ejemplo.es\n",
            dsn="dbname=secret_db",
            password="s3cret",
        )

    def test_user_cannot_read_secrets(self):
        source = self.source.with_user(self.user)
        self.assertEqual(source.name, "Test source")
        with self.assertRaises(AccessError):
            source.read(["password"])
        with self.assertRaises(AccessError):
            source.read(["dsn"])

    def test_user_cannot_edit_source(self):
        with self.assertRaises(AccessError):
            self.source.with_user(self.user).write({"name": "Otro"})

    def test_user_runs_source(self):
        run_id = self.source.with_user(self.user).action_run()
        run = self.env["crm.legacy.run"].with_user(self.user).browse(run_id)
        self.assertEqual(run.state, "done")
        self.assertEqual(run.partners_created, 1)
        self.assertEqual(run.user_id, self.user)
