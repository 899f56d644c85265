"""The crm_consent contract as an integrator reaches it over XML-RPC."""

import uuid
import xmlrpc.client

import pytest

CHANNEL_CODES = {"email", "phone", "sms", "postal", "whatsapp"}


@pytest.fixture
def partner(odoo):
    """A fresh partner with an e-mail address, a mobile number and a street."""
    suffix = uuid.uuid4().hex[:8]
    partner_id = odoo.execute(
        "res.partner",
        "create",
        {
            "name": f"Cliente RPC {suffix}",
            "email": f"rpc.{suffix}@ejemplo.es",
            "mobile": "+34 600 000 000",
            "street": "Calle del Prado 1",
            "country_id": odoo.ref("base.es"),
        },
    )
    return partner_id


def test_channels_ship_as_data(odoo):
    for code in CHANNEL_CODES:
        channel_id = odoo.ref(f"crm_consent.channel_{code}")
        [channel] = odoo.execute("crm.consent.channel", "read", [channel_id], ["code"])
        assert channel["code"] == code


def test_marketing_purpose_exists(odoo):
    purpose_id = odoo.ref("crm_consent.purpose_marketing")
    [purpose] = odoo.execute("crm.consent.purpose", "read", [purpose_id], ["code"])
    assert purpose["code"] == "marketing"


def test_record_then_get(odoo, partner):
    result = odoo.execute(
        "res.partner",
        "consent_record",
        [partner],
        "email",
        "granted",
        "marketing",
        "api",
        "Formulario web de prueba",
    )
    assert result is True

    states = odoo.execute("res.partner", "consent_get", [partner], "email")
    assert states == [{"partner_id": partner, "state": "granted"}]


def test_never_asked_is_false(odoo, partner):
    states = odoo.execute("res.partner", "consent_get", [partner], "phone", "marketing")
    assert states == [{"partner_id": partner, "state": False}]


def test_keyword_arguments(odoo, partner):
    odoo.execute(
        "res.partner",
        "consent_record",
        [partner],
        "sms",
        "refused",
        purpose_code="marketing",
        source="import",
        proof="Lista de bajas 2024",
    )
    states = odoo.execute(
        "res.partner", "consent_get", [partner], "sms", purpose_code="marketing"
    )
    assert states[0]["state"] == "refused"


def test_ledger_fields_after_change(odoo, partner):
    odoo.execute("res.partner", "consent_record", [partner], "postal", "granted")
    odoo.execute(
        "res.partner",
        "consent_record",
        [partner],
        "postal",
        "refused",
        "marketing",
        "api",
        "Carta devuelta con «no deseo publicidad»",
    )

    events = odoo.execute(
        "crm.consent.event",
        "search_read",
        [("partner_id", "=", partner)],
        [
            "partner_id",
            "channel_id",
            "purpose_id",
            "previous_state",
            "state",
            "source",
            "proof",
            "user_id",
            "create_date",
        ],
        order="id",
    )
    assert [event["state"] for event in events] == ["granted", "refused"]
    assert events[1]["previous_state"] == "granted"
    assert events[1]["proof"] == "Carta devuelta con «no deseo publicidad»"
    assert events[1]["user_id"][0] == odoo.uid
    assert events[1]["channel_id"][0] == odoo.ref("crm_consent.channel_postal")


def test_current_state_fields(odoo, partner):
    odoo.execute("res.partner", "consent_record", [partner], "whatsapp", "granted")
    [consent] = odoo.execute(
        "crm.consent",
        "search_read",
        [("partner_id", "=", partner)],
        [
            "partner_id",
            "channel_id",
            "purpose_id",
            "state",
            "legal_basis",
            "source",
            "date",
            "expiry_date",
        ],
    )
    assert consent["state"] == "granted"
    assert consent["legal_basis"] == "consent"
    assert consent["source"] == "api"
    assert consent["expiry_date"] is False


def test_event_write_is_refused(odoo, partner):
    odoo.execute("res.partner", "consent_record", [partner], "email", "granted")
    event_ids = odoo.execute(
        "crm.consent.event", "search", [("partner_id", "=", partner)]
    )
    with pytest.raises(xmlrpc.client.Fault, match="append-only"):
        odoo.execute("crm.consent.event", "write", event_ids, {"state": "refused"})
    # No group may delete events, administrators included, so the access
    # check rejects the call before the ledger's own guard.
    with pytest.raises(xmlrpc.client.Fault, match="not allowed to delete"):
        odoo.execute("crm.consent.event", "unlink", event_ids)

    events = odoo.execute("crm.consent.event", "read", event_ids, ["state"])
    assert [event["state"] for event in events] == ["granted"]


def test_unknown_channel_names_code(odoo, partner):
    with pytest.raises(xmlrpc.client.Fault, match="telex"):
        odoo.execute("res.partner", "consent_record", [partner], "telex", "granted")


def test_email_grant_does_not_allow_call(odoo, partner):
    odoo.execute("res.partner", "consent_record", [partner], "email", "granted")
    assert odoo.execute(
        "res.partner", "consent_filter_contactable", [partner], "email"
    ) == [partner]
    assert (
        odoo.execute("res.partner", "consent_filter_contactable", [partner], "phone")
        == []
    )


def test_blacklist_create_records_refusal(odoo, partner):
    odoo.execute("res.partner", "consent_record", [partner], "email", "granted")
    [email] = odoo.execute("res.partner", "read", [partner], ["email"])
    odoo.execute("mail.blacklist", "create", {"email": email["email"].upper()})

    states = odoo.execute("res.partner", "consent_get", [partner], "email")
    assert states[0]["state"] == "refused"
    sources = odoo.execute(
        "crm.consent.event",
        "search_read",
        [("partner_id", "=", partner), ("state", "=", "refused")],
        ["source"],
    )
    assert {row["source"] for row in sources} == {"blacklist"}


def test_marketing_filter_in_search(odoo, partner):
    odoo.execute("res.partner", "consent_record", [partner], "email", "granted")
    found = odoo.execute(
        "res.partner",
        "search",
        [("id", "=", partner), ("may_email_marketing", "=", True)],
    )
    assert found == [partner]
