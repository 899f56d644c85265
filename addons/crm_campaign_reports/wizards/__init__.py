from . import crm_rfm_migration
