"""File checks of docker-compose.yml and the files it uses under docker/.

The demo must run the official images, install every addon of the suite on
the first start, publish its ports on the loopback interface only and send
every e-mail to Mailpit. These tests read the files and need no server and no
Docker engine.
"""

import configparser
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
ODOO_CONF_TARGET = "/etc/odoo/odoo.conf"
ADDONS_TARGET = "/mnt/extra-addons"
POSTGRES_DATA = "/var/lib/postgresql/data"


@pytest.fixture(scope="module")
def compose():
    with COMPOSE_FILE.open(encoding="utf-8") as compose_file:
        return yaml.safe_load(compose_file)


@pytest.fixture(scope="module")
def services(compose):
    return compose.get("services") or {}


def parse_volume(entry):
    """Return (source, target, read_only) of a short or long volume entry."""
    if isinstance(entry, dict):
        return entry.get("source"), entry.get("target"), bool(entry.get("read_only"))
    parts = entry.split(":")
    if len(parts) == 1:
        return None, parts[0], False
    options = parts[2].split(",") if len(parts) > 2 else []
    return parts[0], parts[1], "ro" in options


def find_volume(service, target):
    for entry in service.get("volumes", []):
        source, mount_point, read_only = parse_volume(entry)
        if mount_point == target:
            return source, read_only
    return None, False


def base_image(service):
    """Return the image a service runs, or the FROM image of its Dockerfile."""
    build = service.get("build")
    if not build:
        return service.get("image")
    if isinstance(build, str):
        build = {"context": build}
    dockerfile = (
        ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
    )
    for line in dockerfile.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\s*FROM\s+(\S+)", line, re.IGNORECASE)
        if match:
            return match.group(1)
    return None


def environment(service):
    """Return the environment of a service as a dict, from either compose syntax."""
    values = service.get("environment") or {}
    if isinstance(values, list):
        values = dict(item.split("=", 1) for item in values)
    return {key: str(value) for key, value in values.items()}


@pytest.fixture(scope="module")
def odoo_conf(services):
    source, _read_only = find_volume(services["odoo"], ODOO_CONF_TARGET)
    assert source, f"the odoo service mounts no file at {ODOO_CONF_TARGET}"
    parser = configparser.ConfigParser(interpolation=None)
    with (ROOT / source).open(encoding="utf-8") as conf_file:
        parser.read_file(conf_file)
    return parser["options"]


# ----------------------------------------------------------------------
# Services and images
# ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["db", "mailpit", "odoo"])
def test_service_defined(services, name):
    assert name in services, (
        f"docker-compose.yml has no service {name!r}: {sorted(services)}"
    )


def test_db_image_postgres_16(services):
    image = services["db"].get("image")
    assert image == "postgres:16", f"db runs {image!r}, expected postgres:16"


def test_odoo_image_official_18(services):
    image = base_image(services["odoo"])
    assert image == "odoo:18.0", (
        f"odoo runs or builds from {image!r}, expected the official odoo:18.0"
    )


def test_mailpit_image(services):
    image = services["mailpit"].get("image", "")
    assert image.split(":")[0] == "axllent/mailpit", (
        f"mailpit runs {image!r}, expected axllent/mailpit"
    )


def test_odoo_dockerfile_installs_phonenumbers(services):
    build = services["odoo"].get("build")
    assert build, "odoo has no build section, so nothing installs phonenumbers"
    dockerfile = ROOT / build["context"] / build.get("dockerfile", "Dockerfile")
    # Join continuation lines so that each RUN instruction is one line.
    text = dockerfile.read_text(encoding="utf-8").replace("\\\n", " ")
    pip_install = r"^\s*RUN\b.*\bpip3? install\b.*\bphonenumbers\b"
    assert re.search(pip_install, text, re.MULTILINE), (
        f"{dockerfile.relative_to(ROOT)} does not pip install phonenumbers, "
        "which crm_consent imports"
    )


# ----------------------------------------------------------------------
# Start order and volumes
# ----------------------------------------------------------------------


def test_db_has_healthcheck(services):
    test = (services["db"].get("healthcheck") or {}).get("test")
    assert test, "db has no healthcheck, so odoo cannot wait until PostgreSQL is ready"


