"""Locate the CDNOW data files shipped in the ``lifetimes`` package.

The CDNOW purchase history (23,570 customers of the CDNOW music shop, 69,659
purchases from January 1997 to June 1998) and its 2,357-customer sample are
data files of ``lifetimes`` 0.11.3 (``lifetimes/datasets/``). Only these files
are read, so the package itself never needs to import: when it is not
installed, pip downloads its wheel (``--no-deps``) into a cache folder and the
files are extracted from it.
"""

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

LIFETIMES_REQUIREMENT = "lifetimes==0.11.3"
DATASETS_MEMBER = "lifetimes/datasets/"
MASTER_FILE = "CDNOW_master.txt"
SAMPLE_FILE = "CDNOW_sample.txt"
SUMMARY_FILE = "cdnow_customers_summary.csv"
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "crm-suite" / "cdnow"


def installed_datasets_dir():
    """Return the ``datasets`` folder of an installed lifetimes, or None.

    ``find_spec`` locates the package without importing it, because importing
    lifetimes needs pandas and scipy, which nothing here uses.
    """
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(spec.submodule_search_locations[0]) / "datasets"
    return folder if folder.is_dir() else None


def find_cdnow_file(name=MASTER_FILE, cache_dir=None):
    """Return the path of the lifetimes data file ``name``.

    Looks in the installed lifetimes package, then in ``cache_dir``
    (``~/.cache/crm-suite/cdnow`` by default), and otherwise downloads the
    lifetimes wheel with pip into ``cache_dir`` and extracts the file there.
    Raises ``FileNotFoundError`` when the wheel has no such file and
    ``subprocess.CalledProcessError`` when pip fails.
    """
    folder = installed_datasets_dir()
    if folder and (folder / name).is_file():
        return folder / name
    cache_dir = Path(cache_dir or DEFAULT_CACHE_DIR)
    target = cache_dir / name
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache_dir.glob("[Ll]ifetimes-*.whl"))
    if not wheels:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                LIFETIMES_REQUIREMENT,
                "--no-deps",
                "--only-binary=:all:",
                "--dest",
                str(cache_dir),
                "--quiet",
            ],
            check=True,
        )
        wheels = sorted(cache_dir.glob("[Ll]ifetimes-*.whl"))
    if not wheels:
        raise FileNotFoundError(
            f"pip downloaded no lifetimes wheel into {cache_dir}; "
            f"run 'pip download {LIFETIMES_REQUIREMENT} --no-deps -d {cache_dir}'."
        )
    with zipfile.ZipFile(wheels[-1]) as archive:
        member = DATASETS_MEMBER + name
        if member not in archive.namelist():
            raise FileNotFoundError(f"{wheels[-1]} has no {member}.")
        # Written under a temporary name first so that an interrupted run
        # leaves no truncated file behind.
        partial = target.with_suffix(target.suffix + ".part")
        partial.write_bytes(archive.read(member))
        partial.replace(target)
    return target
