// Names the queue and the claim page show beside the API's codes: a union's name
// (GET /orgs/{id}) and a plan's terms (GET /plans/{code}: benefit names, the documents each
// benefit asks for). Kept for the tab's life: they change rarely and every row asks.
import { api, call, type Schemas } from "../../api/client";

export type Org = Schemas["OrgView"];
export type Plan = Schemas["PlanView"];

const orgs = new Map<string, Promise<Org>>();
const plans = new Map<string, Promise<Plan>>();

function remembered<T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
  const have = cache.get(key);
  if (have) return have;
  const p = load();
  cache.set(key, p);
  // A failure is not remembered: the next page asks again.
  p.catch(() => cache.delete(key));
  return p;
}

export function org(id: string): Promise<Org> {
  return remembered(orgs, id, () => call(() => api.GET("/api/v1/orgs/{id}", { params: { path: { id } } })));
}

export function plan(code: string): Promise<Plan> {
  return remembered(plans, code, () => call(() => api.GET("/api/v1/plans/{code}", { params: { path: { code } } })));
}

/** The names of the orgs and plans of a page of rows, or what could not be had as null. */
export async function namesFor(
  orgIds: string[],
  planCodes: string[],
): Promise<{ orgs: Map<string, string>; benefits: Map<string, string>; plans: Map<string, string> }> {
  const uniqueOrgs = [...new Set(orgIds)];
  const uniquePlans = [...new Set(planCodes)];
  const [os, ps] = await Promise.all([
    Promise.allSettled(uniqueOrgs.map((id) => org(id))),
    Promise.allSettled(uniquePlans.map((c) => plan(c))),
  ]);
  const names = { orgs: new Map<string, string>(), benefits: new Map<string, string>(), plans: new Map<string, string>() };
  os.forEach((r, i) => {
    const id = uniqueOrgs[i];
    if (r.status === "fulfilled" && id) names.orgs.set(id, r.value.name);
  });
  ps.forEach((r) => {
    if (r.status !== "fulfilled") return;
    names.plans.set(r.value.code, r.value.name);
    for (const b of r.value.benefits) names.benefits.set(`${r.value.code}/${b.code}`, b.name);
  });
  return names;
}
