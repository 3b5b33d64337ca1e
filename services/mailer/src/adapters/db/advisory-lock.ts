import type { Pool } from 'pg';

/** A PostgreSQL session-level advisory lock held on a connection of its own. */
export interface AdvisoryLock {
  /** True once the lock's connection failed: the server released the lock with it. */
  lost(): boolean;
  /** Unlocks and hands the connection back (or drops it, if unlocking failed); never rejects. */
  release(): Promise<void>;
}

/**
 * Takes the session-level advisory lock `hashtext(key)` (PostgreSQL docs, "Advisory Locks") on a
 * connection it checks out of `pool` and keeps until `release`, or resolves null at once when
 * another session holds it. Rejects with pg's error when the database cannot be reached.
 */
export async function tryAdvisoryLock(pool: Pool, key: string): Promise<AdvisoryLock | null> {
  const client = await pool.connect();
  let lost = false;
  // A checked-out client has no listener of the pool's: an 'error' without one would crash the process.
  const onError = () => {
    lost = true;
  };
  client.on('error', onError);
  const drop = (err?: Error) => {
    client.off('error', onError);
    client.release(err ?? true);
  };
  try {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [
      key,
    ]);
    if (!rows[0].locked) {
      client.off('error', onError);
      client.release();
      return null;
    }
  } catch (err) {
    drop(err as Error);
    throw err;
  }
  return {
    lost: () => lost,
    async release() {
      try {
        const { rows } = await client.query<{ unlocked: boolean }>(
          'SELECT pg_advisory_unlock(hashtext($1)) AS unlocked',
          [key],
        );
        // A connection that still held the lock must not go back to the pool: it would keep it.
        if (rows[0].unlocked) {
          client.off('error', onError);
          client.release();
        } else drop();
      } catch (err) {
        drop(err as Error);
      }
    },
  };
}
