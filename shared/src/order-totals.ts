import type { FieldIssue } from './errors';
import type { Order } from './order-event';

/**
 * What `computeOrderTotals` reads of an order: validated (`Order`) or as posted (`OrderInput`:
 * a tax without `included` counts as `included: false`, the schema's default).
 */
export interface OrderAmounts {
  readonly items: readonly { readonly quantity: number; readonly unitPrice: number }[];
  readonly discounts?: readonly { readonly amount: number }[];
  readonly shipping?: { readonly price: number };
  readonly taxes?: readonly { readonly amount: number; readonly included?: boolean }[];
}

/** An order's sums, every one an integer in minor units of the order's currency. */
export interface OrderTotals {
  /** Σ items' unitPrice × quantity. */
  readonly subtotal: number;
  /** Σ discounts' amount (a positive number, subtracted). */
  readonly discountTotal: number;
  /** `shipping.price`, or 0 without shipping. */
  readonly shippingTotal: number;
  /** Σ taxes with `included: false`: added on top of the prices. */
  readonly taxAdded: number;
  /** Σ taxes with `included: true` (VAT-inclusive prices): already inside the prices, shown, not added. */
  readonly taxIncluded: number;
  /** subtotal − discountTotal + shippingTotal + taxAdded; negative only for an order the API refuses. */
  readonly total: number;
}

/**
 * The totals of an order (issue #11), the one computation both services use: the order API checks
 * a client's `total` against it (`orderTotalIssues`), the mailer's email shows it.
 *
 *   subtotal      = Σ unitPrice × quantity
 *   discountTotal = Σ discounts[].amount
 *   shippingTotal = shipping.price, or 0
 *   taxAdded      = Σ taxes[].amount where included is false (or missing)
 *   taxIncluded   = Σ taxes[].amount where included is true (inside the prices: not added)
 *   total         = subtotal − discountTotal + shippingTotal + taxAdded
 *
 * Integer arithmetic on minor units only (no division, no rounding, no floating point): the tax
 * amounts are the client's, not computed here. Exact because, within the contract's limits
 * (`order-event.ts`: ≤ 100 items × quantity ≤ 1000 × unitPrice ≤ 10^9, shipping ≤ 10^9, ≤ 10
 * discounts and ≤ 10 taxes of ≤ 10^14 each), every product and sum is at most about 1.1 × 10^15
 * in absolute value, below Number.MAX_SAFE_INTEGER (2^53 − 1 ≈ 9.007 × 10^15).
 *
 * Throws a RangeError if an amount is not a safe integer or a result is not one: only possible for
 * an order that did not pass `orderSchema`.
 */
export function computeOrderTotals(order: OrderAmounts): OrderTotals {
  const subtotal = sum(order.items.map((item) => item.unitPrice * item.quantity));
  const discountTotal = sum((order.discounts ?? []).map((discount) => discount.amount));
  const shippingTotal = order.shipping?.price ?? 0;
  const taxes = order.taxes ?? [];
  const taxAdded = sum(taxes.filter((tax) => tax.included !== true).map((tax) => tax.amount));
  const taxIncluded = sum(taxes.filter((tax) => tax.included === true).map((tax) => tax.amount));
  const totals = {
    subtotal,
    discountTotal,
    shippingTotal,
    taxAdded,
    taxIncluded,
    total: subtotal - discountTotal + shippingTotal + taxAdded,
  };
  for (const [name, value] of Object.entries(totals)) requireSafeInteger(name, value);
  return totals;
}

/**
 * What is wrong with an order's amounts once its fields passed `orderSchema`, as `{ path, message }`
 * entries for a `400 validation_failed` (empty: nothing): pure, no I/O. The order API answers with
 * these (issue #11):
 * - path `discounts` when the discounts exceed what they apply to, i.e. the computed total is
 *   negative: "The discounts (800 EUR) are more than the order: the total would be -300 EUR (…)";
 * - path `total` when the client sent a `total` that differs from the computed one, naming both in
 *   minor units and the currency: "total 10500 EUR does not match the computed total 10450 EUR
 *   (subtotal 9950 − discounts 500 + shipping 1000 + added tax 0)".
 */
export function orderTotalIssues(order: Pick<Order, 'currency' | 'total'> & OrderAmounts): FieldIssue[] {
  const totals = computeOrderTotals(order);
  const { currency } = order;
  const issues: FieldIssue[] = [];
  if (totals.total < 0) {
    issues.push({
      path: 'discounts',
      message:
        `The discounts (${totals.discountTotal} ${currency}) are more than the order: the total would be ` +
        `${totals.total} ${currency} (${arithmetic(totals)}); an order's total cannot be negative`,
    });
  }
  if (order.total !== undefined && order.total !== totals.total) {
    issues.push({
      path: 'total',
      message:
        `total ${order.total} ${currency} does not match the computed total ${totals.total} ${currency} ` +
        `(${arithmetic(totals)})`,
    });
  }
  return issues;
}

/** "subtotal 9950 − discounts 500 + shipping 1000 + added tax 0", plus the included tax if any. */
function arithmetic(totals: OrderTotals): string {
  const sum =
    `subtotal ${totals.subtotal} − discounts ${totals.discountTotal} + shipping ${totals.shippingTotal} ` +
    `+ added tax ${totals.taxAdded}`;
  return totals.taxIncluded > 0 ? `${sum}; included tax ${totals.taxIncluded} is already in the prices` : sum;
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const value of values) {
    requireSafeInteger('amount', value);
    total += value;
  }
  return total;
}

function requireSafeInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`computeOrderTotals: ${name} ${value} is not a safe integer (was the order validated?)`);
  }
}
