// The station manager's pages: the stations they keep, each station's page (hours,
// amenities, status, notice, position, photos, QR code, visits, reports) and the member-card
// check at the counter.
import type { Section } from "../../sections";
import "./role";
import { StationPage } from "./StationPage";
import { StationsList } from "./StationsList";
import { VerifyCard } from "./VerifyCard";

export const section: Section = {
  id: "manager",
  label: "驿站管理",
  roles: ["station_manager"],
  // 核验会员卡 (/stations/verify-card) is reached from the stations list and each station's
  // page: as a second nav item, the layout would mark both items current (prefix match).
  nav: [{ to: "/stations", label: "我的驿站" }],
  routes: [
    { path: "/stations", component: StationsList },
    // Before `/stations/:id`, which would match it too.
    { path: "/stations/verify-card", component: VerifyCard },
    { path: "/stations/:id", component: StationPage },
  ],
};
