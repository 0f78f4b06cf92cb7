// What a reviewer does with a claim: take it (or take it over), approve it (the computed
// amount, or less with a reason), return it to the claimant for more, or reject it. Each
// decision that needs a reason is a dialog; the API's problem (a 409 when someone else got
// there first, say) shows in it, and the claim is read again so the page shows where it is.
import type { ComponentChildren } from "preact";
import { useRef, useState } from "preact/hooks";
import { ApiProblem, api, call, type Schemas } from "../../api/client";
import { session } from "../../session";
import { Badge, Dialog, DialogButtons, Field, ProblemAlert, money, notify, useAction, value } from "../../ui";
import {
  REJECT_REASONS,
  RETURN_REASONS,
  REVIEW_NOTE_REASONS,
  STATUS,
  toFen,
  type RejectReason,
  type ReturnReason,
  type ReviewNoteReason,
} from "./labels";

type ClaimView = Schemas["ClaimView"];
type Which = "approve" | "return" | "reject" | "take-over" | null;

const NOTE_MAX = 500;

/** The actions the claim's state allows, as buttons, and the dialog open now. */
export function Actions({ claim, onChanged }: { claim: ClaimView; onChanged: () => void }) {
  const [open, setOpen] = useState<Which>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const me = session.user()?.id;
  const holder = claim.staff?.assigned_to ?? null;
  const mine = holder !== null && holder === me;
  const path = { params: { path: { id: claim.id } } };
  const take = useAction(() => rereadOnConflict(call(() => api.POST("/api/v1/review/claims/{id}/assign", path)), onChanged));

  const done = (view: ClaimView | undefined, what: string) => {
    if (!view) return;
    setOpen(null);
    notify(`${what}：申请现在的状态是“${view.status_text}”`);
    onChanged();
    // The button pressed may be gone with the old state: keep the keyboard here.
    setTimeout(() => heading.current?.focus(), 0);
  };

  let buttons: ComponentChildren = null;
  let note: ComponentChildren = null;
  switch (claim.status) {
    case "submitted":
      note = <p>这件申请在等待审核。开始审核后由您负责，其他审核员会看到它由您处理。</p>;
      buttons = (
        <button
          type="button"
          disabled={take.pending}
          onClick={async () => {
            const v = await take.run();
            if (v) done(v, "已开始审核");
          }}
        >
          开始审核
        </button>
      );
      break;
    case "under_review":
      if (mine) {
        note = <p>这件申请由您审核中。核对材料和规则结果后作出决定。</p>;
        buttons = (
          <>
            <button type="button" onClick={() => setOpen("approve")}>
              批准
            </button>
            <button type="button" class="secondary" onClick={() => setOpen("return")}>
              退回补充材料
            </button>
            <button type="button" class="danger" onClick={() => setOpen("reject")}>
              驳回
            </button>
          </>
        );
      } else {
        note = <p>这件申请正由其他审核员审核。如需由您处理，可以接手审核。</p>;
        buttons = (
          <button type="button" class="secondary" onClick={() => setOpen("take-over")}>
            接手审核
          </button>
        );
      }
      break;
    case "awaiting_confirmation":
      note = (
        <p>
          已批准 {money(claim.approved_amount)}，超过复核线 {money(claim.staff?.confirm_threshold)}，等待财务审批人复核。
          复核前如发现问题，可以驳回。
        </p>
      );
      buttons = (
        <button type="button" class="danger" onClick={() => setOpen("reject")}>
          驳回
        </button>
      );
      break;
    case "returned":
      note = <p>已退回申请人补充材料，等申请人重新提交后回到审核队列。</p>;
      break;
    default:
      note = <p>这件申请已不在审核中（{claim.status_text}），没有可做的审核操作。</p>;
  }

  return (
    <section class="panel rv-panel rv-actions" aria-labelledby="rv-actions-title">
      <div class="rv-actions-head">
        <h2 id="rv-actions-title" ref={heading} tabIndex={-1}>
          审核操作
        </h2>
        <p class="rv-status-line">
          当前状态 <Badge tone={STATUS[claim.status].tone}>{claim.status_text}</Badge>
          {holder && <span class="muted small">审核人：{mine ? "我" : "其他审核员"}</span>}
        </p>
      </div>
      {note}
      <ProblemAlert problem={take.problem} />
      {buttons && <div class="row">{buttons}</div>}
      {open === "approve" && <ApproveDialog claim={claim} onClose={() => setOpen(null)} onDone={done} reread={onChanged} />}
      {open === "return" && <ReturnDialog claim={claim} onClose={() => setOpen(null)} onDone={done} reread={onChanged} />}
      {open === "reject" && <RejectDialog claim={claim} onClose={() => setOpen(null)} onDone={done} reread={onChanged} />}
      {open === "take-over" && (
        <TakeOverDialog claim={claim} onClose={() => setOpen(null)} onDone={done} reread={onChanged} />
      )}
    </section>
  );
}

