"""Concurrent requests on the public pages of the suite, served by Odoo in
multi-worker mode.

The test starts its own Odoo server over the test database with two HTTP
workers (``--workers=2 --max-cron-threads=0``) on free loopback ports,
because the test command's server runs threaded, and checks that the
websocket (gevent) process responds on its port. A thread pool of this pytest process then sends 480
requests at once, valid and forged links mixed, to the preference centre,
the one-click unsubscribe (RFC 8058), the open-tracking pixel and a
campaign's offer page. Every signed link must get 200 with its page, image
or text, every forged link the status of an invalid link, and no request may
fail to connect. The server and its workers are stopped at the end, even on
failure. Throughput and latency are measured by bench/bench_load.py, not
here.
"""

import hashlib
import hmac
import os
import sys
import tempfile
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from odoo_workers import (  # noqa: E402
    check_gevent,
    free_port,
    start_server,
    stop_server,
)

WORKERS = 2
THREADS = 8
REQUESTS_PER_LINK = 100
FORGED_PER_LINK = 20

# Scope of the open-tracking token of mass_mailing (mail.mail,
# _generate_mail_recipient_token in Odoo 18).
OPEN_TRACKING_SCOPE = "mass_mailing-mail_mail-open"
GIF_SIGNATURE = b"GIF89a"
# The choices form of crm_consent's preference page.
PREFERENCE_FORM = b'class="o_consent_preferences"'
ONE_CLICK = urlencode({"List-Unsubscribe": "One-Click"}).encode()
UNSUBSCRIBED = b"Unsubscribed."


@pytest.fixture
def links(odoo, open_company):
    """Create a partner, a sent mailing mail and its trace, and a campaign
    with a web step that gives the partner an offer page, and return the
    paths of their signed and forged links."""
    tag = uuid.uuid4().hex[:8]
    email = f"carga.{tag}@example.com"
    tag_id = odoo.execute("res.partner.category", "create", {"name": f"Carga {tag}"})
    partner_id = odoo.execute(
        "res.partner",
        "create",
        {"name": f"Carga {tag}", "email": email, "category_id": [(4, tag_id)]},
    )
    odoo.execute("res.partner", "consent_record", [partner_id], "email", "granted")
    preference_url = odoo.execute("res.partner", "consent_preference_url", [partner_id])
    unsubscribe_url = odoo.execute(
        "res.partner", "consent_unsubscribe_url", [partner_id], "email", "marketing"
    )

    [model_id] = odoo.execute("ir.model", "search", [("model", "=", "res.partner")])
    mailing_id = odoo.execute(
        "mailing.mailing",
        "create",
        {
            "subject": f"Carga {tag}",
            "body_html": "<p>Hola</p>",
            "mailing_model_id": model_id,
        },
    )
    mail_id = odoo.execute(
        "mail.mail",
        "create",
        {
            "subject": f"Carga {tag}",
            "body_html": "<p>Hola</p>",
            "email_to": email,
            "mailing_id": mailing_id,
            "state": "sent",
        },
    )
    trace_id = odoo.execute(
        "mailing.trace",
        "create",
        {
            "mass_mailing_id": mailing_id,
            "model": "res.partner",
            "res_id": partner_id,
            "email": email,
            "mail_mail_id": mail_id,
            "trace_status": "sent",
        },
    )
    secret = odoo.execute("ir.config_parameter", "get_param", "database.secret")
    # Same HMAC as odoo.tools.hmac, which mass_mailing uses for this token.
    token = hmac.new(
        secret.encode(),
        repr((OPEN_TRACKING_SCOPE, mail_id)).encode(),
        hashlib.sha256,
    ).hexdigest()

    offer_id = odoo.execute(
        "crm.campaign.offer",
        "create",
        {
            "name": f"Oferta carga {tag}",
            "code_kind": "unique",
            "code_prefix": "CARGA-",
            "discount_percent": 10,
            "company_id": open_company,
        },
    )
    campaign_id = odoo.execute(
        "crm.campaign",
        "create",
        {
            "name": f"Campaña carga {tag}",
            "domain": repr([("category_id", "in", [tag_id])]),
            "company_id": open_company,
        },
    )
    odoo.execute(
        "crm.campaign.step",
        "create",
        {
            "campaign_id": campaign_id,
            "name": "Página de la oferta",
            "kind": "web",
            "trigger": "begin",
            "offer_id": offer_id,
            "web_body_html": "<p>Hola <t t-out='object.name'/></p>",
        },
    )
    odoo.execute("crm.campaign", "action_launch", [campaign_id])
    assert odoo.execute("crm.campaign", "action_execute", [campaign_id]) == 1
    [campaign_trace] = odoo.execute(
        "crm.campaign.trace",
        "search_read",
        [("campaign_id", "=", campaign_id)],
        fields=["offer_url", "offer_code"],
    )
    assert campaign_trace["offer_url"], "the web step gave the partner no offer page"

    forged_token = "0" * len(token)
    preference_path = urlsplit(preference_url).path
    unsubscribe_path = urlsplit(unsubscribe_url).path
    offer_path = urlsplit(campaign_trace["offer_url"]).path
    return {
        "preferences": preference_path,
        "forged_preferences": preference_path.rsplit("/", 1)[0] + "/" + forged_token,
        "unsubscribe": unsubscribe_path,
        "forged_unsubscribe": unsubscribe_path.rsplit("/", 1)[0] + "/1." + forged_token,
        "pixel": f"/mail/track/{mail_id}/{token}/blank.gif",
        "forged_pixel": f"/mail/track/{mail_id}/{forged_token}/blank.gif",
        "offer": offer_path,
        "forged_offer": offer_path.rsplit(".", 1)[0] + "." + forged_token,
        "offer_code": campaign_trace["offer_code"],
        "partner_id": partner_id,
        "trace_id": trace_id,
    }


