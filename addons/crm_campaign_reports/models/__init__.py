from . import crm_campaign
