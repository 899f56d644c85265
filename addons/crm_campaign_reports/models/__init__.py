from . import crm_campaign
from . import crm_rfm_snapshot
