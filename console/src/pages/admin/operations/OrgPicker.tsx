// Picks an org within the caller's union-admin scope: the scope's top org first, then
// (optionally) one child at a time, each level a labelled <select> read from GET /orgs.
import { useEffect, useState } from "preact/hooks";
import { api, call, type Schemas } from "../../../api/client";
import { session } from "../../../session";
import { Field, ProblemAlert, toProblem, value } from "../../../ui";
import type { Problem } from "../../../api/client";

type Org = Schemas["OrgView"];

/** Every child of `parentId` (the API pages them; a union rarely has more than a few hundred). */
async function childrenOf(parentId: string): Promise<Org[]> {
  const all: Org[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 20; i++) {
    const page = await call(() =>
      api.GET("/api/v1/orgs", { params: { query: { parent_id: parentId, limit: 200, ...(cursor ? { cursor } : {}) } } }),
    );
    all.push(...page.items);
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  return all;
}

function Level({
  parentId,
  depth,
  chosen,
  onChoose,
  disabled,
}: {
  parentId: string;
  depth: number;
  chosen: string | undefined;
  onChoose: (id: string | undefined, name: string | undefined) => void;
  disabled?: boolean;
}) {
  const [orgs, setOrgs] = useState<Org[] | undefined>(undefined);
  const [problem, setProblem] = useState<Problem | undefined>(undefined);
  useEffect(() => {
    let live = true;
    setOrgs(undefined);
    childrenOf(parentId).then(
      (o) => live && setOrgs(o),
      (e: unknown) => live && setProblem(toProblem(e)),
    );
    return () => {
      live = false;
    };
  }, [parentId]);
  if (problem) return <ProblemAlert problem={problem} />;
  if (!orgs || orgs.length === 0) return null;
  return (
    <Field label={`下级组织（第 ${depth} 级，可不选）`}>
      {(p) => (
        <select {...p} value={chosen ?? ""} disabled={disabled} onChange={(e) => {
            const id = value(e);
            onChoose(id || undefined, orgs.find((o) => o.id === id)?.name);
          }}>
          <option value="">不再细分</option>
          {orgs.map((o) => (
            <option key={o.id} value={o.id}>
              {o.name}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

/**
 * The org chosen is the deepest level picked. `label` names the first level (the scope);
 * `onChange` gets the org id (or undefined while none is picked).
 */
export function OrgPicker({
  label,
  hint,
  error,
  onChange,
  disabled,
}: {
  label: string;
  hint?: string;
  error?: string;
  onChange: (orgId: string | undefined, name: string | undefined) => void;
  disabled?: boolean;
}) {
  const scopes = (session.user()?.roles ?? []).filter((r) => r.role === "union_admin");
  const [path, setPath] = useState<string[]>(() => (scopes.length === 1 && scopes[0] ? [scopes[0].org_id] : []));
  const [names, setNames] = useState<Record<string, string>>(() => Object.fromEntries(scopes.map((r) => [r.org_id, r.org_name])));
  const chosen = path[path.length - 1];
  useEffect(() => onChange(chosen, chosen ? names[chosen] : undefined), [chosen]); // eslint-disable-line react-hooks/exhaustive-deps
  const setAt = (level: number, id: string | undefined, name?: string) => {
    const next = path.slice(0, level);
    if (id) next.push(id);
    if (id && name) setNames((n) => ({ ...n, [id]: name }));
    setPath(next);
  };
  return (
    <div class="ops-org-picker">
      <Field label={label} hint={hint} error={error}>
        {(p) => (
          <select {...p} value={path[0] ?? ""} disabled={disabled} required onChange={(e) => setAt(0, value(e) || undefined)}>
            {scopes.length !== 1 && <option value="">请选择</option>}
            {scopes.map((r) => (
              <option key={r.org_id} value={r.org_id}>
                {r.org_name}
              </option>
            ))}
          </select>
        )}
      </Field>
      {path.map((id, i) => (
        <Level key={`${i}-${id}`} parentId={id} depth={i + 1} chosen={path[i + 1]} disabled={disabled} onChoose={(c, name) => setAt(i + 1, c, name)} />
      ))}
    </div>
  );
}
