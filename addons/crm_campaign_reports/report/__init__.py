from . import crm_campaign_report
from . import crm_campaign_segment_report
from . import crm_campaign_funnel_report
from . import crm_campaign_cohort_report
from . import crm_consent_coverage_report
from . import crm_campaign_report_xlsx
