from . import res_company
from . import crm_campaign
from . import crm_campaign_step
from . import crm_campaign_participant
from . import crm_campaign_trace
from . import crm_campaign_gate
from . import mailing_mailing
from . import mail_mail