@pytest.fixture
def multiworker_url(odoo):
    """Start Odoo with two HTTP workers over the test database and return its
    address; stop it and its workers afterwards."""
    log_path = Path(tempfile.mkdtemp(prefix="crm_public_load_")) / "odoo.log"
    gevent_port = free_port()
    addons_path = os.environ.get("ODOO_ADDONS_PATH", str(ROOT / "addons"))
    server, url = start_server(
        odoo.database, free_port(), gevent_port, WORKERS, log_path, addons_path
    )
    try:
        gevent_pid = check_gevent(server, gevent_port)
        assert gevent_pid, f"the websocket process did not answer; see {log_path}"
        yield url
        assert check_gevent(server, gevent_port, timeout=10) == gevent_pid, (
            f"the websocket process stopped or was started again; see {log_path}"
        )
    finally:
        stop_server(server)
    assert "Traceback" not in log_path.read_text(encoding="utf-8"), (
        f"the multi-worker server logged a traceback; see {log_path}"
    )


def request(url, data=None):
    """Return (status, body) of a GET, or of a POST when ``data`` is given,
    whatever the status; a connection failure gives (None, the error)."""
    try:
        with urllib.request.urlopen(url, data=data, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError as error:
        return None, repr(error).encode()


def test_public_links_under_concurrent_load(odoo, links, multiworker_url):
    # (name, path, POST body or None, expected status, count)
    plan = [
        ("preferences", links["preferences"], None, 200, REQUESTS_PER_LINK),
        ("unsubscribe", links["unsubscribe"], ONE_CLICK, 200, REQUESTS_PER_LINK),
        ("pixel", links["pixel"], None, 200, REQUESTS_PER_LINK),
        ("offer", links["offer"], None, 200, REQUESTS_PER_LINK),
        # An invalid consent or offer link renders the invalid-link page
        # with 404, and mass_mailing rejects a forged pixel token with 401.
        ("forged_preferences", links["forged_preferences"], None, 404, FORGED_PER_LINK),
        (
            "forged_unsubscribe",
            links["forged_unsubscribe"],
            ONE_CLICK,
            404,
            FORGED_PER_LINK,
        ),
        ("forged_pixel", links["forged_pixel"], None, 401, FORGED_PER_LINK),
        ("forged_offer", links["forged_offer"], None, 404, FORGED_PER_LINK),
    ]
    calls = [
        (name, multiworker_url + path, data)
        for name, path, data, _status, count in plan
        for _ in range(count)
    ]
    # Interleave the links so that every worker serves all of them at once.
    calls = calls[0::2] + calls[1::2]
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        responses = list(pool.map(lambda call: request(call[1], call[2]), calls))

    results = {name: [] for name, *_rest in plan}
    for (name, _url, _data), response in zip(calls, responses, strict=True):
        results[name].append(response)
    failures = {
        name: body[:200]
        for name, answers in results.items()
        for status, body in answers
        if status is None
    }
    assert not failures, f"connection failures: {failures}"
    for name, _path, _data, status, count in plan:
        statuses = [answer_status for answer_status, _body in results[name]]
        assert statuses == [status] * count, name

    bodies = {
        name: [body for _status, body in answers] for name, answers in results.items()
    }
    assert all(PREFERENCE_FORM in page for page in bodies["preferences"])
    assert not any(PREFERENCE_FORM in page for page in bodies["forged_preferences"])
    assert all(body.strip() == UNSUBSCRIBED for body in bodies["unsubscribe"])
    assert all(image.startswith(GIF_SIGNATURE) for image in bodies["pixel"])
    code = links["offer_code"].encode()
    assert all(code in page for page in bodies["offer"])
    assert not any(code in page for page in bodies["forged_offer"])

    [trace] = odoo.execute(
        "mailing.trace", "read", [links["trace_id"]], ["trace_status"]
    )
    assert trace["trace_status"] == "open"
    states = odoo.execute("res.partner", "consent_get", [links["partner_id"]], "email")
    assert [state["state"] for state in states] == ["refused"]
    # A repeated one-click request finds the refusal in force and adds none.
    refusal_count = odoo.execute(
        "crm.consent.event",
        "search_count",
        [
            ("partner_id", "=", links["partner_id"]),
            ("state", "=", "refused"),
            ("source", "=", "unsubscribe"),
        ],
    )
    assert refusal_count == 1