interface DialogProps {
  claim: ClaimView;
  onClose: () => void;
  onDone: (view: ClaimView | undefined, what: string) => void;
  /** Reads the claim again (after a 409: someone else changed it). */
  reread: () => void;
}

/** The action's answer; on a 409 (another change won) or 404 the claim is read again too. */
async function rereadOnConflict<T>(p: Promise<T>, reread: () => void): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof ApiProblem && (e.problem.status === 409 || e.problem.status === 404)) reread();
    throw e;
  }
}

function NoteField({ label, hint, note, setNote }: { label: string; hint: string; note: string; setNote: (s: string) => void }) {
  return (
    <Field label={label} hint={`${hint}（${note.length}/${NOTE_MAX}）`}>
      {(p) => <textarea {...p} rows={3} maxLength={NOTE_MAX} value={note} onInput={(e) => setNote(value(e))} />}
    </Field>
  );
}

function Buttons({ pending, submit, danger, onClose }: { pending: boolean; submit: string; danger?: boolean; onClose: () => void }) {
  return (
    <DialogButtons onCancel={onClose} label={submit} pending={pending} danger={danger} />
  );
}

function ApproveDialog({ claim, onClose, onDone, reread }: DialogProps) {
  const computed = claim.amount ?? "";
  const [amount, setAmount] = useState(computed);
  const [reason, setReason] = useState<ReviewNoteReason | "">("");
  const [note, setNote] = useState("");
  const [tried, setTried] = useState(false);
  const fen = toFen(amount);
  const computedFen = toFen(computed);
  const lower = fen !== null && computedFen !== null && fen < computedFen;
  const threshold = toFen(claim.staff?.confirm_threshold);
  const needsConfirmation = fen !== null && threshold !== null && fen > threshold;
  const amountError =
    fen === null
      ? "请填写金额（元），最多两位小数"
      : computedFen !== null && fen > computedFen
        ? `不能超过按规则计算的 ${money(computed)}`
        : undefined;
  const reasonError = lower && !reason ? "批准金额低于计算金额时，请选择原因" : undefined;
  const approve = useAction(() =>
    rereadOnConflict(call(() =>
      api.POST("/api/v1/review/claims/{id}/approve", {
        params: { path: { id: claim.id } },
        body: {
          ...(amount.trim() !== computed ? { amount: amount.trim() } : {}),
          ...(lower && reason ? { reason_code: reason } : {}),
          ...(note.trim() ? { note: note.trim() } : {}),
        },
      }),
    ), reread),
  );
  return (
    <Dialog title="批准理赔申请" onClose={onClose}>
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          setTried(true);
          if (amountError || reasonError) return;
          const v = await approve.run();
          if (v) onDone(v, `已批准 ${money(v.approved_amount)}`);
        }}
      >
        <p>
          {claim.benefit_name}：按规则计算应付 <strong>{money(computed)}</strong>
          {claim.days !== null && claim.days !== undefined ? `（${claim.days} 天）` : ""}。
        </p>
        <Field
          label="批准金额（元）"
          hint="默认为计算金额；可以核减，不能超过计算金额"
          error={tried || fen !== null ? amountError : undefined}
        >
          {(p) => <input {...p} inputMode="decimal" required value={amount} onInput={(e) => setAmount(value(e))} />}
        </Field>
        {lower && (
          <Field label="核减原因" error={tried ? reasonError : undefined}>
            {(p) => (
              <select {...p} required value={reason} onChange={(e) => setReason(value(e) as ReviewNoteReason | "")}>
                <option value="">请选择</option>
                {Object.entries(REVIEW_NOTE_REASONS).map(([code, label]) => (
                  <option key={code} value={code}>
                    {label}
                  </option>
                ))}
              </select>
            )}
          </Field>
        )}
        <NoteField label="审核说明（选填）" hint="记入处理记录" note={note} setNote={setNote} />
        {needsConfirmation && (
          <p class="rv-callout" role="note">
            批准金额超过复核线 {money(claim.staff?.confirm_threshold)}：批准后需要另一位财务审批人复核才能支付。
          </p>
        )}
        <ProblemAlert problem={approve.problem} />
        <Buttons pending={approve.pending} submit="确认批准" onClose={onClose} />
      </form>
    </Dialog>
  );
}

