"""Access rights of every model of the suite, per group, over XML-RPC.

Each group gets a user that logs in over XML-RPC, as an integrator would, and
calls ``has_access`` to check which operations it may perform on each model. The expected table is the access policy: marketing managers configure,
marketing users use, plain employees read only what the partner form shows,
and portal and public users get nothing. Public users cannot log in over
XML-RPC at all. A second test checks the multi-company record rules.
"""

import uuid
import xmlrpc.client

import pytest

SUITE_MODULES = [
    "crm_consent",
    "crm_segments",
    "crm_legacy_connectors",
    "crm_campaign_automation",
    "crm_campaign_reports",
]

# Models without a table (abstract models and report renderers): the ORM
# checks no access rights on them.
ABSTRACT_MODELS = {
    "crm.campaign.gate",
    "crm.campaign.report.xlsx",
    "crm.consent.blacklist.mixin",
    "crm.legacy.importer",
    "crm.legacy.partner.writer",
}

GROUPS = ["manager", "marketing", "employee", "portal"]

# Operations per model and group: r(ead), w(rite), c(reate), u(nlink).
MATRIX = {
    # crm_consent
    "crm.consent.channel": ("rwcu", "r", "r", ""),
    "crm.consent.purpose": ("rwcu", "r", "r", ""),
    "crm.consent": ("rwc", "rwc", "r", ""),
    "crm.consent.event": ("r", "r", "", ""),
    "crm.consent.text": ("rwc", "r", "r", ""),
    "crm.consent.regime": ("rwcu", "r", "", ""),
    "crm.consent.suppression.list": ("rwcu", "r", "", ""),
    "crm.consent.suppression.entry": ("r", "", "", ""),
    "crm.consent.unsubscribe.request": ("r", "r", "", ""),
    "crm.consent.request.wizard": ("rwcu", "rwcu", "", ""),
    # Signed-link tokens are read and written only by the server, in sudo.
    "crm.consent.token": ("", "", "", ""),
    # crm_segments
    "crm.customer.transaction": ("rwcu", "rw", "", ""),
    "crm.rfm.segment": ("rwcu", "r", "", ""),
    "crm.value.tier.log": ("rwcu", "r", "", ""),
    "crm.segment": ("rwcu", "rw", "", ""),
    "crm.segment.history": ("rwcu", "r", "", ""),
    "crm.segment.member.log": ("rwcu", "r", "", ""),
    # crm_legacy_connectors
    "crm.legacy.source": ("rwcu", "r", "", ""),
    "crm.legacy.mapping": ("rwcu", "r", "", ""),
    "crm.legacy.run": ("ru", "r", "", ""),
    "crm.legacy.rejected.row": ("r", "r", "", ""),
    "crm.legacy.partner.link": ("rwcu", "r", "", ""),
    "crm.legacy.review": ("rwu", "rw", "", ""),
    # crm_campaign_automation
    "crm.campaign": ("rwcu", "rwc", "", ""),
    "crm.campaign.step": ("rwcu", "rwcu", "", ""),
    "crm.campaign.participant": ("rwcu", "rwc", "", ""),
    "crm.campaign.trace": ("rwcu", "rwc", "", ""),
    "crm.campaign.step.test": ("rwcu", "rwcu", "", ""),
    "crm.campaign.variant": ("rwcu", "rwc", "", ""),
    "crm.campaign.offer": ("rwcu", "rwc", "", ""),
    # crm_campaign_reports
    "crm.campaign.report": ("r", "r", "", ""),
    "crm.campaign.segment.report": ("r", "r", "", ""),
    "crm.campaign.funnel.report": ("r", "r", "", ""),
    "crm.campaign.cohort.report": ("r", "r", "", ""),
    "crm.consent.coverage.report": ("r", "r", "", ""),
    # Snapshots are written by the daily scheduled action only.
    "crm.rfm.snapshot": ("r", "r", "", ""),
    "crm.rfm.migration": ("rwcu", "rwcu", "", ""),
    "crm.rfm.migration.line": ("rwcu", "rwcu", "", ""),
}
OPERATIONS = {"r": "read", "w": "write", "c": "create", "u": "unlink"}

GROUP_XMLIDS = {
    "manager": ["base.group_user", "crm_consent.group_marketing_manager"],
    "marketing": ["base.group_user", "crm_consent.group_marketing_user"],
    "employee": ["base.group_user"],
    "portal": ["base.group_portal"],
}


