// The station manager's pages: the stations they keep, each station's page (hours,
// amenities, status, notice, position, photos, QR code, visits, reports) and the member-card
// check at the counter.
import type { Section } from "../../sections";
import { StationPage } from "./StationPage";
import { StationsList } from "./StationsList";
import { VerifyCard } from "./VerifyCard";

export const section: Section = {
  id: "manager",
  label: "驿站管理",
  roles: ["station_manager"],
  // Station managers are assigned per station, not granted a role on an org: `/me` counts
  // the stations the caller manages.
  visible: (user) => user.managed_stations > 0,
  nav: [
    { to: "/stations", label: "我的驿站" },
    { to: "/stations/verify-card", label: "核验会员卡" },
  ],
  routes: [
    { path: "/stations", component: StationsList },
    // Before `/stations/:id`, which would match it too.
    { path: "/stations/verify-card", component: VerifyCard },
    { path: "/stations/:id", component: StationPage },
  ],
};
