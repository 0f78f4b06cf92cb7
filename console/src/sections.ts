// What each staff role sees: its navigation and its pages. Each role's pages live in
// src/pages/<role>/ and export one `Section`; the layout shows the sections of the caller's
// roles (a union admin sees every section its role covers).
import type { ComponentType } from "preact";
import type { Role, StaffUser } from "./session";

export interface RouteDef {
  /** A console path, e.g. `/review/claims/:id`. */
  path: string;
  component: ComponentType<{ params: Record<string, string> }>;
}

export interface NavItem {
  to: string;
  label: string;
}

export interface Section {
  id: "manager" | "reviewer" | "finance" | "admin";
  label: string;
  /** Callers with one of these roles see the section. */
  roles: Role[];
  /** Callers for whom this is true see it too (station managers have no org role). */
  visible?: (user: StaffUser) => boolean;
  /** The first item is the section's main page. */
  nav: NavItem[];
  routes: RouteDef[];
}
