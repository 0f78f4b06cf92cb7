import type { NavItem, RouteDef } from "../../sections";
import { PageTitle } from "../../ui";

function Plans() {
  return <PageTitle title="保障计划" />;
}

export const nav: NavItem[] = [{ to: "/admin/plans", label: "保障计划" }];
export const routes: RouteDef[] = [{ path: "/admin/plans", component: Plans }];
