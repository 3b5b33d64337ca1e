/** What erasing one person's data changed, per place it was found (row counts). */
export interface ErasureResult {
  /** Ledger rows that lost recipient, its hash, subject and SMTP/error texts (and their attempts' texts). */
  deliveries: number;
  /** Suppression entries that lost the address (the hash stays: the address stays suppressed). */
  suppressions: number;
  /** Delivery events not yet published that lost the recipient and SMTP reply. */
  outboxEvents: number;
  /** Webhook deliveries (sent, waiting or failed) whose event lost the recipient and SMTP reply. */
  webhookDeliveries: number;
  /** Dead letters of the erased deliveries' orders, purged with their bodies and headers emptied. */
  deadLetters: number;
}

/**
 * Erasing a person's data at once (GDPR Article 17, "right to erasure"); the PostgreSQL adapter
 * implements it (`adapters/db/erasure-pg.ts`). `key` is `suppressionKeyOf(address).key`.
 * Rejects with `asDatabaseError`'s errors when the database is away; nothing is changed then.
 */
export interface RecipientErasure {
  erase(key: string, erasedBy: string): Promise<ErasureResult>;
}
