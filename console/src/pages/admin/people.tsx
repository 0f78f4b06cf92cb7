// The union admin's people pages: membership applications (the admin's main page),
// identity-conflict reviews, transfers between unions, members, staff logins and roles.
import type { NavItem, RouteDef } from "../../sections";
import { ApplicationPage, Applications, Conflicts } from "./people/applications";
import { MemberPage, Members } from "./people/members";
import { NewStaff, StaffList } from "./people/staff";
import { Transfers } from "./people/transfers";

export const nav: NavItem[] = [
  { to: "/admin/applications", label: "入会申请" },
  { to: "/admin/conflicts", label: "身份冲突审核" },
  { to: "/admin/transfers", label: "转会审核" },
  { to: "/admin/members", label: "会员" },
  { to: "/admin/staff", label: "工作人员" },
];

export const routes: RouteDef[] = [
  { path: "/admin/applications", component: Applications },
  { path: "/admin/applications/:id", component: ApplicationPage },
  { path: "/admin/conflicts", component: Conflicts },
  { path: "/admin/transfers", component: Transfers },
  { path: "/admin/members", component: Members },
  { path: "/admin/members/:id", component: MemberPage },
  { path: "/admin/staff", component: StaffList },
  { path: "/admin/staff/new", component: NewStaff },
];