def create_user(odoo, login, group_xmlids, company_ids=None):
    password = uuid.uuid4().hex
    values = {
        "name": f"Usuario {login}",
        "login": login,
        "password": password,
        "groups_id": [(6, 0, [odoo.ref(xmlid) for xmlid in group_xmlids])],
    }
    if company_ids:
        values["company_id"] = company_ids[0]
        values["company_ids"] = [(6, 0, company_ids)]
    odoo.execute("res.users", "create", values)
    return odoo.as_user(login, password)


@pytest.fixture(scope="module")
def clients(odoo):
    suffix = uuid.uuid4().hex[:8]
    return {
        group: create_user(odoo, f"acl-{group}-{suffix}", GROUP_XMLIDS[group])
        for group in GROUPS
    }


def test_every_suite_model_in_matrix(odoo):
    rows = odoo.execute(
        "ir.model.data",
        "search_read",
        [("model", "=", "ir.model"), ("module", "in", SUITE_MODULES)],
        fields=["res_id"],
    )
    models = odoo.execute(
        "ir.model", "read", [row["res_id"] for row in rows], ["model"]
    )
    suite_models = {
        model["model"] for model in models if model["model"].startswith("crm.")
    } - ABSTRACT_MODELS
    assert suite_models - set(MATRIX) == set(), "models missing from the matrix"
    assert set(MATRIX) - suite_models == set(), "matrix names unknown models"


def test_access_matrix_per_group(clients):
    actual = {}
    for model in MATRIX:
        actual[model] = tuple(
            "".join(
                letter
                for letter, operation in OPERATIONS.items()
                if clients[group].execute(model, "has_access", [], operation)
            )
            for group in GROUPS
        )
    mismatches = {
        model: {"expected": MATRIX[model], "actual": actual[model]}
        for model in MATRIX
        if actual[model] != MATRIX[model]
    }
    assert mismatches == {}


def test_public_user_cannot_log_in(odoo):
    common = xmlrpc.client.ServerProxy(f"{odoo.url}/xmlrpc/2/common")
    assert common.authenticate(odoo.database, "public", "", {}) is False
    assert common.authenticate(odoo.database, "public", "public", {}) is False


def test_other_company_records_hidden(odoo):
    """A marketing user of one company neither finds nor reads the campaigns,
    segments, legacy sources and consents of another company."""
    suffix = uuid.uuid4().hex[:8]
    [admin] = odoo.execute("res.users", "read", [odoo.uid], ["company_id"])
    home_company_id = admin["company_id"][0]
    other_company_id = odoo.execute(
        "res.company", "create", {"name": f"Filial {suffix}"}
    )
    odoo.execute(
        "res.users",
        "write",
        [odoo.uid],
        {"company_ids": [(4, other_company_id)]},
    )
    user = create_user(
        odoo,
        f"acl-company-{suffix}",
        GROUP_XMLIDS["manager"],
        company_ids=[home_company_id],
    )

    foreign_partner_id = odoo.execute(
        "res.partner",
        "create",
        {
            "name": f"Cliente filial {suffix}",
            "email": f"filial.{suffix}@ejemplo.mx",
            "company_id": other_company_id,
        },
    )
    odoo.execute(
        "res.partner", "consent_record", [foreign_partner_id], "email", "granted"
    )
    records = {
        "crm.campaign": odoo.execute(
            "crm.campaign",
            "create",
            {"name": f"Campaña filial {suffix}", "company_id": other_company_id},
        ),
        "crm.segment": odoo.execute(
            "crm.segment",
            "create",
            {"name": f"Segmento filial {suffix}", "company_id": other_company_id},
        ),
        "crm.legacy.source": odoo.execute(
            "crm.legacy.source",
            "create",
            {
                "name": f"Origen filial {suffix}",
                "kind": "csv",
                "company_id": other_company_id,
            },
        ),
        "crm.consent": odoo.execute(
            "crm.consent", "search", [("partner_id", "=", foreign_partner_id)]
        )[0],
    }

    for model, record_id in records.items():
        assert user.execute(model, "search", [("id", "=", record_id)]) == [], model
        with pytest.raises(xmlrpc.client.Fault, match=r"AccessError|access"):
            user.execute(model, "read", [record_id], ["display_name"])
    assert odoo.execute(
        "crm.campaign", "search", [("id", "=", records["crm.campaign"])]
    )
