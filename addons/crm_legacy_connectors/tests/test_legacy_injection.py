"""Code in the fields a manager types into a legacy source.

The remote domain of an Odoo source is parsed with ``ast.literal_eval``, so
it can hold literals only, and a mapping target is a fixed selection, not an
expression.
"""

import os
import tempfile

from odoo.exceptions import UserError, ValidationError
from odoo.tests import new_test_user, tagged

from .common import LegacyCase


@tagged("post_install", "-at_install", "crm_legacy_connectors")
class TestLegacyInjection(LegacyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env,
            login="legacy_injection_manager",
            groups="base.group_user,crm_consent.group_marketing_manager",
        )
        cls.marker = os.path.join(tempfile.gettempdir(), "crm_legacy_marker")

    def test_remote_domain_code_rejected(self):
        source = self.make_source({"email": "partner_email"}, kind="odoo")
        code_domains = [
            f"[('id', '=', __import__('os').system('touch {self.marker}'))]",
            "[('id', '=', (lambda: 1)())]",
            "[('name', '=', open('/etc/passwd').read())]",
        ]
        for domain in code_domains:
            with self.subTest(domain=domain), self.assertRaises(ValidationError):
                source.with_user(self.manager).write({"domain": domain})
        self.assertFalse(os.path.exists(self.marker))
        self.assertEqual(source.domain, "[]")

    def test_mapping_target_not_expression(self):
        source = self.make_source({"email": "partner_email"})
        with self.assertRaises(UserError) as caught:
            source.with_user(self.manager).write(
                {
                    "mapping_ids": [
                        (0, 0, {"column": "email", "target": "__import__('os')"})
                    ]
                }
            )
        self.assertIn("\"__import__('os')\"", str(caught.exception))
