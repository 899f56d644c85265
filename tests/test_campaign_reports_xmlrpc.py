"""The crm_campaign_reports contract over XML-RPC: grouped reads of the
campaign analysis and the standard reports, and the XLSX export of a
campaign."""

import base64
import io
import uuid
import xmlrpc.client

import openpyxl
import pytest


@pytest.fixture
def executed_campaign(odoo, open_company):
    """A campaign whose one e-mail step ran for two new partners: Gloria, who
    granted e-mail marketing, is sent the e-mail and Hugo, who refused it, is
    skipped."""
    suffix = uuid.uuid4().hex[:8]
    tag_id = odoo.execute(
        "res.partner.category", "create", {"name": f"Informe RPC {suffix}"}
    )
    gloria_id, hugo_id = (
        odoo.execute(
            "res.partner",
            "create",
            {
                "name": f"{name} {suffix}",
                "email": f"{name.lower()}.{suffix}@ejemplo.es",
                "category_id": [(4, tag_id)],
            },
        )
        for name in ("Gloria", "Hugo")
    )
    odoo.execute("res.partner", "consent_record", [gloria_id], "email", "granted")
    odoo.execute("res.partner", "consent_record", [hugo_id], "email", "refused")

    model_id = odoo.execute(
        "ir.model", "search", [("model", "=", "res.partner")], limit=1
    )[0]
    template_id = odoo.execute(
        "mail.template",
        "create",
        {
            "name": f"Plantilla informe {suffix}",
            "model_id": model_id,
            "subject": "Hola {{ object.name }}",
            "body_html": "<p>Oferta para ti</p>",
            "email_from": "tienda@ejemplo.es",
        },
    )

    campaign_id = odoo.execute(
        "crm.campaign",
        "create",
        {
            "name": f"Informe RPC {suffix}",
            "domain": repr([("category_id", "in", [tag_id])]),
            "company_id": open_company,
        },
    )
    step_id = odoo.execute(
        "crm.campaign.step",
        "create",
        {
            "campaign_id": campaign_id,
            "name": "Correo de oferta",
            "kind": "email",
            "trigger": "begin",
            "interval_number": 0,
            "interval_type": "hours",
            "mail_template_id": template_id,
        },
    )

    odoo.execute("crm.campaign", "action_launch", [campaign_id])
    assert odoo.execute("crm.campaign", "action_execute", [campaign_id]) == 2
    return campaign_id, step_id


def test_read_group_per_step(odoo, executed_campaign):
    campaign_id, step_id = executed_campaign
    groups = odoo.execute(
        "crm.campaign.report",
        "read_group",
        [("campaign_id", "=", campaign_id)],
        ["sent:sum", "skipped:sum", "opened:sum", "open_rate:avg"],
        ["step_id"],
        lazy=False,
    )
    assert len(groups) == 1
    [group] = groups
    assert group["step_id"][0] == step_id
    assert group["sent"] == 1
    assert group["skipped"] == 1
    assert group["opened"] == 0
    assert group["open_rate"] == 0


def test_read_group_per_channel_and_day(odoo, executed_campaign):
    campaign_id, _step_id = executed_campaign
    groups = odoo.execute(
        "crm.campaign.report",
        "read_group",
        [("campaign_id", "=", campaign_id)],
        ["sent:sum", "revenue:sum"],
        ["kind", "date:day"],
        lazy=False,
    )
    assert [group["kind"] for group in groups] == ["email"]
    assert groups[0]["sent"] == 1
    assert groups[0]["revenue"] == 0


def test_report_figures(odoo, executed_campaign):
    campaign_id, step_id = executed_campaign
    figures = odoo.execute("crm.campaign", "get_report_figures", [campaign_id])
    [step] = figures["steps"]
    assert step["step_id"] == step_id
    assert step["sent"] == 1
    assert figures["total"]["skipped"] == 1


def test_xlsx_export(odoo, executed_campaign):
    campaign_id, _step_id = executed_campaign
    content = odoo.execute("crm.campaign", "report_xlsx", [campaign_id])
    workbook = openpyxl.load_workbook(io.BytesIO(base64.b64decode(content)))
    assert workbook.sheetnames == ["Summary", "Correo de oferta"]
    summary = workbook["Summary"]
    assert summary["A5"].value == "Correo de oferta"
    assert summary["C5"].value == 1
    assert len(summary._charts) == 1


def test_attribution_side_by_side(odoo, executed_campaign):
    campaign_id, _step_id = executed_campaign
    [group] = odoo.execute(
        "crm.campaign.report",
        "read_group",
        [("campaign_id", "=", campaign_id)],
        [
            "purchases:sum",
            "revenue:sum",
            "purchases_all_touch:sum",
            "revenue_all_touch:sum",
            "unsubscribed:sum",
        ],
        [],
        lazy=False,
    )
    # No purchase and no refusal happened after the e-mail.
    assert group["purchases"] == 0
    assert group["revenue_all_touch"] == 0
    assert group["unsubscribed"] == 0
    figures = odoo.execute("crm.campaign", "get_report_figures", [campaign_id])
    assert figures["total"]["purchases_all_touch"] == 0


def test_funnel_per_stage(odoo, executed_campaign):
    campaign_id, _step_id = executed_campaign
    groups = odoo.execute(
        "crm.campaign.funnel.report",
        "read_group",
        [("campaign_id", "=", campaign_id)],
        ["partners:sum"],
        ["stage"],
        lazy=False,
    )
    partners = {group["stage"]: group["partners"] for group in groups}
    # Gloria's e-mail is queued (not yet delivered); Hugo was skipped.
    assert partners["1_sent"] == 1
    assert partners["2_delivered"] == 0
    assert partners["6_converted"] == 0


def test_consent_coverage_ratio(odoo):
    groups = odoo.execute(
        "crm.consent.coverage.report",
        "read_group",
        [],
        ["customers:sum", "contactable:sum", "coverage:avg"],
        ["channel_id"],
        lazy=False,
    )
    assert groups, "the demo data has customers in the ledger"
    for group in groups:
        assert 0 <= group["contactable"] <= group["customers"]
        expected = 100.0 * group["contactable"] / group["customers"]
        assert abs(group["coverage"] - expected) <= 0.005


def test_rfm_migration_needs_snapshots(odoo):
    wizard_id = odoo.execute(
        "crm.rfm.migration",
        "create",
        {"date_from": "1990-01-01", "date_to": "1990-02-01"},
    )
    with pytest.raises(xmlrpc.client.Fault, match="No RFM snapshot was taken on"):
        odoo.execute("crm.rfm.migration", "get_migration_counts", [wizard_id])


def test_portal_user_cannot_read_report(odoo):
    suffix = uuid.uuid4().hex[:8]
    login = f"portal.informe.{suffix}@ejemplo.es"
    password = f"Clave-{suffix}"
    odoo.execute(
        "res.users",
        "create",
        {
            "name": f"Portal {suffix}",
            "login": login,
            "password": password,
            "groups_id": [(6, 0, [odoo.ref("base.group_portal")])],
        },
    )
    portal = odoo.as_user(login, password)
    for model in (
        "crm.campaign.report",
        "crm.campaign.segment.report",
        "crm.consent.coverage.report",
        "crm.rfm.snapshot",
    ):
        with pytest.raises(xmlrpc.client.Fault, match="not allowed"):
            portal.execute(model, "search_read", [], fields=["id"])
