"""Fixtures for the XML-RPC tests, run by tools/run_tests.py.

The runner starts an Odoo server on a loopback port over a database where
every addon of the suite is installed with demo data, and passes its address
in ODOO_URL, ODOO_DB, ODOO_LOGIN and ODOO_PASSWORD. Tests that need no server
(file checks) run without these variables.
"""

import os
import xmlrpc.client

import pytest


class OdooClient:
    """Thin XML-RPC client over Odoo's external API, as an integrator uses it."""

    def __init__(self, url, database, login, password):
        self.url = url
        self.database = database
        self.login = login
        self.password = password
        common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common", allow_none=True)
        self.uid = common.authenticate(database, login, password, {})
        if not self.uid:
            raise RuntimeError(f"Login {login!r} was rejected by {url} ({database}).")
        self.models = xmlrpc.client.ServerProxy(
            f"{url}/xmlrpc/2/object", allow_none=True
        )

    def execute(self, model, method, *args, **kwargs):
        return self.models.execute_kw(
            self.database, self.uid, self.password, model, method, list(args), kwargs
        )

    def ref(self, xmlid):
        module, name = xmlid.split(".")
        rows = self.execute(
            "ir.model.data",
            "search_read",
            [("module", "=", module), ("name", "=", name)],
            fields=["res_id"],
        )
        if not rows:
            raise KeyError(xmlid)
        return rows[0]["res_id"]

    def as_user(self, login, password):
        return OdooClient(self.url, self.database, login, password)


@pytest.fixture(scope="session")
def odoo():
    url = os.environ.get("ODOO_URL")
    if not url:
        pytest.fail(
            "ODOO_URL is not set: run the XML-RPC tests through tools/run_tests.py, "
            "which starts the Odoo server they need."
        )
    return OdooClient(
        url,
        os.environ["ODOO_DB"],
        os.environ.get("ODOO_LOGIN", "admin"),
        os.environ.get("ODOO_PASSWORD", "admin"),
    )


# Company settings of crm_campaign_automation that let a step run at any hour
# on any day, with no contact-pressure budget.
ALWAYS_OPEN = {
    "campaign_pressure_limit": 0,
    "campaign_hour_from": 0.0,
    "campaign_hour_to": 24.0,
    **{f"campaign_weekday_{day}": True for day in range(7)},
}


@pytest.fixture
def open_company(odoo):
    """Lift quiet hours and the pressure budget of the admin's company.

    Campaign steps then run whatever the time of day the tests run at. The
    settings are restored after the test.
    """
    [user] = odoo.execute("res.users", "read", [odoo.uid], ["company_id"])
    company_id = user["company_id"][0]
    [saved] = odoo.execute("res.company", "read", [company_id], list(ALWAYS_OPEN))
    saved.pop("id")
    odoo.execute("res.company", "write", [company_id], ALWAYS_OPEN)
    yield company_id
    odoo.execute("res.company", "write", [company_id], saved)
