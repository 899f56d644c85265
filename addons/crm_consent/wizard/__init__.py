from . import crm_consent_request_wizard
