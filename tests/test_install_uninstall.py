"""crm_consent installs on an empty database without demo data, and uninstalls cleanly.

These tests start their own Odoo processes on a database of their own, so
they need the same PostgreSQL as the test command but not its server.
"""

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

ADDONS_PATH = os.environ.get(
    "ODOO_ADDONS_PATH", str(Path(__file__).resolve().parent.parent / "addons")
)

CHECK_AFTER_UNINSTALL = textwrap.dedent(
    """
    import sys
    import odoo
    from odoo.tools import config

    config.parse_config(["-d", sys.argv[1], "--addons-path", sys.argv[2]])
    registry = odoo.modules.registry.Registry(sys.argv[1])
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        module = env["ir.module.module"].search([("name", "=", "crm_consent")])
        if sys.argv[3] == "uninstall":
            module.button_immediate_uninstall()
        else:
            partner = env["res.partner"].create({"name": "Tras desinstalar", "phone": "600"})
            cr.execute("SELECT to_regclass('crm_consent_event')")
            table = cr.fetchone()[0]
            has_field = "phone_e164" in env["res.partner"]._fields
            print(module.state, table, has_field, partner.id > 0)
    """
)


def run_odoo(*args):
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture
def empty_database():
    name = f"crm_consent_bare_{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["dropdb", "--if-exists", name], check=False)


def test_install_without_demo_then_uninstall(empty_database):
    install = run_odoo(
        "-m",
        "odoo",
        "-d",
        empty_database,
        f"--addons-path={ADDONS_PATH}",
        "-i",
        "crm_consent",
        "--without-demo=all",
        "--stop-after-init",
        "--http-interface=127.0.0.1",
        "--http-port=0",
        "--log-level=warn",
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]

    uninstall = run_odoo(
        "-c", CHECK_AFTER_UNINSTALL, empty_database, ADDONS_PATH, "uninstall"
    )
    assert uninstall.returncode == 0, uninstall.stderr[-3000:]

    check = run_odoo("-c", CHECK_AFTER_UNINSTALL, empty_database, ADDONS_PATH, "check")
    assert check.returncode == 0, check.stderr[-3000:]
    state, table, has_field, created = check.stdout.split()[-4:]
    assert state == "uninstalled"
    assert table == "None", "the ledger table should be dropped"
    assert has_field == "False", "res.partner should lose the addon's fields"
    assert created == "True"
