import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

const root = path.resolve(__dirname, '../..');
const dir = 'infra/prometheus';
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

const MISSING_PROMTOOL =
  "promtool is not installed: install Debian's `prometheus` package (`apt-get install prometheus`; .ci/run does this in CI)";

/** Runs promtool from the repository root; never rejects, so a failure shows promtool's own words. */
function promtool(...args: string[]): Promise<{ code: number | string; output: string }> {
  return new Promise((resolve) => {
    execFile('promtool', args, { cwd: root, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (error.code ?? 'killed') : 0;
      const output = code === 'ENOENT' ? MISSING_PROMTOOL : `promtool ${args.join(' ')}\n${stdout}${stderr}`;
      resolve({ code, output });
    });
  });
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface AlertRuleTest {
  alertname: string;
  eval_time: string;
  exp_alerts?: unknown[] | null;
}

const alerts: Rule[] = (parse(read(`${dir}/alerts.yml`)) as { groups: { rules: Rule[] }[] }).groups
  .flatMap((g) => g.rules)
  .filter((r) => r.alert !== undefined);
const ruleTests: AlertRuleTest[] = (
  parse(read(`${dir}/alerts.test.yml`)) as { tests: { alert_rule_test?: AlertRuleTest[] }[] }
).tests.flatMap((t) => t.alert_rule_test ?? []);

/** Metric names in a PromQL expression: identifiers outside label matchers, strings, ranges and `by (…)`, not called. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\[[^\]]*\]/g, '');
  const keywords = new Set(['and', 'or', 'unless', 'bool', 'offset']);
  return [...stripped.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)]
    .map((m) => m[1])
    .filter((name) => !keywords.has(name));
}

describe('Prometheus configuration and alert rules (infra/prometheus)', () => {
  it('when promtool checks prometheus.yml (and the rule files it loads), then it is valid', async () => {
    const { code, output } = await promtool('check', 'config', `${dir}/prometheus.yml`);
    expect({ code, output }).toEqual({ code: 0, output: expect.stringContaining('SUCCESS') });
  });

  it('when promtool checks alerts.yml, then it is valid', async () => {
    const { code, output } = await promtool('check', 'rules', `${dir}/alerts.yml`);
    expect({ code, output }).toEqual({ code: 0, output: expect.stringContaining('SUCCESS') });
  });

  it('when promtool runs the unit tests in alerts.test.yml, then they pass', async () => {
    const { code, output } = await promtool('test', 'rules', `${dir}/alerts.test.yml`);
    expect({ code, output }).toEqual({ code: 0, output: expect.stringContaining('SUCCESS') });
  });

  it('when alerts.test.yml is compared with alerts.yml, then every alert has a case where it fires and one where it does not', () => {
    expect(alerts.length).toBeGreaterThanOrEqual(11);
    const names = alerts.map((a) => a.alert as string);
    const casesOf = (name: string) => ruleTests.filter((t) => t.alertname === name);
    expect(names.filter((n) => !casesOf(n).some((t) => (t.exp_alerts ?? []).length > 0))).toEqual([]);
    expect(names.filter((n) => !casesOf(n).some((t) => (t.exp_alerts ?? []).length === 0))).toEqual([]);
    // A case for an alert that does not exist (a typo, a rename) would pass vacuously.
    expect(ruleTests.map((t) => t.alertname).filter((n) => !names.includes(n))).toEqual([]);
  });

  it('when each alert is read, then it has a `for`, a page|ticket severity, a summary, a description and a runbook section in the README', () => {
    const readme = read(`${dir}/README.md`);
    const problems = alerts.flatMap((a) => {
      const name = a.alert as string;
      const anchor = `${dir}/README.md#${name.toLowerCase()}`;
      return [
        !a.for && `${name}: no for`,
        !['page', 'ticket'].includes(a.labels?.severity ?? '') && `${name}: severity ${a.labels?.severity}`,
        !a.annotations?.summary && `${name}: no summary`,
        !a.annotations?.description && `${name}: no description`,
        a.annotations?.runbook !== anchor && `${name}: runbook is not ${anchor}`,
        !new RegExp(`^#+ ${name}$`, 'm').test(readme) && `${name}: no "### ${name}" section in ${dir}/README.md`,
      ].filter(Boolean);
    });
    expect(problems).toEqual([]);
  });

  it('when the alert expressions are read, then every metric they use is in the catalogue infra/METRICS.md', () => {
    const catalogue = new Set([...read('infra/METRICS.md').matchAll(/`([a-z_:][a-z0-9_:]*)`/g)].map((m) => m[1]));
    catalogue.add('up'); // Prometheus's own, per target
    const used = [...new Set(alerts.flatMap((a) => metricNames(a.expr)))];
    expect(used).toEqual(expect.arrayContaining(['up', 'mailer_emails_total', 'rabbitmq_detailed_queue_messages']));
    const base = (name: string) => name.replace(/_(bucket|count|sum)$/, '');
    expect(used.filter((name) => !catalogue.has(name) && !catalogue.has(base(name)))).toEqual([]);
  });
});