def test_odoo_waits_for_healthy_db(services):
    depends_on = services["odoo"].get("depends_on") or {}
    condition = (
        depends_on.get("db", {}).get("condition")
        if isinstance(depends_on, dict)
        else None
    )
    assert condition == "service_healthy", (
        f"odoo depends on db with condition {condition!r}, expected service_healthy"
    )


def test_odoo_depends_on_mailpit(services):
    depends_on = services["odoo"].get("depends_on") or {}
    assert "mailpit" in depends_on, (
        "odoo does not depend on mailpit, its only mail server"
    )


def test_addons_mounted_read_only(services):
    source, read_only = find_volume(services["odoo"], ADDONS_TARGET)
    assert source is not None, f"odoo mounts nothing at {ADDONS_TARGET}"
    assert (ROOT / source).resolve() == (ROOT / "addons").resolve(), (
        f"odoo mounts {source!r} at {ADDONS_TARGET}, expected ./addons"
    )
    assert read_only, f"./addons is mounted read-write at {ADDONS_TARGET}, expected :ro"


def test_db_data_in_named_volume(compose, services):
    source, _read_only = find_volume(services["db"], POSTGRES_DATA)
    assert source, f"db mounts no volume at {POSTGRES_DATA}, so the database is lost"
    declared = compose.get("volumes") or {}
    assert source in declared, (
        f"db stores its data in {source!r}, which is not a named volume "
        f"declared under volumes: {sorted(declared)}"
    )


def test_odoo_filestore_in_named_volume(compose, services):
    source, _read_only = find_volume(services["odoo"], "/var/lib/odoo")
    assert source, "odoo mounts no volume at /var/lib/odoo, so the filestore is lost"
    assert source in (compose.get("volumes") or {}), (
        f"odoo stores its filestore in {source!r}, which is not a declared named volume"
    )


# ----------------------------------------------------------------------
# Network exposure
# ----------------------------------------------------------------------


def published_ports(service):
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            yield (
                entry.get("host_ip"),
                str(entry.get("published")),
                str(entry.get("target")),
            )
        else:
            parts = str(entry).split(":")
            host_ip = parts[0] if len(parts) == 3 else None
            yield host_ip, parts[-2] if len(parts) > 1 else None, parts[-1]


@pytest.mark.parametrize("name", ["db", "mailpit", "odoo"])
def test_ports_bound_to_loopback(services, name):
    for host_ip, published, target in published_ports(services.get(name, {})):
        assert host_ip == "127.0.0.1", (
            f"{name} publishes port {target} on {host_ip or 'every interface'} "
            f"(host port {published}), expected 127.0.0.1 only"
        )


@pytest.mark.parametrize(
    ("name", "target", "published"),
    [("odoo", "8069", "8069"), ("mailpit", "8025", "8025")],
)
def test_web_port_published(services, name, target, published):
    ports = [(port, inside) for _ip, port, inside in published_ports(services[name])]
    assert (published, target) in ports, (
        f"{name} does not publish port {target} as 127.0.0.1:{published}: {ports}"
    )


def test_db_and_smtp_not_published(services):
    db_ports = list(published_ports(services["db"]))
    assert not db_ports, (
        f"db publishes {db_ports}; PostgreSQL must stay inside the network"
    )
    smtp_ports = [
        entry for entry in published_ports(services["mailpit"]) if entry[2] == "1025"
    ]
    assert not smtp_ports, f"mailpit publishes its SMTP port: {smtp_ports}"


# ----------------------------------------------------------------------
# Mail server
# ----------------------------------------------------------------------


def test_smtp_server_is_mailpit(odoo_conf):
    server = odoo_conf.get("smtp_server")
    assert server == "mailpit", (
        f"odoo.conf sets smtp_server = {server!r}, expected mailpit"
    )


def test_smtp_port_1025(odoo_conf):
    port = odoo_conf.get("smtp_port")
    assert port == "1025", f"odoo.conf sets smtp_port = {port!r}, expected 1025"


