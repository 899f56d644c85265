from . import (
    test_bad_input_corpus,
    test_csv_source,
    test_identity,
    test_legacy_injection,
    test_ledger,
    test_other_sources,
    test_partner_writer,
    test_repeated_values,
    test_run_language,
    test_secrets,
    test_security,
)