function ReturnDialog({ claim, onClose, onDone, reread }: DialogProps) {
  const [reasons, setReasons] = useState<ReturnReason[]>([]);
  const [note, setNote] = useState("");
  const [tried, setTried] = useState(false);
  const give = useAction(() =>
    rereadOnConflict(call(() =>
      api.POST("/api/v1/review/claims/{id}/return", {
        params: { path: { id: claim.id } },
        body: { reasons, ...(note.trim() ? { note: note.trim() } : {}) },
      }),
    ), reread),
  );
  const error = reasons.length === 0 ? "请至少选择一个退回原因" : undefined;
  return (
    <Dialog title="退回申请人补充材料" onClose={onClose}>
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          setTried(true);
          if (error) return;
          const v = await give.run();
          if (v) onDone(v, "已退回申请人");
        }}
      >
        <p>申请人会收到通知，看到您选的原因和说明，补充后可以重新提交。</p>
        <fieldset aria-describedby={tried && error ? "rv-return-error" : undefined}>
          <legend>退回原因（可多选）</legend>
          {(Object.entries(RETURN_REASONS) as [ReturnReason, string][]).map(([code, label]) => (
            <div key={code}>
              <label class="check">
                <input
                  type="checkbox"
                  name="reasons"
                  value={code}
                  checked={reasons.includes(code)}
                  onChange={(e) =>
                    setReasons(e.currentTarget.checked ? [...reasons, code] : reasons.filter((r) => r !== code))
                  }
                />
                {label}
              </label>
            </div>
          ))}
          {tried && error && (
            <p class="field-error rv-field-error" id="rv-return-error">
              {error}
            </p>
          )}
        </fieldset>
        <NoteField
          label="需要补充或更正的内容"
          hint="申请人可见，请写清楚要补什么、怎么拍"
          note={note}
          setNote={setNote}
        />
        <ProblemAlert problem={give.problem} />
        <Buttons pending={give.pending} submit="确认退回" onClose={onClose} />
      </form>
    </Dialog>
  );
}

function RejectDialog({ claim, onClose, onDone, reread }: DialogProps) {
  const [reason, setReason] = useState<RejectReason | "">("");
  const [note, setNote] = useState("");
  const [tried, setTried] = useState(false);
  const reject = useAction((code: RejectReason) =>
    rereadOnConflict(call(() =>
      api.POST("/api/v1/review/claims/{id}/reject", {
        params: { path: { id: claim.id } },
        body: { reason_code: code, ...(note.trim() ? { note: note.trim() } : {}) },
      }),
    ), reread),
  );
  return (
    <Dialog title="驳回理赔申请" onClose={onClose}>
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          setTried(true);
          if (!reason) return;
          const v = await reject.run(reason);
          if (v) onDone(v, "已驳回");
        }}
      >
        <p>驳回后申请结束，不能再改。申请人会收到通知，看到驳回原因和说明。</p>
        <Field label="驳回原因" error={tried && !reason ? "请选择驳回原因" : undefined}>
          {(p) => (
            <select {...p} required value={reason} onChange={(e) => setReason(value(e) as RejectReason | "")}>
              <option value="">请选择</option>
              {Object.entries(REJECT_REASONS).map(([code, label]) => (
                <option key={code} value={code}>
                  {label}
                </option>
              ))}
            </select>
          )}
        </Field>
        <NoteField label="说明" hint="申请人可见" note={note} setNote={setNote} />
        <ProblemAlert problem={reject.problem} />
        <Buttons pending={reject.pending} submit="确认驳回" danger onClose={onClose} />
      </form>
    </Dialog>
  );
}

function TakeOverDialog({ claim, onClose, onDone, reread }: DialogProps) {
  const take = useAction(() =>
    rereadOnConflict(call(() => api.POST("/api/v1/review/claims/{id}/assign", { params: { path: { id: claim.id } } })), reread),
  );
  return (
    <Dialog title="接手审核" onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          const v = await take.run();
          if (v) onDone(v, "已接手审核");
        }}
      >
        <p>这件申请正由其他审核员审核。接手后由您负责，处理记录会写明是您接手的。</p>
        <ProblemAlert problem={take.problem} />
        <Buttons pending={take.pending} submit="确认接手" onClose={onClose} />
      </form>
    </Dialog>
  );
}
