"""Malformed arguments to the public methods of the suite over XML-RPC.

Each call raises a UserError (XML-RPC fault code 2) that names the value at
fault, not a server error. A legacy import of a broken file is the exception:
``action_run`` returns a failed run whose message names the fault. In every
case the rows the call would have written are unchanged, so the row counts
before and after are equal.
"""

import base64
import uuid
import xmlrpc.client

import pytest

# Fault code of a UserError in Odoo's XML-RPC (odoo/addons/base/controllers/rpc.py).
USER_ERROR = 2


@pytest.fixture
def partner(odoo):
    suffix = uuid.uuid4().hex[:8]
    return odoo.execute(
        "res.partner",
        "create",
        {"name": f"Entrada {suffix}", "email": f"entrada.{suffix}@ejemplo.es"},
    )


def count(odoo, model, domain):
    return odoo.execute(model, "search_count", domain)


def assert_user_error(call, *fragments):
    with pytest.raises(xmlrpc.client.Fault) as caught:
        call()
    assert caught.value.faultCode == USER_ERROR, caught.value.faultString
    for fragment in fragments:
        assert fragment in caught.value.faultString


# (keyword arguments of consent_record, fragments expected in the error)
CONSENT_CASES = {
    "unknown channel": ({"channel_code": "telex"}, ["'telex'", "email"]),
    "channel of wrong type": ({"channel_code": 42}, ["42"]),
    "state not in list": ({"state": "maybe"}, ["'maybe'", "granted"]),
    "state of wrong type": ({"state": ["granted"]}, ["['granted']"]),
    "unknown purpose": ({"purpose_code": "lottery"}, ["'lottery'", "marketing"]),
    "day month year date": ({"date": "31/02/2024"}, ["'31/02/2024'", "2024-05-31"]),
    "impossible date": ({"date": "2024-02-31"}, ["'2024-02-31'"]),
    "date of wrong type": ({"date": 12345}, ["12345"]),
    "word as expiry date": ({"expiry_date": "mañana"}, ["'mañana'", "2024-05-31"]),
    "unknown legal basis": ({"legal_basis": "whim"}, ["'whim'"]),
    "unknown source": ({"source": "rumour"}, ["'rumour'"]),
}


@pytest.mark.parametrize("case", sorted(CONSENT_CASES))
def test_consent_record_bad_argument(odoo, partner, case):
    overrides, fragments = CONSENT_CASES[case]
    arguments = {"channel_code": "email", "state": "granted", **overrides}
    scope = [("partner_id", "=", partner)]
    events_before = count(odoo, "crm.consent.event", scope)
    states_before = count(odoo, "crm.consent", scope)

    assert_user_error(
        lambda: odoo.execute("res.partner", "consent_record", [partner], **arguments),
        *fragments,
    )

    assert count(odoo, "crm.consent.event", scope) == events_before
    assert count(odoo, "crm.consent", scope) == states_before


def legacy_source(odoo, kind, content, columns):
    return odoo.execute(
        "crm.legacy.source",
        "create",
        {
            "name": f"Fichero roto {uuid.uuid4().hex[:8]}",
            "kind": kind,
            "file": base64.b64encode(content).decode(),
            "file_name": f"clientes.{kind}",
            "encoding": "utf-8",
            "mapping_ids": [
                (0, 0, {"column": column, "target": target})
                for column, target in columns.items()
            ],
        },
    )


# (kind, file content, mapping, fragment expected in the run's message)
LEGACY_CASES = {
    "xlsx that is no workbook": (
        "xlsx",
        b"email\nana@ejemplo.es\n",
        {"email": "partner_email"},
        "zip",
    ),
    "mapped column missing": (
        "csv",
        b"correo;nombre\nana@ejemplo.es;Ana\n",
        {"email": "partner_email"},
        "email",
    ),
    "utf-8 source in windows-1252": (
        "csv",
        "email;nombre\nana@ejemplo.es;Iñigo\n".encode("cp1252"),
        {"email": "partner_email", "nombre": "partner_name"},
        "utf-8",
    ),
}


@pytest.mark.parametrize("case", sorted(LEGACY_CASES))
def test_legacy_run_bad_file(odoo, case):
    kind, content, columns, fragment = LEGACY_CASES[case]
    source_id = legacy_source(odoo, kind, content, columns)
    partners_before = count(odoo, "res.partner", [("email", "=", "ana@ejemplo.es")])
    links_before = count(odoo, "crm.legacy.partner.link", [])

    run_id = odoo.execute("crm.legacy.source", "action_run", [source_id])

    [run] = odoo.execute(
        "crm.legacy.run",
        "read",
        [run_id],
        ["state", "message", "partners_created", "transactions_created"],
    )
    assert run["state"] == "failed"
    assert run["message"].startswith("The source could not be read: ")
    assert fragment in run["message"]
    assert run["partners_created"] == 0
    assert run["transactions_created"] == 0
    emails = [("email", "=", "ana@ejemplo.es")]
    assert count(odoo, "res.partner", emails) == partners_before
    assert count(odoo, "crm.legacy.partner.link", []) == links_before


def test_campaign_launch_without_steps(odoo, partner):
    name = f"Sin pasos {uuid.uuid4().hex[:8]}"
    campaign_id = odoo.execute(
        "crm.campaign",
        "create",
        {"name": name, "domain": repr([("id", "=", partner)])},
    )
    scope = [("campaign_id", "=", campaign_id)]

    assert_user_error(
        lambda: odoo.execute("crm.campaign", "action_launch", [campaign_id]),
        name,
        "no step",
    )

    [campaign] = odoo.execute("crm.campaign", "read", [campaign_id], ["state"])
    assert campaign["state"] == "draft"
    assert count(odoo, "crm.campaign.participant", scope) == 0
    assert count(odoo, "crm.campaign.trace", scope) == 0
