{
    "name": "Legacy Data Connectors",
    "summary": "Map transactions from ERP and legacy systems onto customer-centric records.",
    "version": "18.0.1.0.0",
    "category": "Marketing",
    "author": "CRM Marketing Automation Suite",
    "website": "https://github.com/crm-marketing-automation/suite",
    "license": "LGPL-3",
    "development_status": "Alpha",
    "depends": [
        "crm_segments",
    ],
    "external_dependencies": {
        "python": ["python-stdnum", "openpyxl"],
    },
    "data": [
        "security/ir.model.access.csv",
        "security/crm_legacy_rules.xml",
        "data/ir_cron_data.xml",
        "views/crm_legacy_run_views.xml",
        "views/crm_legacy_source_views.xml",
        "views/crm_legacy_review_views.xml",
        "views/crm_legacy_rejected_row_views.xml",
        "views/crm_legacy_partner_link_views.xml",
        "views/crm_legacy_menus.xml",
    ],
    "demo": [
        "demo/crm_legacy_source_demo.xml",
    ],
    "installable": True,
}
