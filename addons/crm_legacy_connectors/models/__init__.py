from . import (
    crm_legacy_importer,
    crm_legacy_mapping,
    crm_legacy_partner_link,
    crm_legacy_partner_writer,
    crm_legacy_rejected_row,
    crm_legacy_review,
    crm_legacy_run,
    crm_legacy_source,
)
