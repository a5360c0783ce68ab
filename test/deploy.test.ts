import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { Metrics } from '../src/platform/metrics.ts';

const root = path.resolve(import.meta.dirname, '..');
const deploy = (f: string) => path.join(root, 'deploy', f);

interface Rule { alert: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
const rules = (parse(readFileSync(deploy('prometheus/alerts.yml'), 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> }).groups.flatMap((g) => g.rules);
const dashboard = JSON.parse(readFileSync(deploy('grafana/gridpulse-dashboard.json'), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };

/** Metric names GridPulse declares: the first argument of every `.counter(`, `.gauge(` and `.histogram(` in src/. */
function declaredMetrics(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir)) {
      const p = path.join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) {
        for (const m of readFileSync(p, 'utf8').matchAll(/\.(?:counter|gauge|histogram)(?:<[^>]*>)?\(\s*'([a-z_:][a-z0-9_:]*)'/g)) names.add(m[1]!);
      }
    }
  };
  walk(path.join(root, 'src'));
  return names;
}

/** prom-client's process metrics, as every role exports them. */
async function processMetrics(): Promise<Set<string>> {
  const text = await new Metrics().render();
  return new Set([...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!));
}

/** Gateway metrics the fleet gateway exports (deploy/prometheus/fleet-metrics.txt). */
const fleetMetrics = new Set(readFileSync(deploy('prometheus/fleet-metrics.txt'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split('\t')[0]!));

/** Metric names a PromQL expression reads (histogram series reduced to their metric). */
function metricsIn(expr: string): string[] {
  const names = [...expr.matchAll(/\b((?:gridpulse|nodejs|process)_[a-z0-9_]+)/g)].map((m) => m[1]!);
  return [...new Set(names.map((n) => n.replace(/_(bucket|count|sum)$/, '')))];
}

function promtool(): string | undefined {
  const candidate = process.env.PROMTOOL ?? 'promtool';
  return spawnSync(candidate, ['--version']).status === 0 ? candidate : undefined;
}

describe('deploy/: alert rules, dashboard, image and compose', () => {
  it('promtool accepts the rules and their unit tests pass (breaker opens and recovers, job failing, data stale, error rate, devices offline)', (t) => {
    const tool = promtool();
    if (!tool) {
      if (process.env.CI) assert.fail('promtool not found (.ci/run installs it from Debian\'s prometheus package)');
      t.skip('promtool not installed (set PROMTOOL or install Debian\'s prometheus package)');
      return;
    }
    execFileSync(tool, ['check', 'rules', deploy('prometheus/alerts.yml')], { stdio: 'pipe' });
    const run = spawnSync(tool, ['test', 'rules', deploy('prometheus/alerts.test.yml')], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stdout + run.stderr);
  });

  it('every alert has a severity, a role, a summary and a runbook line; the issue\'s alerts are all there', () => {
    const names = rules.map((r) => r.alert);
    assert.equal(new Set(names).size, names.length, 'alert names are unique');
    for (const r of rules) {
      assert.match(r.alert, /^GridPulse[A-Z]\w+$/);
      assert.ok(['page', 'warn'].includes(r.labels?.severity ?? ''), `${r.alert}: severity`);
      assert.ok(['web', 'worker', 'gateway', 'any'].includes(r.labels?.role ?? ''), `${r.alert}: role`);
      assert.ok((r.annotations?.summary ?? '').length > 10, `${r.alert}: summary`);
      assert.ok((r.annotations?.runbook ?? '').length > 30, `${r.alert}: runbook`);
      assert.match(r.for ?? '', /^\d+[smh]$/, `${r.alert}: for`);
    }
    for (const needed of ['GridPulseDataStale', 'GridPulseEiaBreakerOpen', 'GridPulseJobFailing', 'GridPulseDevicesOffline', 'GridPulseAckLatencyHigh', 'GridPulseHttpErrorRate', 'GridPulseSaturation']) {
      assert.ok(names.includes(needed), needed);
    }
  });

  it('every metric the rules and the dashboard read is exported (gateway metrics: by the fleet gateway, as listed)', async () => {
    const exported = new Set([...declaredMetrics(), ...await processMetrics()]);
    const missing: string[] = [];
    for (const r of rules) {
      for (const m of metricsIn(r.expr)) if (!exported.has(m) && !(r.labels?.role === 'gateway' && fleetMetrics.has(m))) missing.push(`${r.alert}: ${m}`);
    }
    for (const p of dashboard.panels) {
      for (const t of p.targets) for (const m of metricsIn(t.expr)) if (!exported.has(m) && !fleetMetrics.has(m)) missing.push(`panel "${p.title}": ${m}`);
    }
    assert.deepEqual(missing, []);
    // the check can fail: a made-up metric is caught
    assert.equal(exported.has('gridpulse_no_such_metric'), false);
    assert.ok(exported.has('gridpulse_eia_circuit_open') && exported.has('gridpulse_dependency_up') && exported.has('nodejs_eventloop_lag_p99_seconds'));
  });

  it('the image is multi-stage on Node 24, runs as a non-root user and has a HEALTHCHECK', () => {
    const df = readFileSync(deploy('Dockerfile'), 'utf8');
    const froms = [...df.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]!);
    assert.ok(froms.length >= 2, 'multi-stage');
    assert.ok(froms.every((f) => f.startsWith('node:24')), froms.join(', '));
    const user = [...df.matchAll(/^USER (\S+)/gm)].at(-1)?.[1];
    assert.ok(user && user !== 'root' && user !== '0', `runs as ${user}`);
    assert.match(df, /^HEALTHCHECK .*\n?.*\/healthz/m);
  });

  it('compose runs PostgreSQL with a streaming replica, Redis, Mosquitto, two copies of web, worker and gateway, and a proxy', () => {
    const compose = parse(readFileSync(deploy('compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, { command?: unknown; deploy?: { replicas?: number }; environment?: Record<string, string>; healthcheck?: unknown }> };
    const s = compose.services;
    for (const name of ['postgres', 'postgres-replica', 'redis', 'mosquitto', 'proxy']) assert.ok(s[name], name);
    assert.match(JSON.stringify(s['postgres-replica']!.command), /pg_basebackup .* -R/);
    for (const role of ['web', 'worker', 'gateway']) {
      assert.equal(s[role]?.deploy?.replicas, 2, role);
      assert.deepEqual(s[role]?.command, [role]);
      assert.match(s[role]!.environment!.DATABASE_REPLICA_URL!, /postgres-replica/);
    }
    assert.equal(s.worker!.environment!.METRICS_PORT, '9464');
  });
});
