import type { Section } from "../../sections";
import { PageTitle } from "../../ui";

function Stations() {
  return <PageTitle title="我的驿站" />;
}

export const section: Section = {
  id: "manager",
  label: "驿站管理",
  roles: ["station_manager"],
  nav: [{ to: "/stations", label: "我的驿站" }],
  routes: [{ path: "/stations", component: Stations }],
};
