"""The customer side of crm_consent over HTTP and XML-RPC, as a mail client sees it."""

import base64
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest


@pytest.fixture
def customer(odoo):
    suffix = uuid.uuid4().hex[:8]
    partner_id = odoo.execute(
        "res.partner",
        "create",
        {"name": f"Cliente Web {suffix}", "email": f"web.{suffix}@ejemplo.es"},
    )
    odoo.execute("res.partner", "consent_record", [partner_id], "email", "granted")
    return partner_id


def http(url, data=None, headers=None):
    """Return (status, body, headers) of a GET, or a POST when ``data`` is given."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers=headers or {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.read().decode(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), error.headers


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def local(odoo, url):
    """Point an absolute URL built by Odoo at the test server."""
    return odoo.url + "/" + url.split("/", 3)[3]


def test_preference_url_opens_page(odoo, customer):
    url = odoo.execute("res.partner", "consent_preference_url", [customer])

    assert f"/consent/preferences/{customer}/" in url
    status, body, _headers = http(local(odoo, url))
    assert status == 200
    assert "o_consent_row_email_marketing" in body


def test_random_token_gets_neutral_page(odoo, customer):
    status, body, _headers = http(f"{odoo.url}/consent/preferences/{customer}/123.abc")
    assert status == 404
    assert "Cliente Web" not in body


def test_one_click_unsubscribe_over_http(odoo, customer):
    """Case C5: the POST returns 200 without redirect or session and refuses."""
    url = odoo.execute(
        "res.partner", "consent_unsubscribe_url", [customer], "email", "marketing"
    )

    status, body, response_headers = http(
        local(odoo, url), data={"List-Unsubscribe": "One-Click"}
    )

    assert status == 200, body
    assert "Set-Cookie" not in response_headers
    states = odoo.execute("res.partner", "consent_get", [customer], "email")
    assert states[0]["state"] == "refused"
    [event] = odoo.execute(
        "crm.consent.event",
        "search_read",
        [
            ("partner_id", "=", customer),
            ("state", "=", "refused"),
            ("purpose_id.code", "=", "marketing"),
        ],
        ["source", "ip_address"],
    )
    assert event["source"] == "unsubscribe"
    assert event["ip_address"] == "127.0.0.1"


def test_one_click_post_and_empty_post(odoo, customer):
    status, body, _ = http(
        f"{odoo.url}/consent/unsubscribe/{customer}/email/marketing/1.bad"
    )
    assert status == 404
    status, body, response_headers = http(
        f"{odoo.url}/consent/unsubscribe/{customer}/email/marketing/1.bad",
        data={"List-Unsubscribe": "One-Click"},
    )
    assert status == 404, body
    assert "Set-Cookie" not in response_headers
    status, body, _ = http(
        f"{odoo.url}/consent/unsubscribe/{customer}/email/marketing/1.bad", data={}
    )
    assert status == 400, body


def test_export_over_xmlrpc(odoo, customer):
    rows = odoo.execute("res.partner", "consent_export", [customer], "json")
    assert [row["state"] for row in rows] == ["granted"]
    assert rows[0]["channel"] == "email"
    csv_text = odoo.execute("res.partner", "consent_export", [customer], "csv")
    assert csv_text.splitlines()[0].startswith("event_id,partner_id")


def test_double_opt_in_over_xmlrpc(odoo):
    suffix = uuid.uuid4().hex[:8]
    partner_id = odoo.execute(
        "res.partner",
        "create",
        {"name": "Suscriptor", "email": f"doi.{suffix}@ejemplo.es"},
    )
    odoo.execute(
        "res.partner",
        "consent_record",
        [partner_id],
        "email",
        "granted",
        "marketing",
        "form",
        "Formulario del pie de página",
        double_opt_in=True,
        ip_address="203.0.113.7",
        user_agent="Browser A",
        origin="newsletter footer form",
    )

    states = odoo.execute("res.partner", "consent_get", [partner_id], "email")
    assert states[0]["state"] == "pending"
    [event] = odoo.execute(
        "crm.consent.event",
        "search_read",
        [("partner_id", "=", partner_id)],
        ["ip_address", "user_agent", "origin", "double_opt_in_url"],
    )
    assert event["ip_address"] == "203.0.113.7"
    status, body, _ = http(local(odoo, event["double_opt_in_url"]))
    assert status == 200
    assert "o_consent_confirm" in body


def test_suppression_list_over_xmlrpc(odoo):
    suffix = uuid.uuid4().hex[:8]
    email = f"robinson.{suffix}@ejemplo.es"
    partner_id = odoo.execute(
        "res.partner", "create", {"name": "Robinson", "email": email}
    )
    list_id = odoo.execute(
        "crm.consent.suppression.list",
        "create",
        {
            "name": f"Lista Robinson {suffix}",
            "channel_id": odoo.ref("crm_consent.channel_email"),
            "file": base64.b64encode(email.upper().encode()).decode(),
            "file_name": "robinson.txt",
        },
    )
    odoo.execute("crm.consent.suppression.list", "action_import", [list_id])

    states = odoo.execute("res.partner", "consent_get", [partner_id], "email")
    assert states[0]["state"] == "refused"
