import {
  checkNodeVersion,
  endpointOf,
  INSTALL_NODE,
  masked,
  minimumNodeMajor,
  preflightReport,
  SETUP_DEBIAN,
  type CheckResult,
} from '../../scripts/preflight';

describe('preflight report', () => {
  it('when every check passes, then there is no message', () => {
    expect(preflightReport([{ name: 'a' }, { name: 'b' }])).toBeUndefined();
  });

  it('when checks fail, then one message lists every problem and each fix once, in order', () => {
    const results: CheckResult[] = [
      { name: 'Node.js 24 or later', problem: 'this is Node 20.20.2 (/usr/bin/node)', fix: INSTALL_NODE },
      { name: 'RabbitMQ', problem: 'cannot connect to 127.0.0.1:5672 (ECONNREFUSED)', fix: SETUP_DEBIAN },
      { name: 'PostgreSQL' },
      { name: '`promtool` on PATH', problem: 'not installed', fix: SETUP_DEBIAN },
      {
        name: "RabbitMQ's Prometheus endpoint",
        problem: 'cannot reach it',
        fix: { command: 'rabbitmq-plugins enable rabbitmq_prometheus', does: 'the plugin' },
      },
    ];
    const width =
      SETUP_DEBIAN.command.length > INSTALL_NODE.command.length
        ? SETUP_DEBIAN.command.length
        : INSTALL_NODE.command.length;
    expect(preflightReport(results)).toBe(
      [
        'npm test cannot run: 4 prerequisites are missing.',
        '',
        '  ✗ Node.js 24 or later: this is Node 20.20.2 (/usr/bin/node)',
        '  ✗ RabbitMQ: cannot connect to 127.0.0.1:5672 (ECONNREFUSED)',
        '  ✗ `promtool` on PATH: not installed',
        "  ✗ RabbitMQ's Prometheus endpoint: cannot reach it",
        '',
        'To fix (then run npm test again):',
        '',
        `  ${INSTALL_NODE.command.padEnd(width)}  # ${INSTALL_NODE.does}`,
        `  ${SETUP_DEBIAN.command.padEnd(width)}  # ${SETUP_DEBIAN.does}`,
        `  ${'rabbitmq-plugins enable rabbitmq_prometheus'.padEnd(width)}  # the plugin`,
        '',
      ].join('\n'),
    );
  });

  it('when one check fails, then the message says "1 prerequisite is"', () => {
    const report = preflightReport([{ name: 'x', problem: 'gone', fix: SETUP_DEBIAN }]);
    expect(report).toMatch(/^npm test cannot run: 1 prerequisite is missing\.\n/);
    expect(report).toContain(`  ${SETUP_DEBIAN.command}  # `);
  });

  it('the fix commands are the scripts README and .ci/run use', () => {
    expect(SETUP_DEBIAN.command).toBe('bash scripts/setup-debian.sh');
    expect(INSTALL_NODE.command).toBe('export PATH="$(bash scripts/install-node.sh):$PATH"');
  });
});

describe('preflight Node version', () => {
  it.each([
    ['>=24', 24],
    ['>= 24.1.0', 24],
    ['^24.15.0', 24],
  ])('the least major of engines.node %s is %d', (range, major) => {
    expect(minimumNodeMajor(range)).toBe(major);
  });

  it('when the Node is older than engines.node, then it is a problem with the install-node fix', () => {
    expect(checkNodeVersion('v20.20.2', '>=24', '/usr/bin/node')).toEqual({
      name: 'Node.js 24 or later (package.json engines ">=24")',
      problem: 'this is Node 20.20.2 (/usr/bin/node)',
      fix: INSTALL_NODE,
    });
  });

  it.each(['v24.0.0', 'v24.22.3', 'v26.1.0'])('when the Node is %s, then it passes', (version) => {
    expect(checkNodeVersion(version, '>=24', '/x/node').problem).toBeUndefined();
  });
});

describe('preflight URLs', () => {
  it('endpoints come from the URL, with the default port when it has none', () => {
    expect(endpointOf('amqp://guest:guest@127.0.0.1:5672', 5672)).toEqual({ host: '127.0.0.1', port: 5672 });
    expect(endpointOf('amqp://rabbit.example', 5672)).toEqual({ host: 'rabbit.example', port: 5672 });
    expect(endpointOf('postgres://postgres@[::1]:6543/test', 5432)).toEqual({ host: '::1', port: 6543 });
  });

  it('passwords are masked in messages', () => {
    expect(masked('amqp://user:s3cret@127.0.0.1:5672')).toBe('amqp://user:***@127.0.0.1:5672');
    expect(masked('postgres://postgres@127.0.0.1:5432/test')).toBe('postgres://postgres@127.0.0.1:5432/test');
  });
});
