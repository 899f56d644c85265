from . import crm_campaign_step_test
