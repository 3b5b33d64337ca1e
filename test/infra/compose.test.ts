import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';

const root = path.resolve(__dirname, '../..');
const composeFile = path.join(root, 'docker-compose.yml');
const envExample = path.join(root, '.env.example');

/** The secrets docker-compose.yml requires (`${VAR:?…}`): no well-known defaults. */
const SECRETS = [
  'POSTGRES_PASSWORD',
  'RABBITMQ_USER',
  'RABBITMQ_PASSWORD',
  'GRAFANA_ADMIN_PASSWORD',
  'ADMIN_TOKEN',
  'ORDER_API_KEYS',
];

/** What a user opens from the host: service → published container port. Nothing else is published. */
const PUBLISHED = { 'order-api': 3000, maildev: 1080, rabbitmq: 15672, grafana: 3000, prometheus: 9090 };

/** docker-compose (v1 or v2 standalone), else the `docker compose` plugin; null if neither. */
function findCompose(): string[] | null {
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose'];
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose'];
  return null;
}
const compose = findCompose();
if (!compose) {
  console.warn(
    "test/infra/compose.test.ts: SKIPPED: no docker-compose (install Debian's `docker-compose` package; .ci/run does this in CI)",
  );
}
const describeWithCompose = compose ? describe : describe.skip;

/** `config` with only the given env file: nothing of this process's environment leaks in. */
function composeConfig(envFile: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const [command, ...base] = compose!;
  const args = [...base, '--project-directory', root, '-f', composeFile, '--env-file', envFile, 'config'];
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { env: { PATH: process.env.PATH ?? '', HOME: tmpdir() }, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) || 1 : 0, stdout, stderr });
      },
    );
  });
}

/** `.env.example` with `name`'s line replaced by `line` (or dropped). */
function envExampleWith(name: string, line: string | null): string {
  const lines = readFileSync(envExample, 'utf8').split('\n');
  return lines
    .filter((l) => !l.startsWith(`${name}=`))
    .concat(line === null ? [] : [line])
    .join('\n');
}

interface Service {
  image?: string;
  build?: unknown;
  container_name?: string;
  hostname?: string;
  command?: string[] | string;
  ports?: (string | { host_ip?: string; published?: string | number; target?: number })[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  depends_on?: Record<string, { condition: string }> | string[];
  environment?: Record<string, string>;
}
const raw = parse(readFileSync(composeFile, 'utf8')) as { services: Record<string, Service> };
const services = Object.entries(raw.services);

/** infra/prometheus/prometheus.yml, which the stack's Prometheus loads. */
const prometheusConfig = parse(readFileSync(path.join(root, 'infra/prometheus/prometheus.yml'), 'utf8')) as {
  scrape_configs: { job_name: string; static_configs?: unknown[]; dns_sd_configs?: Record<string, unknown>[] }[];
};
/** Where Prometheus scrapes the mailers: the compose service name (resolved by Docker's DNS) and its PORT. */
const MAILER_SCRAPE = { service: 'mailer', port: 3001 };

/** A short-syntax port `[host_ip:]published:target[/proto]` split into its host part and target. */
function splitPort(port: string): { host: string | null; target: number } {
  // The host part may itself hold `${BIND_ADDRESS:-127.0.0.1}` (with a colon inside the braces).
  const match = /^(?:(\$\{[^}]*\}|[^:]+):)?(?:\d+):(\d+)(?:\/\w+)?$/.exec(port);
  if (!match) throw new Error(`port "${port}" is not in the form host:published:target`);
  return { host: match[1] ?? null, target: Number(match[2]) };
}

