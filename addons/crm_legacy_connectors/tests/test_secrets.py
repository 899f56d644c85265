from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from ..tools import redaction
from .common import LegacyCase

PASSWORD = "Zq9-Secr3tWord"
LOGGER = "odoo.addons.crm_legacy_connectors"


@tagged("post_install", "-at_install", "crm_legacy_connectors")
class TestSecretsNotDisclosed(LegacyCase):
    """Failed connections name neither the DSN nor the password.

    Port 1 of the loopback interface refuses connections, so every source
    below fails without contacting any other host.
    """

    def run_failing(self, **values):
        """Run a source built from ``values`` and return the run and its log lines."""
        source = self.make_source({"email": "partner_email"}, **values)
        with self.assertLogs(LOGGER, level="DEBUG") as captured:
            run = self.run_source(source)
        self.assertEqual(run.state, "failed")
        return run, captured.output

    def assert_hidden(self, run, lines, *secrets):
        for secret in secrets:
            self.assertNotIn(secret, run.message)
            for line in lines:
                self.assertNotIn(secret, line)

    def test_refused_connection_hides_password(self):
        dsn = f"host=127.0.0.1 port=1 user=legacy password={PASSWORD} dbname=ventas"
        run, lines = self.run_failing(kind="sql", dsn=dsn, query="SELECT 1")
        self.assertIn("Connection refused", run.message)
        self.assert_hidden(run, lines, PASSWORD, dsn)

    def test_invalid_dsn_hides_password_piece(self):
        # libpq quotes the word it could not parse, here the password's
        # second word: 'missing "=" after "Secr3tWord"'.
        dsn = "host=127.0.0.1 port=1 password=Zq9 Secr3tWord dbname=ventas"
        run, lines = self.run_failing(kind="sql", dsn=dsn, query="SELECT 1")
        self.assertIn("invalid dsn", run.message)
        self.assert_hidden(run, lines, "Secr3tWord", dsn)

    def test_uri_dsn_hides_password(self):
        dsn = f"postgresql://legacy:{PASSWORD}@127.0.0.1:1/ventas?bogus=1"
        run, lines = self.run_failing(kind="sql", dsn=dsn, query="SELECT 1")
        self.assert_hidden(run, lines, PASSWORD, dsn)

    def test_url_with_credentials_rejected(self):
        for url in (
            f"http://legacy:{PASSWORD}@127.0.0.1:1",
            "https://legacy@erp.ejemplo.es",
        ):
            with self.assertRaises(ValidationError) as caught:
                self.make_source({"email": "partner_email"}, kind="odoo", url=url)
            self.assertIn("contains a login or password", str(caught.exception))
            self.assertNotIn(PASSWORD, str(caught.exception))

    def test_odoo_refused_hides_api_key(self):
        run, lines = self.run_failing(
            kind="odoo",
            url="http://127.0.0.1:1",
            database="ventas",
            login="legacy",
            password="Api-Key-4471",
            model="res.partner",
        )
        self.assertIn("Connection refused", run.message)
        self.assert_hidden(run, lines, "Api-Key-4471")

    def test_preview_error_hides_password(self):
        dsn = "host=127.0.0.1 port=1 password=Zq9 Secr3tWord dbname=ventas"
        source = self.make_source(
            {"email": "partner_email"}, kind="sql", dsn=dsn, query="SELECT 1"
        )
        with self.assertRaises(UserError) as caught:
            source.preview()
        message = str(caught.exception)
        self.assertIn("invalid dsn", message)
        self.assertNotIn("Secr3tWord", message)

    def test_redact_masks_url_password(self):
        # Sources saved before URLs with credentials were rejected.
        url = f"http://legacy:{PASSWORD}@/"
        secrets = redaction.secret_values(url=url, password="Api-Key-4471")
        text = redaction.redact(f"invalid URL {url!r}, key Api-Key-4471", secrets)
        self.assertEqual(text, "invalid URL 'http://legacy:********@/', key ********")

    def test_redact_masks_quoted_password(self):
        secrets = redaction.secret_values(
            dsn="host=db password='it\\'s a Long Secret' dbname=x"
        )
        text = redaction.redact('missing "=" after "Long" near Secret', secrets)
        self.assertEqual(text, 'missing "=" after "********" near ********')
