from . import test_consent_record
from . import test_consent_ledger
from . import test_contact_gate
from . import test_blacklist_sync
from . import test_consent_access
from . import test_partner_form
from . import test_partner_tab_tour
