from .readers import LegacyRow, SourceError
from .tax_id import TaxIdError, format_tax_id, is_placeholder_tax_id, normalize_tax_id
from .values import parse_amount, parse_date
