import { amqpConnectTarget, amqpNodeLabel, MAX_AMQP_NODES, parseAmqpNodeList } from '../src/amqp-nodes';

describe('AMQP_URL as a list of nodes', () => {
  it.each([
    ['one node', 'amqp://guest:guest@127.0.0.1:5672', ['amqp://guest:guest@127.0.0.1:5672']],
    [
      'three nodes of a cluster',
      'amqp://u:p@rabbit-1:5672,amqp://u:p@rabbit-2:5672,amqp://u:p@rabbit-3:5672',
      ['amqp://u:p@rabbit-1:5672', 'amqp://u:p@rabbit-2:5672', 'amqp://u:p@rabbit-3:5672'],
    ],
    ['white space around the commas', ' amqp://a:5672 , amqps://b:5671 ', ['amqp://a:5672', 'amqps://b:5671']],
    ['a vhost and query parameters', 'amqp://u:p@a:5672/shop?heartbeat=30', ['amqp://u:p@a:5672/shop?heartbeat=30']],
  ])('when AMQP_URL is %s, then its nodes are listed in order', (_what, value, urls) => {
    // Act
    const parsed = parseAmqpNodeList(value);

    // Assert
    expect(parsed).toEqual({ ok: true, urls });
  });

  it.each([
    ['http:// URL', 'http://rabbit:5672', ''],
    ['an empty value', '', ''],
    ['a trailing comma', 'amqp://a:5672,', ': entry 2 ("") is not one'],
    ['two commas in a row', 'amqp://a:5672,,amqp://b:5672', ': entry 2 ("") is not one'],
    ['a node without a host', 'amqp://a:5672,amqp://', ': entry 2 ("amqp://") is not one'],
    ['white space inside a node', 'amqp://a:5672,amqp://b c:5672', ': entry 2 ("amqp://b c:5672") is not one'],
  ])('when AMQP_URL is %s, then it is refused naming the entry', (_what, value, which) => {
    // Act
    const parsed = parseAmqpNodeList(value);

    // Assert
    expect(parsed).toEqual({
      ok: false,
      message: `must be an amqp:// or amqps:// URL, or several separated by commas (the nodes of one cluster)${which}`,
    });
  });

  it.each([
    [
      'a node without a host',
      'amqp://order-mail:TopSecret@rabbit-1:5672,amqp://order-mail:TopSecret@:5672',
      'entry 2 ("amqp://order-mail:***@:5672")',
    ],
    [
      'a space in the password',
      'amqp://order-mail:Top Secret@rabbit-1:5672,amqp://b:5672',
      'entry 1 ("amqp://order-mail:***@rabbit-1:5672")',
    ],
  ])('when the bad entry has %s, then the message shows it with the password masked', (_what, value, shown) => {
    // Act
    const parsed = parseAmqpNodeList(value);

    // Assert
    expect(!parsed.ok && parsed.message).toContain(shown);
    expect(JSON.stringify(parsed)).not.toMatch(/TopSecret|Top Secret/);
  });

  it('when AMQP_URL lists more nodes than MAX_AMQP_NODES, then it is refused with the count', () => {
    // Arrange
    const value = Array.from({ length: MAX_AMQP_NODES + 1 }, (_, i) => `amqp://n${i}:5672`).join(',');

    // Act
    const parsed = parseAmqpNodeList(value);

    // Assert
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.message).toContain(`at most ${MAX_AMQP_NODES} nodes, it has ${MAX_AMQP_NODES + 1}`);
  });

  it.each([
    [
      'credentials, a port and a vhost',
      'amqp://order%40mail:p%3Ass@rabbit-1:5673/shop%2Fprod',
      {
        protocol: 'amqp',
        hostname: 'rabbit-1',
        port: 5673,
        username: 'order@mail',
        password: 'p:ss',
        vhost: 'shop%2Fprod',
        frameMax: undefined,
        maxFrameSize: undefined,
        channelMax: undefined,
        heartbeat: undefined,
        locale: undefined,
      },
    ],
    [
      'amqps without port or credentials (amqplib then uses guest/guest and 5671)',
      'amqps://rabbit.internal',
      {
        protocol: 'amqps',
        hostname: 'rabbit.internal',
        port: undefined,
        username: undefined,
        password: undefined,
        vhost: undefined,
        frameMax: undefined,
        maxFrameSize: undefined,
        channelMax: undefined,
        heartbeat: undefined,
        locale: undefined,
      },
    ],
    [
      'a password with a % that starts no escape (kept as written, as the URL form keeps it in amqplib)',
      'amqp://shop:50%off@rabbit-1:5672',
      {
        protocol: 'amqp',
        hostname: 'rabbit-1',
        port: 5672,
        username: 'shop',
        password: '50%off',
        vhost: undefined,
        frameMax: undefined,
        maxFrameSize: undefined,
        channelMax: undefined,
        heartbeat: undefined,
        locale: undefined,
      },
    ],
    [
      'the query parameters amqplib reads',
      'amqp://u:p@[::1]:5672/?heartbeat=30&frameMax=8192&maxFrameSize=8192&channelMax=100&locale=de_DE',
      {
        protocol: 'amqp',
        hostname: '::1',
        port: 5672,
        username: 'u',
        password: 'p',
        vhost: undefined,
        frameMax: 8192,
        maxFrameSize: 8192,
        channelMax: 100,
        heartbeat: 30,
        locale: 'de_DE',
      },
    ],
  ])('when a node URL has %s, then amqplib gets the same connection as from the URL itself', (_what, url, target) => {
    // Act
    const got = amqpConnectTarget(url);

    // Assert
    expect(got).toEqual(target);
    expect(Object.keys(got).sort()).toEqual(Object.keys(target).sort());
  });

  it.each([
    ['amqp://guest:guest@127.0.0.1:5672', '127.0.0.1:5672'],
    ['amqp://u:secret@rabbit-2', 'rabbit-2:5672'],
    ['amqps://u:secret@rabbit-3', 'rabbit-3:5671'],
  ])('when the node is %s, then logs and /readyz name it %s (never the password)', (url, label) => {
    // Act
    const got = amqpNodeLabel(url);

    // Assert
    expect(got).toBe(label);
  });
});
