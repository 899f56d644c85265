from . import (
    crm_consent,
    crm_consent_channel,
    crm_consent_event,
    crm_consent_purpose,
    mail_blacklist,
    phone_blacklist,
    res_partner,
)
