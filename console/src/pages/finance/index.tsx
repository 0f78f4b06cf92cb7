// The finance approver's section: large claims to confirm, payouts, payout batches (built
// by one approver, approved by another) and the daily reconciliation.
import { navigate } from "../../router";
import type { Section } from "../../sections";
import { BatchPage, Batches, NewBatch } from "./batches";
import { ClaimPage, Confirmations } from "./claims";
import { PayoutPage, Payouts } from "./payouts";
import { Reconciliations, RunPage } from "./reconciliations";
import "./finance.css";

/** `/finance` is the section's door: its main page is the claims to confirm. */
function Door() {
  navigate("/finance/claims", true);
  return null;
}

export const section: Section = {
  id: "finance",
  label: "财务",
  roles: ["finance_approver"],
  nav: [
    { to: "/finance/claims", label: "待确认理赔" },
    { to: "/finance/payouts", label: "支付" },
    { to: "/finance/batches", label: "支付批次" },
    { to: "/finance/reconciliations", label: "对账" },
  ],
  routes: [
    { path: "/finance", component: Door },
    { path: "/finance/claims", component: Confirmations },
    { path: "/finance/claims/:id", component: ClaimPage },
    { path: "/finance/payouts", component: Payouts },
    { path: "/finance/payouts/:id", component: PayoutPage },
    { path: "/finance/batches", component: Batches },
    { path: "/finance/batches/new", component: NewBatch },
    { path: "/finance/batches/:id", component: BatchPage },
    { path: "/finance/reconciliations", component: Reconciliations },
    { path: "/finance/reconciliations/:id", component: RunPage },
  ],
};
