/**
 * AMQP_URL as a list of RabbitMQ nodes: one URL, or several separated by commas
 * (`amqp://u:p@rabbit-1:5672,amqp://u:p@rabbit-2:5672,amqp://u:p@rabbit-3:5672`), the nodes of
 * one cluster. Pure: parsing and the connection target amqplib reads.
 */

/** Most nodes AMQP_URL may list (a RabbitMQ cluster larger than this is rare; 3-7 is usual). */
export const MAX_AMQP_NODES = 16;

/**
 * The node URLs of an AMQP_URL value, in order, each trimmed; or why it is refused (names the
 * entry by position): every entry an `amqp://` or `amqps://` URL with a host and no white space,
 * at most MAX_AMQP_NODES, none empty (a trailing comma is a typo, not a node). The message shows
 * the bad entry with its password masked.
 */
export function parseAmqpNodeList(value: string): { ok: true; urls: string[] } | { ok: false; message: string } {
  const entries = value.split(',').map((entry) => entry.trim());
  const form = 'must be an amqp:// or amqps:// URL, or several separated by commas (the nodes of one cluster)';
  if (entries.length > MAX_AMQP_NODES) {
    return { ok: false, message: `${form}: at most ${MAX_AMQP_NODES} nodes, it has ${entries.length}` };
  }
  const bad = entries.findIndex((entry) => {
    const url = URL.parse(entry);
    return !/^amqps?:\/\/[^\s,]+$/.test(entry) || url === null || url.hostname === '';
  });
  if (bad >= 0) {
    // The entry as written, but never its password (config errors are logged).
    const shown = entries[bad].replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@]*@/i, '$1***@');
    const which = entries.length > 1 ? `: entry ${bad + 1} (${JSON.stringify(shown)}) is not one` : '';
    return { ok: false, message: `${form}${which}` };
  }
  return { ok: true, urls: entries };
}

/**
 * The object form of a node URL that amqplib's `connect` accepts (its `url` argument as an
 * object: protocol without the colon, hostname, port, username, password, vhost, and the
 * `frameMax`, `maxFrameSize`, `channelMax`, `heartbeat`, `locale` query parameters its URL form
 * reads).
 * User name and password are percent-decoded, leniently as amqplib's URL form does (a `%` that
 * starts no escape, as in `50%off`, stays as written); the vhost is left encoded (amqplib decodes
 * it). Every key
 * is present (undefined when absent), so assigning one target over another leaves nothing behind.
 * Throws a TypeError for a URL that does not parse (`parseAmqpNodeList` refuses those first).
 */
export function amqpConnectTarget(url: string): AmqpConnectTarget {
  const parts = new URL(url);
  const query = parts.searchParams;
  const int = (key: string) => (query.has(key) ? Number.parseInt(query.get(key) ?? '', 10) : undefined);
  return {
    protocol: parts.protocol.replace(/:$/, ''),
    hostname: parts.hostname.replace(/^\[|\]$/g, ''),
    port: parts.port === '' ? undefined : Number(parts.port),
    // amqplib's URL form: no user and no password means guest/guest.
    username: parts.username === '' && parts.password === '' ? undefined : decoded(parts.username),
    password: parts.username === '' && parts.password === '' ? undefined : decoded(parts.password),
    vhost: parts.pathname.length > 1 ? parts.pathname.slice(1) : undefined,
    frameMax: int('frameMax'),
    maxFrameSize: int('maxFrameSize'),
    channelMax: int('channelMax'),
    heartbeat: int('heartbeat'),
    locale: query.get('locale') ?? undefined,
  };
}

/** Percent-decoded text, or the text as written where it is not valid percent-encoding. Never throws. */
function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** What `amqpConnectTarget` returns. */
export interface AmqpConnectTarget {
  protocol: string;
  hostname: string;
  port: number | undefined;
  username: string | undefined;
  password: string | undefined;
  /** Percent-encoded as in the URL (amqplib unescapes it). */
  vhost: string | undefined;
  frameMax: number | undefined;
  maxFrameSize: number | undefined;
  channelMax: number | undefined;
  heartbeat: number | undefined;
  locale: string | undefined;
}

/** `host:port` of a node URL, for logs and `/readyz` (never credentials); the default port filled in. */
export function amqpNodeLabel(url: string): string {
  const parts = URL.parse(url);
  if (!parts) return '(unparseable AMQP URL)';
  const port = parts.port || (parts.protocol === 'amqps:' ? '5671' : '5672');
  return `${parts.hostname}:${port}`;
}
