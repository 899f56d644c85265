from . import test_campaign_access
from . import test_campaign_gate
from . import test_campaign_execution
from . import test_experiment_stats
from . import test_campaign_experiment
from . import test_campaign_open_tracking
