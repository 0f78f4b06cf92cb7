import type { Section } from "../../sections";
import { PageTitle } from "../../ui";

function Confirmations() {
  return <PageTitle title="待确认理赔" />;
}

export const section: Section = {
  id: "finance",
  label: "财务",
  roles: ["finance_approver"],
  nav: [{ to: "/finance", label: "待确认理赔" }],
  routes: [{ path: "/finance", component: Confirmations }],
};