def test_mailpit_listens_on_smtp_port(services, odoo_conf):
    bind = environment(services["mailpit"]).get("MP_SMTP_BIND_ADDR", "0.0.0.0:1025")
    port = bind.rsplit(":", 1)[-1]
    assert port == odoo_conf.get("smtp_port"), (
        f"mailpit listens for SMTP on {bind}, but odoo.conf sends to port "
        f"{odoo_conf.get('smtp_port')}"
    )


def test_mailpit_relays_nothing(services):
    relay = [
        key
        for key in environment(services["mailpit"])
        if key.startswith("MP_SMTP_RELAY")
    ]
    assert not relay, (
        f"mailpit has relay settings {relay}, so e-mail could leave the machine"
    )


def test_addons_define_no_mail_server():
    files = [
        path.relative_to(ROOT)
        for path in (ROOT / "addons").rglob("*")
        if path.suffix in (".xml", ".csv")
        and re.search(rb"ir[._]mail[._]server", path.read_bytes())
    ]
    assert not files, (
        f"{files} define an outgoing mail server, which Odoo would use instead of "
        "the smtp_server of odoo.conf"
    )


# ----------------------------------------------------------------------
# Odoo configuration and first start
# ----------------------------------------------------------------------


def test_odoo_conf_db_matches_postgres(services, odoo_conf):
    postgres_env = environment(services["db"])
    assert odoo_conf.get("db_host") == "db", (
        f"odoo.conf sets db_host = {odoo_conf.get('db_host')!r}, expected the db service"
    )
    assert odoo_conf.get("db_user") == postgres_env.get("POSTGRES_USER"), (
        f"odoo.conf sets db_user = {odoo_conf.get('db_user')!r}, but db creates "
        f"{postgres_env.get('POSTGRES_USER')!r}"
    )
    assert odoo_conf.get("db_password") == postgres_env.get("POSTGRES_PASSWORD"), (
        "odoo.conf sets a db_password other than POSTGRES_PASSWORD of the db service"
    )


def test_odoo_conf_addons_path(odoo_conf):
    paths = [path.strip() for path in odoo_conf.get("addons_path", "").split(",")]
    assert ADDONS_TARGET in paths, (
        f"odoo.conf addons_path {paths} lacks {ADDONS_TARGET}, where ./addons is mounted"
    )


def test_odoo_conf_list_db_disabled(odoo_conf):
    list_db = odoo_conf.get("list_db")
    assert list_db == "False", f"odoo.conf sets list_db = {list_db!r}, expected False"


def test_odoo_conf_email_from(odoo_conf):
    assert odoo_conf.get("email_from", "False") != "False", (
        "odoo.conf sets no email_from"
    )


def test_first_start_installs_every_addon(services):
    installed = environment(services["odoo"]).get("CRM_DEMO_ADDONS", "")
    installed = sorted(name.strip() for name in installed.split(",") if name.strip())
    expected = sorted(
        path.parent.name for path in (ROOT / "addons").glob("*/__manifest__.py")
    )
    assert installed == expected, (
        f"the first start installs {installed}, expected every addon of addons/: {expected}"
    )


def test_first_start_database_crm_demo(services, odoo_conf):
    database = environment(services["odoo"]).get("CRM_DEMO_DB")
    assert database == "crm_demo", (
        f"the first start creates {database!r}, expected crm_demo"
    )
    assert odoo_conf.get("db_name") == database, (
        f"odoo.conf serves {odoo_conf.get('db_name')!r}, not the database {database!r}"
    )


def test_start_script_installs_with_demo_and_spanish(services):
    command = services["odoo"].get("command")
    command = command if isinstance(command, list) else str(command).split()
    assert command and command[0] == "/usr/local/bin/start-odoo.sh", (
        f"odoo runs {command}, expected /usr/local/bin/start-odoo.sh"
    )
    script = (ROOT / "docker" / "start-odoo.sh").read_text(encoding="utf-8")
    assert '--init="$CRM_DEMO_ADDONS"' in script, (
        "docker/start-odoo.sh does not pass CRM_DEMO_ADDONS to odoo --init"
    )
    assert "--load-language=es_ES" in script, "docker/start-odoo.sh does not load es_ES"
    assert "without-demo" not in script, (
        "docker/start-odoo.sh installs without demo data"
    )


