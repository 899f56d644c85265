/** @odoo-module **/

import { registry } from "@web/core/registry";

// Public page, no login; the partner's language is Spanish.
registry.category("web_tour.tours").add("crm_consent_preference_centre", {
    steps: () => [
        {
            content: "The page is in Spanish",
            trigger: "h2:contains(Sus preferencias de comunicación)",
        },
        {
            content: "Refuse marketing e-mails",
            trigger: ".o_consent_row_email_marketing input[value=refused]",
            run: "click",
        },
        {
            content: "Save",
            trigger: "button.o_consent_save",
            run: "click",
        },
        {
            content: "The page confirms the change",
            trigger: ".o_consent_saved",
        },
        {
            content: "The refusal is now selected",
            trigger: ".o_consent_row_email_marketing input[value=refused]:checked",
        },
    ],
});
