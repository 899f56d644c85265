from . import crm_consent_channel
from . import crm_consent_purpose
from . import crm_consent_event
from . import crm_consent
from . import res_partner
from . import mail_blacklist
from . import phone_blacklist