describeWithCompose('docker-compose.yml, checked by docker-compose config', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'compose-test-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const envFile = (name: string, content: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, content);
    return file;
  };

  it('when the env file is .env.example, then the file is valid and every published port binds to 127.0.0.1', async () => {
    const { code, stdout, stderr } = await composeConfig(envExample);

    expect({ code, stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const resolved = parse(stdout) as { services: Record<string, Service> };
    const hostIps = Object.values(resolved.services).flatMap((s) =>
      (s.ports ?? []).map((p) => (typeof p === 'string' ? p.split(':')[0] : p.host_ip)),
    );
    expect(hostIps).toHaveLength(Object.keys(PUBLISHED).length);
    expect(new Set(hostIps)).toEqual(new Set(['127.0.0.1']));
  });

  it('when the env file is empty, then compose refuses the file, naming a missing secret', async () => {
    const { code, stderr } = await composeConfig(envFile('empty.env', ''));

    expect(code).not.toBe(0);
    expect(stderr).toMatch(new RegExp(`(${SECRETS.join('|')}) is not set`));
  });

  it.each(SECRETS.flatMap((name) => [[name, 'missing'] as const, [name, 'empty'] as const]))(
    'when %s is %s (everything else as in .env.example), then compose refuses the file naming it',
    async (name, how) => {
      const file = envFile(`${name}-${how}.env`, envExampleWith(name, how === 'empty' ? `${name}=` : null));

      const { code, stderr } = await composeConfig(file);

      expect(code).not.toBe(0);
      // The message compose ends with is ours: "<NAME> is not set (… see .env.example)".
      expect(stderr.trim()).toMatch(new RegExp(`${name} is not set \\([^)]*\\.env\\.example\\)$`));
    },
  );

  it('when BIND_ADDRESS is set, then every published port binds to it', async () => {
    const file = envFile('bind.env', envExampleWith('BIND_ADDRESS', 'BIND_ADDRESS=0.0.0.0'));

    const { code, stdout } = await composeConfig(file);

    expect(code).toBe(0);
    const resolved = parse(stdout) as { services: Record<string, Service> };
    const hostIps = Object.values(resolved.services).flatMap((s) =>
      (s.ports ?? []).map((p) => (typeof p === 'string' ? p.split(':')[0] : p.host_ip)),
    );
    expect(new Set(hostIps)).toEqual(new Set(['0.0.0.0']));
  });

  it('when the mailer is scaled (`--scale mailer=3`), then nothing pins it to one container', async () => {
    const { code, stdout } = await composeConfig(envExample);

    expect(code).toBe(0);
    const mailer = (parse(stdout) as { services: Record<string, Service> }).services.mailer;
    // A container name or a published host port exists once: a second replica could not start.
    expect(mailer.container_name).toBeUndefined();
    expect(mailer.ports ?? []).toEqual([]);
    // WORKER_ID defaults to <hostname>-<pid>, and node is PID 1 in every container: a fixed
    // hostname (or WORKER_ID) would give every replica the same id in the ledger and the logs.
    expect(mailer.hostname).toBeUndefined();
    expect(mailer.environment ?? {}).not.toHaveProperty('WORKER_ID');
    // Prometheus finds every replica through the service name (see the YAML case below).
    expect(mailer.environment?.PORT).toBe(String(MAILER_SCRAPE.port));
  });
});

