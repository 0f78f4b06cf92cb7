// Station managers are assigned per station (PUT /admin/stations/{id}/managers), not granted
// a role on an org: the API's `roles` never lists `station_manager` (services/src/staff.rs),
// so the layout, which shows sections by role, would hide these pages from demo-manager.
// Until the layout asks the API itself (see the report), this adds the role to the signed-in
// user as the console keeps it when GET /me/stations answers at least one station — only a
// display hint: every request is still authorised by the API.
import { api } from "../../api/client";
import { session } from "../../session";

/** Per staff id: whether they manage a station (asked once per page load). */
const manages = new Map<string, boolean>();
const asking = new Set<string>();

function addRole(): void {
  const user = session.user();
  if (!user || session.has("station_manager")) return;
  session.updateUser({
    ...user,
    roles: [...user.roles, { role: "station_manager", org_id: user.org.id, org_name: user.org.name }],
  });
}

function check(): void {
  const user = session.user();
  if (!user || session.has("station_manager")) return;
  const known = manages.get(user.id);
  if (known !== undefined) {
    if (known) addRole();
    return;
  }
  if (asking.has(user.id)) return;
  asking.add(user.id);
  void api
    .GET("/api/v1/me/stations")
    .then(({ data }) => {
      manages.set(user.id, (data?.items.length ?? 0) > 0);
      if (session.user()?.id === user.id && manages.get(user.id)) addRole();
    })
    .catch(() => undefined)
    .finally(() => asking.delete(user.id));
}

session.subscribe(check);
check();
