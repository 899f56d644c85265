from . import crm_campaign_report
from . import crm_campaign_report_xlsx
