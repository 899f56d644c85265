/** @odoo-module **/

import { registry } from "@web/core/registry";

// Run in Spanish: the labels below are the es_ES translations.
registry.category("web_tour.tours").add("crm_consent_partner_tab", {
    steps: () => [
        {
            content: "Open the consent tab of the partner form",
            trigger: ".o_notebook .nav-link:contains(Consentimiento)",
            run: "click",
        },
        {
            content: "The e-mail marketing grant is listed with its state",
            trigger:
                ".o_field_widget[name=consent_ids] .o_data_row:contains(Correo electrónico):contains(Concedido)",
        },
        {
            content: "The phone channel, never asked, has no line",
            trigger:
                ".o_field_widget[name=consent_ids]:not(:has(.o_data_row:contains(Llamada telefónica)))",
        },
        {
            content: "Open the partner's consent ledger",
            trigger: "button[name=action_view_consent_events]",
            run: "click",
        },
        {
            content: "The ledger lists the grant",
            trigger: ".o_list_view .o_data_row:contains(Concedido):contains(API)",
        },
    ],
});
