from . import (
    test_blacklist_sync,
    test_consent_access,
    test_consent_ledger,
    test_consent_record,
    test_contact_gate,
    test_partner_form,
)
