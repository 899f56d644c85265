from . import test_record_transactions
from . import test_feeders
from . import test_profiles
from . import test_value_tiers
from . import test_segments
