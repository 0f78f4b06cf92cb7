// The union admin's section: people (applications, identity conflicts, members, staff) in
// people.tsx and operations (plans, roster imports, campaigns, dead jobs) in operations.tsx.
import type { Section } from "../../sections";
import { nav as operationsNav, routes as operationsRoutes } from "./operations";
import { nav as peopleNav, routes as peopleRoutes } from "./people";

export const section: Section = {
  id: "admin",
  label: "工会管理",
  roles: ["union_admin"],
  nav: [...peopleNav, ...operationsNav],
  routes: [...peopleRoutes, ...operationsRoutes],
};
