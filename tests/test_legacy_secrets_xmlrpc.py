"""Connection secrets of legacy sources over XML-RPC.

The DSN and the password of a ``crm.legacy.source`` belong to marketing
managers. A marketing user may read and run the source, but no read method
reached over XML-RPC returns either value, and no search lets the user probe
them.
"""

import uuid
import xmlrpc.client

import pytest

SECRET_FIELDS = ["dsn", "password"]

# Fault code of an AccessError in Odoo's XML-RPC (odoo/addons/base/controllers/rpc.py).
ACCESS_ERROR = 4


def create_user(odoo, login, group_xmlids):
    password = uuid.uuid4().hex
    odoo.execute(
        "res.users",
        "create",
        {
            "name": f"Usuario {login}",
            "login": login,
            "password": password,
            "groups_id": [(6, 0, [odoo.ref(xmlid) for xmlid in group_xmlids])],
        },
    )
    return odoo.as_user(login, password)


@pytest.fixture(scope="module")
def users(odoo):
    suffix = uuid.uuid4().hex[:8]
    return {
        "manager": create_user(
            odoo,
            f"secret-manager-{suffix}",
            ["base.group_user", "crm_consent.group_marketing_manager"],
        ),
        "marketing": create_user(
            odoo,
            f"secret-user-{suffix}",
            [
                "base.group_user",
                "base.group_allow_export",
                "crm_consent.group_marketing_user",
            ],
        ),
    }


@pytest.fixture
def source(users):
    """A source with a DSN and a password, created by the manager."""
    secret = f"Pw-{uuid.uuid4().hex}"
    dsn = f"host=127.0.0.1 port=1 user=legacy password={secret} dbname=ventas"
    source_id = users["manager"].execute(
        "crm.legacy.source",
        "create",
        {
            "name": f"Secret source {secret[-6:]}",
            "kind": "sql",
            "dsn": dsn,
            "password": secret,
            "query": "SELECT 1",
        },
    )
    return {"id": source_id, "secret": secret, "dsn": dsn}


def assert_no_secret(result, source):
    text = repr(result)
    assert source["secret"] not in text
    assert source["dsn"] not in text


def test_manager_reads_and_writes_secrets(users, source):
    manager = users["manager"]
    [values] = manager.execute(
        "crm.legacy.source", "read", [source["id"]], SECRET_FIELDS
    )
    assert values["password"] == source["secret"]
    assert values["dsn"] == source["dsn"]

    manager.execute(
        "crm.legacy.source", "write", [source["id"]], {"password": "Nueva-Clave-9"}
    )
    [values] = manager.execute(
        "crm.legacy.source", "read", [source["id"]], ["password"]
    )
    assert values["password"] == "Nueva-Clave-9"


def test_user_read_hides_secrets(users, source):
    marketing = users["marketing"]
    [values] = marketing.execute("crm.legacy.source", "read", [source["id"]])
    assert values["name"].startswith("Secret source")
    assert "password" not in values
    assert "dsn" not in values
    assert_no_secret(values, source)


@pytest.mark.parametrize("field", SECRET_FIELDS)
def test_user_read_secret_field_rejected(users, source, field):
    with pytest.raises(xmlrpc.client.Fault) as caught:
        users["marketing"].execute("crm.legacy.source", "read", [source["id"]], [field])
    assert caught.value.faultCode == ACCESS_ERROR
    assert f'access the fields "{field}"' in caught.value.faultString


def test_user_search_read_hides_secrets(users, source):
    rows = users["marketing"].execute(
        "crm.legacy.source", "search_read", [("id", "=", source["id"])]
    )
    assert [row["id"] for row in rows] == [source["id"]]
    assert_no_secret(rows, source)


def test_user_fields_get_then_read(users, source):
    marketing = users["marketing"]
    fields = marketing.execute("crm.legacy.source", "fields_get", [], ["type"])
    assert "password" not in fields
    assert "dsn" not in fields
    [values] = marketing.execute(
        "crm.legacy.source", "read", [source["id"]], list(fields)
    )
    assert_no_secret(values, source)


def assert_access_error(call, field):
    """Assert that ``call()`` raises Odoo's AccessError naming ``field``."""
    with pytest.raises(xmlrpc.client.Fault) as caught:
        call()
    assert caught.value.faultCode == ACCESS_ERROR
    assert f'"{field}"' in caught.value.faultString


@pytest.mark.parametrize("field", SECRET_FIELDS)
def test_user_export_secret_rejected(users, source, field):
    """The marketing user may export (base.group_allow_export), but not the
    secrets, neither directly nor through a run's source."""
    marketing = users["marketing"]
    assert_access_error(
        lambda: marketing.execute(
            "crm.legacy.source", "export_data", [source["id"]], ["name", field]
        ),
        field,
    )
    run_id = marketing.execute("crm.legacy.source", "action_run", [source["id"]])
    assert_access_error(
        lambda: marketing.execute(
            "crm.legacy.run", "export_data", [run_id], [f"source_id/{field}"]
        ),
        field,
    )


@pytest.mark.parametrize("field", SECRET_FIELDS)
def test_user_read_group_secret_rejected(users, source, field):
    marketing = users["marketing"]
    for method in ("read_group", "web_read_group"):
        assert_access_error(
            lambda method=method: marketing.execute(
                "crm.legacy.source",
                method,
                [("id", "=", source["id"])],
                [field],
                [field],
            ),
            field,
        )


@pytest.mark.parametrize("field", SECRET_FIELDS)
def test_user_cannot_search_on_secret(users, source, field):
    """A domain or an order on a secret field would let a user guess it one
    character at a time, so the server rejects both."""
    marketing = users["marketing"]
    value = source["secret"] if field == "password" else source["dsn"]
    assert_access_error(
        lambda: marketing.execute(
            "crm.legacy.source", "search_count", [(field, "=", value)]
        ),
        field,
    )
    assert_access_error(
        lambda: marketing.execute(
            "crm.legacy.source", "search_count", [(field, "=like", value[:4] + "%")]
        ),
        field,
    )
    assert_access_error(
        lambda: marketing.execute(
            "crm.legacy.run", "search_count", [(f"source_id.{field}", "=", value)]
        ),
        field,
    )
    assert_access_error(
        lambda: marketing.execute(
            "crm.legacy.source",
            "search",
            [("id", "=", source["id"])],
            order=f"{field} desc",
        ),
        field,
    )


def test_user_run_message_hides_password(users, source):
    marketing = users["marketing"]
    run_id = marketing.execute("crm.legacy.source", "action_run", [source["id"]])
    [run] = marketing.execute("crm.legacy.run", "read", [run_id], ["state", "message"])
    assert run["state"] == "failed"
    assert "Connection refused" in run["message"]
    assert_no_secret(run, source)
