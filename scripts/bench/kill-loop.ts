// The SIGKILL loop (issue #13): mailers draining a backlog while one of them at a time is killed
// with SIGKILL and replaced, and the duplicate emails that costs, counted at the sink. A mailer
// killed after the SMTP server accepted an email but before the ledger recorded `sent` (the one
// duplicate window, README "Exactly one email") leaves the delivery `sending`; after
// UNKNOWN_OUTCOME_GRACE_MS another mailer resends it once, with the same Message-ID.
import { Client } from 'pg';
import { loadMailerConfig } from '../../services/mailer/src/config';
import { AMQP_URL } from '../../test/helpers/broker';
import { DATABASE_URL } from '../../test/helpers/database';
import { benchMailerEnv, preloadBacklog, purgeWorkQueue, startMailers, type BenchNames } from './pipeline';
import { startService, stopAll, type ServiceProcess } from './processes';
import type { Progress, SmtpSink } from './types';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the SIGKILL loop measured. Counts are emails or orders, `seconds` seconds, `graceMs` milliseconds. */
export interface KillLoopResult {
  /** Orders preloaded, `K-1` … `K-<orders>`. */
  orders: number;
  /** Mailer processes running at once. */
  mailers: number;
  /** SIGKILLs sent; fewer than `plannedKills` only when every order arrived first. */
  kills: number;
  plannedKills: number;
  /** Emails the sink accepted beyond the first of each order. */
  duplicates: number;
  /** Of `duplicates`, those with the same Message-ID as their order's first email. */
  duplicatesSharingMessageId: number;
  /** Orders no copy of which reached the sink: dead-lettered before any did, or still under way at a timeout. */
  missing: number;
  /**
   * Orders the mailer dead-lettered (ledger `dead`), e.g. `outcome_unknown` when the one resend
   * after an unknown outcome was cut off by a kill too: an operator decides on them.
   */
  deadLettered: number;
  /** Emails the sink accepted in all (orders − missing + duplicates). */
  emails: number;
  /** From spawning the first mailers until every order was `sent` or `dead` in the ledger (or the timeout). */
  seconds: number;
  /** The mailers' UNKNOWN_OUTCOME_GRACE_MS. */
  graceMs: number;
  /** Given up after the timeout, with orders neither `sent` nor `dead` (missing, or resends still to come). */
  timedOut: boolean;
}

/** The running mailers (oldest first) and their replacements; remembers a mailer that exited without being killed. */
function fleet(env: Record<string, string>) {
  const live: ServiceProcess[] = [];
  const starting = new Set<Promise<ServiceProcess | undefined>>();
  const killed = new Set<number>();
  let failure: unknown;
  let stopping = false;
  const watch = (mailer: ServiceProcess) => {
    live.push(mailer);
    void mailer.exited.then((code) => {
      if (stopping || killed.has(mailer.pid)) return;
      failure ??= new Error(
        `kill loop: mailer ${mailer.pid} exited (${code}) unkilled; its output:\n${mailer.output()}`,
      );
    });
  };
  return {
    add: (mailers: ServiceProcess[]) => mailers.forEach(watch),
    /** SIGKILLs the mailer that has run longest and starts its replacement (not awaited); false if none runs. */
    async killOne(): Promise<boolean> {
      const victim = live.shift();
      if (!victim) return false;
      killed.add(victim.pid);
      try {
        process.kill(victim.pid, 'SIGKILL');
      } catch {
        // It had exited already: `exited` has resolved, and `check` reports why.
      }
      await victim.exited;
      const next: Promise<ServiceProcess | undefined> = startService('mailer', env).then(
        (mailer) => {
          watch(mailer);
          return mailer;
        },
        (err: unknown) => void (failure ??= err),
      );
      starting.add(next);
      void next.finally(() => starting.delete(next));
      return true;
    },
    /** Throws the first failure: a mailer that exited unkilled, or a replacement that did not start. */
    check(): void {
      if (failure) throw failure;
    },
    /** Stops every mailer, the replacements still starting once they are up. */
    async stop(): Promise<void> {
      stopping = true;
      await Promise.all([...starting]);
      await stopAll(live);
    },
  };
}

/**
 * How many of the ledger's deliveries of `names` are `sent` and how many `dead` (the mailer gave
 * up: dead-lettered); both are final. 0 and 0 while the mailers have not migrated the schema yet.
 */
