#!/usr/bin/env python3
"""Import process for the fault tests of crm_legacy_connectors.

``tests/test_legacy_faults.py`` starts this script as a separate operating
system process and kills it with SIGKILL in the middle of an import.
Commands:

- ``create``: create a CSV source from a file, prints its id as JSON.
- ``run``: run the source with ``action_run()`` committing each batch, as the
  scheduled action does, and print the run id as JSON.
"""

import argparse
import base64
import json
import sys
from pathlib import Path

import odoo
from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry

MAPPING = {
    "codigo": "partner_ref",
    "nombre": "partner_name",
    "email": "partner_email",
    "pedido": "txn_ref",
    "fecha": "txn_date",
    "importe": "txn_amount",
    "canal": "consent_channel",
    "consentimiento": "consent_state",
    "fecha_consentimiento": "consent_date",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["create", "run"])
    parser.add_argument("--database", required=True)
    parser.add_argument("--addons-path", required=True)
    parser.add_argument("--file", type=Path)
    parser.add_argument("--name", default="Fault test source")
    parser.add_argument("--source-id", type=int)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()

    odoo.tools.config.parse_config(
        [
            f"--database={args.database}",
            f"--addons-path={args.addons_path}",
            "--log-level=warn",
            "--max-cron-threads=0",
        ]
    )
    registry = Registry(args.database)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        if args.command == "create":
            source = env["crm.legacy.source"].create(
                {
                    "name": args.name,
                    "kind": "csv",
                    "file": base64.b64encode(args.file.read_bytes()),
                    "file_name": args.file.name,
                    "delimiter": ";",
                    "date_format": "%d/%m/%Y",
                    "decimal_separator": ",",
                    "thousands_separator": ".",
                    "batch_size": args.batch_size,
                    "country_id": env.ref("base.es").id,
                    "mapping_ids": [
                        (0, 0, {"column": column, "target": target})
                        for column, target in MAPPING.items()
                    ],
                }
            )
            result = {"source_id": source.id}
        else:
            source = env["crm.legacy.source"].browse(args.source_id)
            run_id = source.with_context(crm_legacy_commit=True).action_run()
            result = {"run_id": run_id}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
