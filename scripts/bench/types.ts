/**
 * What the benchmark's parts hand the orchestrator (`scripts/bench.ts`). Rates are per second,
 * latencies milliseconds, memory bytes. Figures only: nothing here passes or fails.
 */

/** One load-generator run (autocannon, as its own process). */
export interface HttpLoadResult {
  /** Requests answered per second, over the run. */
  requestsPerSecond: number;
  /** Answers with the expected status (e.g. 202) per second. */
  okPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers with another status, and transport errors. */
  non2xx: number;
  errors: number;
  connections: number;
  durationSeconds: number;
}

/** A rate measured by doing `count` things in `seconds`. */
export interface RateResult {
  count: number;
  seconds: number;
  perSecond: number;
}

/** The SMTP sink, a process of its own on loopback, without smtp-server's 100 ms greeting delay. */
export interface SmtpSink {
  /** `smtp://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** The sink process's id (for its RSS). */
  pid: number;
  /**
   * Messages accepted since the last `reset`, and when each arrived (epoch ms) keyed by the Subject's order id when there is one.
   * `duplicates` holds only the order ids that arrived more than once: the first copy's
   * Message-ID and each later copy's (null when a copy had none).
   */
  stats(): Promise<{
    count: number;
    firstAt: number | null;
    lastAt: number | null;
    arrivals: Record<string, number>;
    duplicates: Record<string, { first: string | null; later: (string | null)[] }>;
  }>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

/** A service or worker started as a child process for the benchmark. */
export interface BenchProcess {
  pid: number;
  /** Resident set size now, bytes (from /proc/<pid>/status VmRSS). */
  rss(): number;
  /** SIGTERM, then SIGKILL after a grace period; resolves when it has exited. */
  stop(): Promise<void>;
  /** What it printed (stdout and stderr), for an error message when it dies. */
  output(): string;
}

/** Progress for the one line the orchestrator keeps rewriting (`\r`). */
export type Progress = (what: string) => void;
