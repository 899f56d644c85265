"""Every screen of the suite loads, as the web client asks for it."""

import xmlrpc.client

SUITE_ADDONS = [
    "crm_consent",
    "crm_segments",
    "crm_legacy_connectors",
    "crm_campaign_automation",
    "crm_campaign_reports",
]


def suite_views(odoo):
    """Return (model, view type) for every primary view the suite defines."""
    view_ids = odoo.execute(
        "ir.model.data",
        "search_read",
        [("module", "in", SUITE_ADDONS), ("model", "=", "ir.ui.view")],
        ["res_id"],
    )
    views = odoo.execute(
        "ir.ui.view",
        "read",
        [row["res_id"] for row in view_ids],
        ["model", "type", "mode"],
    )
    return sorted(
        {
            (view["model"], view["type"])
            for view in views
            if view["type"] not in ("qweb",) and view["model"]
        }
    )


def test_suite_has_views(odoo):
    assert len(suite_views(odoo)) > 20


def test_every_view_loads(odoo):
    failures = []
    for model, view_type in suite_views(odoo):
        try:
            odoo.execute(model, "get_views", [[False, view_type]])
            odoo.execute(
                model, "fields_get", attributes=["string", "type", "selection"]
            )
        except xmlrpc.client.Fault as error:
            failures.append(f"{model} {view_type}: {error.faultString[-300:]}")
    assert not failures, "\n".join(failures)
