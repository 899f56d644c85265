#!/usr/bin/env python3
"""Import suppression lists of growing size and report time and peak memory.

Run as ``python3 bench/bench_suppression.py [--sizes 100000,1000000]``. The
script creates a throwaway database with crm_consent (no demo data) and adds
partners for a tenth of the smallest list. For each size it writes a list
of plain e-mail addresses whose first lines belong to those partners, stores
it on a ``crm.consent.suppression.list`` and times ``action_import``. Memory is
the peak of Python allocations traced by ``tracemalloc`` during the import
only (the upload is stored before it starts), so the seconds include the
tracing overhead. If the import holds one batch at a time, the peak does
not follow the list size.
"""

import argparse
import base64
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="100000,1000000",
        help="list sizes in lines, separated by commas (default: 100000,1000000)",
    )
    parser.add_argument(
        "--database", default="bench_suppression", help="database to create and drop"
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    subprocess.run(["dropdb", "--if-exists", args.database], check=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "odoo",
            "-d",
            args.database,
            f"--addons-path={ROOT / 'addons'}",
            "-i",
            "crm_consent",
            "--without-demo=all",
            "--stop-after-init",
            "--http-interface=127.0.0.1",
            "--log-level=warn",
        ],
        check=True,
    )
    import odoo
    from odoo.tools import SQL, config

    config.parse_config(["-d", args.database, f"--addons-path={ROOT / 'addons'}"])
    registry = odoo.modules.registry.Registry(args.database)
    partners = min(sizes) // 10
    print(
        f"{'Lines':>10} | {'Seconds':>8} | {'Lines/s':>9} | {'Peak Python heap (MiB)':>22} | Partners refused"
    )
    try:
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            env.cr.execute(
                SQL(
                    """
                    INSERT INTO res_partner (name, email, email_normalized, active,
                                             type, is_company)
                    SELECT 'Cliente ' || n, 'cliente' || n || '@ejemplo.es',
                           'cliente' || n || '@ejemplo.es', TRUE, 'contact', FALSE
                      FROM generate_series(1, %s) AS n
                    """,
                    partners,
                )
            )
            cr.commit()
            channel = env.ref("crm_consent.channel_email")
            for size in sizes:
                lines = "\n".join(
                    f"cliente{n}@ejemplo.es"
                    if n <= partners
                    else f"otra{n}@ejemplo.com"
                    for n in range(1, size + 1)
                )
                suppression = env["crm.consent.suppression.list"].create(
                    {
                        "name": f"Lista {size}",
                        "channel_id": channel.id,
                        "file": base64.b64encode(lines.encode()),
                        "file_name": "lista.txt",
                    }
                )
                del lines
                env.invalidate_all()
                cr.commit()
                tracemalloc.start()
                started = time.monotonic()
                suppression.action_import()
                cr.commit()
                elapsed = time.monotonic() - started
                _current, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                growth = peak / 2**20
                print(
                    f"{size:>10,} | {elapsed:>8.1f} | {size / elapsed:>9,.0f} | "
                    f"{growth:>22.1f} | {suppression.matched_count:,}",
                    flush=True,
                )
    finally:
        registry.delete(args.database)
        subprocess.run(["dropdb", "--if-exists", args.database], check=False)


if __name__ == "__main__":
    main()
