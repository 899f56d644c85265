"""Every addon ships a complete Spanish translation for Spain and Latin America."""

import base64
import re
from pathlib import Path

import polib
import pytest

ADDONS = Path(__file__).resolve().parent.parent / "addons"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[srd]|%[sd]|</?[a-z][^>]*>")
TRANSLATED_ADDONS = sorted(
    path.parent.parent.name for path in ADDONS.glob("*/i18n/*.pot")
)


@pytest.mark.parametrize("addon", TRANSLATED_ADDONS)
@pytest.mark.parametrize("lang", ["es", "es_419"])
def test_po_file_complete(addon, lang):
    template = polib.pofile(str(ADDONS / addon / "i18n" / f"{addon}.pot"))
    po_path = ADDONS / addon / "i18n" / f"{lang}.po"
    assert po_path.exists(), f"{po_path} is missing"
    translations = {entry.msgid: entry for entry in polib.pofile(str(po_path))}

    missing = [e.msgid for e in template if not translations.get(e.msgid, None)]
    assert not missing, f"{po_path.name} lacks {len(missing)} entries: {missing[:5]}"
    empty = [e.msgid for e in template if not translations[e.msgid].msgstr]
    assert not empty, f"{po_path.name} leaves {len(empty)} untranslated: {empty[:5]}"
    fuzzy = [e.msgid for e in template if "fuzzy" in translations[e.msgid].flags]
    assert not fuzzy, f"{po_path.name} has fuzzy entries: {fuzzy[:5]}"


@pytest.mark.parametrize("addon", TRANSLATED_ADDONS)
@pytest.mark.parametrize("lang", ["es", "es_419"])
def test_po_placeholders_kept(addon, lang):
    po = polib.pofile(str(ADDONS / addon / "i18n" / f"{lang}.po"))
    broken = [
        entry.msgid
        for entry in po
        if entry.msgstr
        and sorted(PLACEHOLDER.findall(entry.msgid))
        != sorted(PLACEHOLDER.findall(entry.msgstr))
    ]
    assert not broken, f"{lang}.po changes placeholders in: {broken[:5]}"


def test_every_addon_has_template():
    addons = sorted(p.parent.name for p in ADDONS.glob("*/__manifest__.py"))
    untranslated = [addon for addon in addons if addon not in TRANSLATED_ADDONS]
    # Installable shells have no user-visible strings yet.
    shells = [
        addon
        for addon in untranslated
        if any((ADDONS / addon).glob("models/*.py"))
        or any((ADDONS / addon).glob("views/*.xml"))
    ]
    assert not shells, f"addons with screens but no i18n/<addon>.pot: {shells}"


@pytest.mark.parametrize("addon", TRANSLATED_ADDONS)
def test_template_matches_code(odoo, addon, tmp_path):
    """The committed .pot lists exactly the strings Odoo exports today."""
    [module_id] = odoo.execute("ir.module.module", "search", [("name", "=", addon)])
    wizard_id = odoo.execute(
        "base.language.export",
        "create",
        {"lang": "__new__", "format": "po", "modules": [(6, 0, [module_id])]},
    )
    odoo.execute("base.language.export", "act_getfile", [wizard_id])
    [export] = odoo.execute("base.language.export", "read", [wizard_id], ["data"])
    exported_path = tmp_path / f"{addon}.pot"
    exported_path.write_bytes(base64.b64decode(export["data"]))

    exported = {entry.msgid for entry in polib.pofile(str(exported_path))}
    committed = {
        entry.msgid
        for entry in polib.pofile(str(ADDONS / addon / "i18n" / f"{addon}.pot"))
    }
    assert not exported - committed, (
        f"strings missing from {addon}.pot: {sorted(exported - committed)[:5]}"
    )
    assert not committed - exported, (
        f"stale strings in {addon}.pot: {sorted(committed - exported)[:5]}"
    )
