from . import test_campaign_report
from . import test_campaign_attribution
from . import test_campaign_variants
from . import test_campaign_report_access
from . import test_campaign_report_export
from . import test_campaign_report_controller
from . import test_standard_reports
