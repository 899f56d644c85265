{
    "name": "Campaign Reports",
    "summary": "Follow every campaign, offer and response with standard reports and charts.",
    "version": "18.0.1.0.0",
    "category": "Marketing",
    "author": "CRM Marketing Automation Suite",
    "website": "https://github.com/crm-marketing-automation/suite",
    "license": "LGPL-3",
    "development_status": "Alpha",
    "depends": [
        "crm_campaign_automation",
    ],
    "external_dependencies": {
        "python": ["xlsxwriter"],
    },
    "data": [
        "security/ir.model.access.csv",
        "security/crm_campaign_report_rules.xml",
        "data/ir_cron_data.xml",
        "report/crm_campaign_report_views.xml",
        "report/crm_campaign_report_pdf.xml",
        "views/crm_campaign_experiment_templates.xml",
        "views/crm_campaign_views.xml",
        "views/crm_rfm_views.xml",
        "views/crm_campaign_report_menus.xml",
    ],
    "installable": True,
}
