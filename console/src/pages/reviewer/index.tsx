// The claims reviewer's pages: the review queue (/review) and one claim (/review/claims/:id).
import type { Section } from "../../sections";
import { ClaimPage } from "./claim";
import { Queue } from "./queue";

export const section: Section = {
  id: "reviewer",
  label: "理赔审核",
  roles: ["claims_reviewer"],
  nav: [{ to: "/review", label: "审核队列" }],
  routes: [
    { path: "/review", component: Queue },
    { path: "/review/claims/:id", component: ClaimPage },
  ],
};
