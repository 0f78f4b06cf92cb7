import type { Section } from "../../sections";
import { PageTitle } from "../../ui";

function Queue() {
  return <PageTitle title="审核队列" />;
}

export const section: Section = {
  id: "reviewer",
  label: "理赔审核",
  roles: ["claims_reviewer"],
  nav: [{ to: "/review", label: "审核队列" }],
  routes: [{ path: "/review", component: Queue }],
};