describe('docker-compose.yml, read as YAML', () => {
  it.each(SECRETS)('when %s is used, then every use requires it (:?) and .env.example sets it', (name) => {
    const text = readFileSync(composeFile, 'utf8');
    const uses = [...text.matchAll(new RegExp(`\\$\\{${name}(:?[-?])?[^}]*\\}`, 'g'))].map((m) => m[0]);

    expect(uses.length).toBeGreaterThan(0);
    expect(uses.filter((u) => !u.startsWith(`\${${name}:?${name} is not set`))).toEqual([]);
    expect(readFileSync(envExample, 'utf8')).toMatch(new RegExp(`^${name}=\\S`, 'm'));
  });

  it.each(services)('when %s publishes ports, then each binds to 127.0.0.1 or ${BIND_ADDRESS…}', (_name, service) => {
    for (const port of service.ports ?? []) {
      expect(typeof port).toBe('string');
      expect(splitPort(port as string).host).toMatch(/^(127\.0\.0\.1|\$\{BIND_ADDRESS(:-127\.0\.0\.1)?\})$/);
    }
  });

  it('when the ports are listed, then only what a user opens is published: no AMQP, PostgreSQL, SMTP or metrics port', () => {
    const published = Object.fromEntries(
      services
        .filter(([, s]) => (s.ports ?? []).length > 0)
        .map(([name, s]) => [name, (s.ports as string[]).map((p) => splitPort(p).target)]),
    );

    expect(published).toEqual(Object.fromEntries(Object.entries(PUBLISHED).map(([name, port]) => [name, [port]])));
    // Spelled out: AMQP 5672, RabbitMQ metrics 15692, PostgreSQL 5432, SMTP 1025, the mailer's 3001.
    const targets = Object.values(published).flat();
    for (const internal of [5672, 15692, 5432, 1025, 3001]) expect(targets).not.toContain(internal);
  });

  it.each(services)('when %s is defined, then it has a healthcheck', (_name, service) => {
    expect(service.healthcheck?.disable).not.toBe(true);
    expect(service.healthcheck?.test).toBeDefined();
  });

  it.each([
    ['order-api', 'http://127.0.0.1:3000/readyz'],
    ['mailer', 'http://127.0.0.1:3001/readyz'],
    ['maildev', 'http://127.0.0.1:1080/api/healthz'],
    ['prometheus', 'http://127.0.0.1:9090/-/healthy'],
    ['grafana', 'http://127.0.0.1:3000/api/health'],
  ])('when %s is checked, then its healthcheck asks %s', (name, url) => {
    expect(JSON.stringify(raw.services[name].healthcheck?.test)).toContain(url);
  });

  it.each(services.filter(([, s]) => s.image !== undefined))(
    'when %s runs an image, then it is pinned to an exact version',
    (_name, service) => {
      // name:MAJOR.MINOR[.PATCH][-variant], e.g. rabbitmq:4.3.5-management, postgres:17.11, prom/prometheus:v3.13.2
      expect(service.image).toMatch(/^[a-z0-9./-]+:v?\d+\.\d+(\.\d+)?(-[a-z0-9.-]+)?$/);
      expect(service.image).not.toMatch(/:(latest|\d+|v\d+)(-|$)/);
    },
  );

  it.each([
    ['rabbitmq', /^rabbitmq:4\.\d+\.\d+-management$/],
    ['postgres', /^postgres:17\.\d+$/],
    ['prometheus', /^prom\/prometheus:v3\.\d+\.\d+$/],
    ['grafana', /^grafana\/grafana:12\.\d+\.\d+$/],
    // The major version of the npm package `npm start` runs (package.json: maildev ^3).
    ['maildev', /^maildev\/maildev:3\.\d+\.\d+$/],
  ])('when %s is pinned, then it is the release line the README documents', (name, image) => {
    expect(raw.services[name].image).toMatch(image);
  });

  it('when Prometheus is started, then not with --web.enable-lifecycle (no reload or shutdown over HTTP)', () => {
    const command = raw.services.prometheus.command as string[];

    expect(command).toContain('--config.file=/etc/prometheus/prometheus.yml');
    expect(command.filter((arg) => arg.startsWith('--web.enable-lifecycle'))).toEqual([]);
  });

  it.each([
    ['order-api', 'rabbitmq'],
    ['order-api', 'mailer'],
    ['mailer', 'rabbitmq'],
    ['mailer', 'postgres'],
    ['mailer', 'maildev'],
    ['grafana', 'prometheus'],
  ])('when %s starts, then it waits for %s to be healthy', (name, dependency) => {
    expect(raw.services[name].depends_on).toMatchObject({ [dependency]: { condition: 'service_healthy' } });
  });

  it.each([['order-api'], ['mailer']])('when %s runs in the stack, then it listens on 0.0.0.0', (name) => {
    expect(raw.services[name].environment?.HOST).toBe('0.0.0.0');
  });

  it('when Prometheus scrapes the mailer, then it finds every replica by DNS (one A record per container), not one fixed target', () => {
    const job = prometheusConfig.scrape_configs.find((c) => c.job_name === 'mailer');

    expect(job?.static_configs).toBeUndefined();
    expect(job?.dns_sd_configs).toEqual([
      expect.objectContaining({ names: [MAILER_SCRAPE.service], type: 'A', port: MAILER_SCRAPE.port }),
    ]);
    expect(raw.services).toHaveProperty(MAILER_SCRAPE.service);
    expect(raw.services.mailer.environment?.PORT).toBe(String(MAILER_SCRAPE.port));
  });
});
