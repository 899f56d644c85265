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
    "data": [],
    "installable": True,
}
