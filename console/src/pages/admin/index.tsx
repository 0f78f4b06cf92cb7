import type { Section } from "../../sections";
import { PageTitle } from "../../ui";

function Applications() {
  return <PageTitle title="入会申请" />;
}

export const section: Section = {
  id: "admin",
  label: "工会管理",
  roles: ["union_admin"],
  nav: [{ to: "/admin/applications", label: "入会申请" }],
  routes: [{ path: "/admin/applications", component: Applications }],
};
