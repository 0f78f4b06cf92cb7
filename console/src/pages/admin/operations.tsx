// The union admin's operations: plans (their versions, terms, publication and closing),
// roster imports into a plan, campaigns (notices to members) and the dead-job queue.
// Pages live in ./operations/; admin/index.tsx merges this nav and these routes.
import type { NavItem, RouteDef } from "../../sections";
import { CampaignList, CampaignPage, NewCampaign } from "./operations/Campaigns";
import { Jobs } from "./operations/Jobs";
import { EditPlan, NewPlan, PlanList, PlanPage } from "./operations/Plans";
import { ImportPage } from "./operations/Roster";
import "./operations/operations.css";

export const nav: NavItem[] = [
  { to: "/admin/plans", label: "保障计划" },
  { to: "/admin/campaigns", label: "群发通知" },
  { to: "/admin/jobs", label: "后台任务" },
];

export const routes: RouteDef[] = [
  { path: "/admin/plans", component: PlanList },
  { path: "/admin/plans/new", component: NewPlan },
  { path: "/admin/plans/:code", component: PlanPage },
  { path: "/admin/plans/:code/edit", component: EditPlan },
  { path: "/admin/roster-imports/:id", component: ImportPage },
  { path: "/admin/campaigns", component: CampaignList },
  { path: "/admin/campaigns/new", component: NewCampaign },
  { path: "/admin/campaigns/:id", component: CampaignPage },
  { path: "/admin/jobs", component: Jobs },
];
