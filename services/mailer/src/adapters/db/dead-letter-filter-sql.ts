import type { DeadLetterFilter, DeadLetterState } from '../../domain/dead-letters';

/** A SQL condition over `dead_letters` and its parameters, numbered from `$1` after `params`' current length. */
export interface SqlCondition {
  /** `state = $1 AND reason = $2 …`; never empty (`state` is always constrained unless `any`, then `TRUE`). */
  where: string;
  params: unknown[];
}

/**
 * The WHERE clause for `filter` over `dead_letters`, appending its values to `params` (a copy is
 * returned; `params` is not changed) so a caller can add its own after them. `state` defaults to
 * `defaultState`; `any` drops the state condition. `from` is inclusive and `to` exclusive, on
 * `dead_lettered_at`.
 */
export function deadLetterFilterSql(
  filter: DeadLetterFilter,
  params: readonly unknown[] = [],
  defaultState: DeadLetterState = 'dead',
): SqlCondition {
  const values = [...params];
  const conditions: string[] = [];
  const add = (sql: (placeholder: string) => string, value: unknown) => {
    values.push(value);
    conditions.push(sql(`$${values.length}`));
  };
  const state = filter.state ?? defaultState;
  if (state !== 'any') add((p) => `state = ${p}`, state);
  if (filter.reason !== undefined) add((p) => `reason = ${p}`, filter.reason);
  if (filter.smtpCode !== undefined) add((p) => `smtp_code = ${p}`, filter.smtpCode);
  if (filter.orderId !== undefined) add((p) => `order_id = ${p}`, filter.orderId);
  if (filter.from !== undefined) add((p) => `dead_lettered_at >= ${p}`, filter.from);
  if (filter.to !== undefined) add((p) => `dead_lettered_at < ${p}`, filter.to);
  return { where: conditions.length > 0 ? conditions.join(' AND ') : 'TRUE', params: values };
}
