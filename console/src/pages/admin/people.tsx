import type { NavItem, RouteDef } from "../../sections";
import { PageTitle } from "../../ui";

function Applications() {
  return <PageTitle title="入会申请" />;
}

export const nav: NavItem[] = [{ to: "/admin/applications", label: "入会申请" }];
export const routes: RouteDef[] = [{ path: "/admin/applications", component: Applications }];
