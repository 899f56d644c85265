from .schedule import local_to_utc
from .schedule import next_allowed_moment
from . import experiment_assignment
from . import experiment_stats