# ----------------------------------------------------------------------
# CDNOW demo
# ----------------------------------------------------------------------

TOOLS_TARGET = "/mnt/crm-tools"


def test_tools_mounted_read_only(services):
    source, read_only = find_volume(services["odoo"], TOOLS_TARGET)
    assert source is not None, f"odoo mounts nothing at {TOOLS_TARGET}"
    assert (ROOT / source).resolve() == (ROOT / "tools").resolve(), (
        f"odoo mounts {source!r} at {TOOLS_TARGET}, expected ./tools"
    )
    assert read_only, f"./tools is mounted read-write at {TOOLS_TARGET}, expected :ro"


def test_start_script_runs_cdnow_demo():
    script = (ROOT / "docker" / "start-odoo.sh").read_text(encoding="utf-8")
    assert f"{TOOLS_TARGET}/cdnow_demo.py" in script, (
        f"docker/start-odoo.sh does not run {TOOLS_TARGET}/cdnow_demo.py"
    )
    assert "--url=http://127.0.0.1:8069" in script, (
        "docker/start-odoo.sh does not point the demo at the Odoo of its container"
    )
    assert '--mail-api="${CRM_DEMO_MAIL_API' in script, (
        "docker/start-odoo.sh does not pass CRM_DEMO_MAIL_API to the demo"
    )
    assert "--stop-after-init" in script, (
        "docker/start-odoo.sh installs the addons without stopping before the demo"
    )


def test_cdnow_demo_reads_mailpit_api(services):
    api = environment(services["odoo"]).get("CRM_DEMO_MAIL_API", "")
    ui_port = (
        environment(services["mailpit"])
        .get("MP_UI_BIND_ADDR", "0.0.0.0:8025")
        .rsplit(":", 1)[-1]
    )
    assert api == f"http://mailpit:{ui_port}", (
        f"CRM_DEMO_MAIL_API is {api!r}, expected Mailpit's web port "
        f"http://mailpit:{ui_port}"
    )


def test_cdnow_demo_enabled_with_known_file(services):
    values = environment(services["odoo"])
    assert values.get("CRM_DEMO_CDNOW") == "1", (
        f"CRM_DEMO_CDNOW is {values.get('CRM_DEMO_CDNOW')!r}: docker compose up "
        "would not run the CDNOW demo"
    )
    assert values.get("CRM_DEMO_CDNOW_FILE") in ("master", "sample"), (
        f"CRM_DEMO_CDNOW_FILE is {values.get('CRM_DEMO_CDNOW_FILE')!r}, expected "
        "master or sample"
    )


def test_dockerfile_installs_pinned_lifetimes(services):
    build = services["odoo"]["build"]
    dockerfile = ROOT / build["context"] / build.get("dockerfile", "Dockerfile")
    text = dockerfile.read_text(encoding="utf-8").replace("\\\n", " ")
    # The same pin as tools/cdnow_data.py, so the demo reads the same file.
    requirement = re.escape("lifetimes==0.11.3")
    assert re.search(
        rf"^\s*RUN\b.*\bpip3? install\b.*--no-deps\b.*\b{requirement}",
        text,
        re.MULTILINE,
    ), (
        f"{dockerfile.relative_to(ROOT)} does not pip install lifetimes==0.11.3 --no-deps"
    )
    tools_pin = (ROOT / "tools" / "cdnow_data.py").read_text(encoding="utf-8")
    assert '"lifetimes==0.11.3"' in tools_pin, (
        "tools/cdnow_data.py pins another lifetimes than docker/Dockerfile"
    )


def test_odoo_conf_allows_long_import(odoo_conf):
    # The CDNOW demo imports the master file in one XML-RPC call of several
    # minutes; a request past limit_time_real stops Odoo's threaded server.
    limit = int(odoo_conf.get("limit_time_real", "120"))
    assert limit >= 1800, (
        f"odoo.conf sets limit_time_real = {limit}, too short for the CDNOW import"
    )
