import base64

from odoo.tests import TransactionCase


class LegacyCase(TransactionCase):
    """Fixtures: a company in Spain and helpers that build sources."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        # Runs without a language in the context are written in the running
        # user's or the company's language, so tests of English messages pin
        # both, whatever languages the database was created with.
        cls.env.user.lang = "en_US"
        cls.env.company.partner_id.lang = "en_US"
        cls.env.company.country_id = cls.env.ref("base.es")
        cls.eur = cls.env.ref("base.EUR")
        cls.env.ref("base.MXN").active = True

    @classmethod
    def make_source(cls, mapping, kind="csv", content=None, **values):
        """Create a source with ``mapping`` ({column: target}).

        ``content`` is the file's bytes for csv and xlsx sources.
        """
        vals = {
            "name": values.pop("name", "Test source"),
            "kind": kind,
            "mapping_ids": [
                (0, 0, {"column": column, "target": target})
                for column, target in mapping.items()
            ],
            **values,
        }
        if content is not None:
            vals["file"] = base64.b64encode(content)
            vals["file_name"] = f"test.{kind}"
        return cls.env["crm.legacy.source"].create(vals)

    def run_source(self, source):
        return self.env["crm.legacy.run"].browse(source.action_run())
