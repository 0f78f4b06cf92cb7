import { useEffect, useState } from "preact/hooks";
import { api, call } from "./api/client";
import { section as admin } from "./pages/admin";
import { section as finance } from "./pages/finance";
import { section as manager } from "./pages/manager";
import { section as reviewer } from "./pages/reviewer";
import { Link, match, navigate, useLocation } from "./router";
import type { Section } from "./sections";
import { session, type StaffUser } from "./session";
import { useStaffNamesArrive } from "./staff-names";
import { Field, Notices, PageTitle, ProblemAlert, useAction, value } from "./ui";

const SECTIONS: Section[] = [manager, reviewer, finance, admin];

const ROLE_NAMES: Record<string, string> = {
  station_manager: "驿站管理员",
  claims_reviewer: "理赔审核员",
  finance_approver: "财务审批人",
  union_admin: "工会管理员",
};

function useUser(): StaffUser | null {
  const [user, setUser] = useState(session.user());
  useEffect(() => session.subscribe(() => setUser(session.user())), []);
  return user;
}

function visibleSections(user: StaffUser): Section[] {
  return SECTIONS.filter((s) => s.roles.some((r) => session.has(r)) || (s.visible?.(user) ?? false));
}

export function App() {
  const user = useUser();
  useStaffNamesArrive();
  const { path } = useLocation();
  if (!user) return <SignIn />;
  if (path === "/sign-in") {
    navigate("/", true);
    return null;
  }
  const sections = visibleSections(user);
  let page = null;
  for (const s of sections) {
    for (const r of s.routes) {
      const params = match(r.path, path);
      if (params) {
        const C = r.component;
        // Keyed by route and params: another id is another page, never the last one's state.
        page = <C key={`${r.path}|${JSON.stringify(params)}`} params={params} />;
        break;
      }
    }
    if (page) break;
  }
  if (!page) page = path === "/" ? <Home sections={sections} /> : <NotFound />;
  return <Layout user={user} sections={sections} path={path}>{page}</Layout>;
}

function Layout({
  user,
  sections,
  path,
  children,
}: {
  user: StaffUser;
  sections: Section[];
  path: string;
  children: preact.ComponentChildren;
}) {
  const signOut = useAction(() => session.signOut());
  return (
    <div class="shell">
      <a class="skip" href="#main">
        跳到主要内容
      </a>
      <header class="topbar">
        <Link to="/" class="brand">
          工友<span> · 工作台</span>
        </Link>
        <div class="who">
          <span>
            {user.display_name}（{user.org.name}）
          </span>
          <button type="button" class="secondary" disabled={signOut.pending} onClick={() => void signOut.run()}>
            退出登录
          </button>
        </div>
      </header>
      <nav class="sidenav" aria-label="主导航">
        {sections.map((s) => (
          <section key={s.id}>
            <h2>{s.label}</h2>
            <ul>
              {s.nav.map((n) => {
                // Only the most specific item that contains the path is current.
                const best = s.nav
                  .filter((x) => path === x.to || path.startsWith(`${x.to}/`))
                  .sort((a, b) => b.to.length - a.to.length)[0];
                const current = best?.to === n.to;
                return (
                  <li key={n.to}>
                    <Link to={n.to} aria-current={current ? "page" : undefined}>
                      {n.label}
                    </Link>
                  </li>
                );
              })}
            </ul>
          </section>
        ))}
      </nav>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
      <Notices />
    </div>
  );
}

function Home({ sections }: { sections: Section[] }) {
  const user = session.user();
  if (sections.length === 1 && sections[0]?.nav[0]) {
    // One role: its main page is the home page.
    navigate(sections[0].nav[0].to, true);
    return null;
  }
  return (
    <>
      <PageTitle title="工作台" />
      <p>
        您好，{user?.display_name}。您的角色：
        {[...new Set(user?.roles.map((r) => `${ROLE_NAMES[r.role] ?? r.role}（${r.org_name}）`))].join("、")}
      </p>
      {sections.length === 0 && <p>您的账号还没有分配角色，请联系工会管理员。</p>}
      <div class="cards">
        {sections.map((s) => (
          <section class="card" key={s.id}>
            <h2>{s.label}</h2>
            <ul>
              {s.nav.map((n) => (
                <li key={n.to}>
                  <Link to={n.to}>{n.label}</Link>
                </li>
              ))}
            </ul>
          </section>
        ))}
      </div>
    </>
  );
}

function NotFound() {
  return (
    <>
      <PageTitle title="页面不存在" />
      <p>
        找不到这个页面，或者您的角色不能查看它。<Link to="/">回到工作台</Link>
      </p>
    </>
  );
}

function SignIn() {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [ended] = useState(() => {
    const why = session.endedBecause;
    session.endedBecause = null;
    return why;
  });
  const [workerRefused, setWorkerRefused] = useState(false);
  const signIn = useAction(async () => {
    const tokens = await call(() => api.POST("/api/v1/auth/sessions/password", { body: { username, password } }));
    if (!session.accept(tokens)) setWorkerRefused(true);
  });
  useEffect(() => {
    document.title = "登录 · 工友工作台";
  }, []);
  return (
    <main id="main" class="sign-in">
      <h1>工友工作台</h1>
      <p class="muted">驿站管理员、理赔审核员、财务与工会管理员在这里办理业务。</p>
      {ended === "expired" && <p role="status">登录已过期，请重新登录。</p>}
      {ended === "signed_out" && <p role="status">您已退出登录。</p>}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setWorkerRefused(false);
          void signIn.run();
        }}
      >
        <Field label="用户名">
          {(p) => (
            <input {...p} name="username" autoComplete="username" required value={username} onInput={(e) => setUsername(value(e))} />
          )}
        </Field>
        <Field label="密码">
          {(p) => (
            <input
              {...p}
              name="password"
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onInput={(e) => setPassword(value(e))}
            />
          )}
        </Field>
        <ProblemAlert problem={signIn.problem} />
        {workerRefused && (
          <p class="problem" role="alert">
            工作台仅供工会工作人员使用，会员请使用工友 App 或小程序。
          </p>
        )}
        <button type="submit" disabled={signIn.pending}>
          {signIn.pending ? "正在登录…" : "登录"}
        </button>
      </form>
    </main>
  );
}
