"""Concurrent requests on the public preference centre and tracking pixel.

A few hundred requests from a thread pool hit the server of the test command
at once. Every signed link must return 200 with its page or image, and every
forged link the status of an invalid link, with no server error in between.
The throughput itself is measured by bench/bench_load.py, not here.
"""

import hashlib
import hmac
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

THREADS = 16
REQUESTS_PER_LINK = 150
FORGED_PER_LINK = 25

# Scope of the open-tracking token of mass_mailing (mail.mail,
# _generate_mail_recipient_token in Odoo 18).
OPEN_TRACKING_SCOPE = "mass_mailing-mail_mail-open"
GIF_SIGNATURE = b"GIF89a"
# The choices form of crm_consent's preference page.
PREFERENCE_FORM = b'class="o_consent_preferences"'


@pytest.fixture(scope="module")
def links(odoo):
    """Create a partner, a sent mailing mail and its trace, and return the
    paths of their signed and forged links."""
    tag = uuid.uuid4().hex[:8]
    email = f"carga.{tag}@example.com"
    partner_id = odoo.execute(
        "res.partner", "create", {"name": f"Carga {tag}", "email": email}
    )
    preference_url = odoo.execute("res.partner", "consent_preference_url", [partner_id])
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
    preference_path = urlsplit(preference_url).path
    forged_token = "0" * len(token)
    return {
        "preferences": preference_path,
        "forged_preferences": preference_path.rsplit("/", 1)[0] + "/" + forged_token,
        "pixel": f"/mail/track/{mail_id}/{token}/blank.gif",
        "forged_pixel": f"/mail/track/{mail_id}/{forged_token}/blank.gif",
        "trace_id": trace_id,
    }


def fetch(url):
    """Return (status, body) of a GET, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_public_links_under_concurrent_load(odoo, links):
    paths = (
        [links["preferences"]] * REQUESTS_PER_LINK
        + [links["pixel"]] * REQUESTS_PER_LINK
        + [links["forged_preferences"]] * FORGED_PER_LINK
        + [links["forged_pixel"]] * FORGED_PER_LINK
    )
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        responses = list(pool.map(lambda path: fetch(odoo.url + path), paths))

    results = {}
    for path, response in zip(paths, responses, strict=True):
        results.setdefault(path, []).append(response)
    statuses = {
        path: [status for status, _body in answers] for path, answers in results.items()
    }
    assert statuses[links["preferences"]] == [200] * REQUESTS_PER_LINK
    assert statuses[links["pixel"]] == [200] * REQUESTS_PER_LINK
    # An invalid preference link renders the invalid-link page with 404, and
    # mass_mailing rejects a forged pixel token with 401 Unauthorized.
    assert statuses[links["forged_preferences"]] == [404] * FORGED_PER_LINK
    assert statuses[links["forged_pixel"]] == [401] * FORGED_PER_LINK

    pages = [body for _status, body in results[links["preferences"]]]
    assert sum(PREFERENCE_FORM in page for page in pages) == REQUESTS_PER_LINK
    images = [body for _status, body in results[links["pixel"]]]
    assert sum(image.startswith(GIF_SIGNATURE) for image in images) == REQUESTS_PER_LINK
    forged_pages = [body for _status, body in results[links["forged_preferences"]]]
    assert sum(PREFERENCE_FORM in page for page in forged_pages) == 0

    [trace] = odoo.execute(
        "mailing.trace", "read", [links["trace_id"]], ["trace_status"]
    )
    assert trace["trace_status"] == "open"