async function finalDeliveries(db: Client, names: BenchNames): Promise<{ sent: number; dead: number }> {
  const { rows } = await db
    .query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM "${names.schema}".deliveries WHERE status IN ('sent', 'dead') GROUP BY status`,
    )
    .catch(() => ({ rows: [] }));
  const n = (status: string) => rows.find((r) => r.status === status)?.n ?? 0;
  return { sent: n('sent'), dead: n('dead') };
}

/** Duplicates among `ids` in the sink's stats, and how many of them repeat their order's first Message-ID. */
function countDuplicates(duplicates: Awaited<ReturnType<SmtpSink['stats']>>['duplicates'], ids: ReadonlySet<string>) {
  let count = 0;
  let sharing = 0;
  for (const [orderId, { first, later }] of Object.entries(duplicates)) {
    if (!ids.has(orderId)) continue;
    count += later.length;
    sharing += later.filter((messageId) => first !== null && messageId === first).length;
  }
  return { count, sharing };
}

/**
 * The SIGKILL loop: `orders` order-confirmed events are preloaded on the work queue of `names`
 * as the order API publishes them (`preloadBacklog`, ids `K-<n>`, while no mailer runs), then
 * `mailers` (default 3) mailer processes from the production build (`benchMailerEnv` with
 * `env`'s overrides: PREFETCH, SMTP_POOL_SIZE, and a short UNKNOWN_OUTCOME_GRACE_MS, with
 * SMTP_SEND_TIMEOUT_MS below it, or the run waits 10 min per unknown outcome) drain them into
 * `sink`. Kill k of `kills` is due once k / (kills + 1) of the orders reached the sink: the
 * mailer that has run longest gets SIGKILL and a replacement is spawned at once (not awaited; a
 * kill waits while no mailer is ready). The run is over when every order is `sent` or `dead` in
 * the ledger (a `sent` email reached the sink before it was recorded, so every duplicate is in by
 * then), or after `timeoutMs` (default 5 min, from spawning the mailers), which `timedOut` says.
 * Counted at the sink, by the order id and Message-ID of each email. Every mailer is stopped, the
 * sink reset and the work queue purged afterwards, also on failure; the queues and schema of
 * `names` are the caller's to remove (`cleanup(names, env)`).
 */
export async function killLoop(options: {
  orders: number;
  kills: number;
  mailers?: number;
  sink: SmtpSink;
  names: BenchNames;
  env: Record<string, string>;
  timeoutMs?: number;
  progress?: Progress;
}): Promise<KillLoopResult> {
  const { names, sink, orders, kills } = options;
  const mailers = options.mailers ?? 3;
  const progress = options.progress ?? (() => undefined);
  const env = benchMailerEnv(names, sink.url, options.env);
  const ids = new Set(Array.from({ length: orders }, (_, i) => `K-${i + 1}`));
  const running = fleet(env);
  const db = new Client({ connectionString: DATABASE_URL });
  db.on('error', () => undefined);
  try {
    await db.connect();
    await purgeWorkQueue(names);
    await sink.reset();
    await preloadBacklog(AMQP_URL, names, orders, (line) => progress(`kill loop: ${line}`), { idPrefix: 'K' });
    progress(`kill loop: starting ${mailers} mailer process(es)`);
    const spawnedAt = Date.now();
    const deadline = spawnedAt + (options.timeoutMs ?? 300_000);
    running.add(await startMailers(mailers, env));
    let done = 0;
    let final = { sent: 0, dead: 0 };
    while (final.sent + final.dead < orders && Date.now() <= deadline) {
      running.check();
      const { arrivals, duplicates } = await sink.stats();
      const arrived = [...ids].filter((id) => arrivals[id] !== undefined).length;
      const due = Math.min(kills, Math.floor((arrived * (kills + 1)) / orders));
      if (done < due && (await running.killOne())) done++;
      const dups = countDuplicates(duplicates, ids).count;
      progress(`kill loop: ${arrived}/${orders} orders, ${done}/${kills} kills, ${dups} duplicates`);
      await sleep(100);
      final = await finalDeliveries(db, names);
    }
    const seconds = (Date.now() - spawnedAt) / 1000;
    const stats = await sink.stats();
    const duplicates = countDuplicates(stats.duplicates, ids);
    return {
      orders,
      mailers,
      kills: done,
      plannedKills: kills,
      duplicates: duplicates.count,
      duplicatesSharingMessageId: duplicates.sharing,
      missing: [...ids].filter((id) => stats.arrivals[id] === undefined).length,
      deadLettered: final.dead,
      emails: stats.count,
      seconds,
      graceMs: loadMailerConfig(env).UNKNOWN_OUTCOME_GRACE_MS,
      timedOut: final.sent + final.dead < orders,
    };
  } finally {
    await running.stop().catch(() => undefined);
    await sink.reset().catch(() => undefined);
    await purgeWorkQueue(names).catch(() => undefined);
    await db.end().catch(() => undefined);
  }
}
