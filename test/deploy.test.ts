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
  it('promtool accepts the rules and their unit tests pass (breaker opens and recovers, job failing, data stale, error rate, devices offline, ack latency p99, optimizer fallbacks and errors, eGRID import failed)', (t) => {
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
    for (const needed of ['GridPulseDataStale', 'GridPulseEiaBreakerOpen', 'GridPulseJobFailing', 'GridPulseDevicesOffline', 'GridPulseAckLatencyHigh', 'GridPulseHttpErrorRate', 'GridPulseSaturation',
      'GridPulseOptimizerFallbackRate', 'GridPulseOptimizerSolveErrors', 'GridPulseEgridImportFailed']) {
      assert.ok(names.includes(needed), needed);
    }
  });

  it('no GridPulse metric declares a label Prometheus owns (job, instance: without honor_labels it would become exported_job)', () => {
    const reserved: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir)) {
        const p = path.join(dir, e);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) {
          // a declaration's label names: the first [...] after the metric's name and help
          for (const m of readFileSync(p, 'utf8').matchAll(/\.(?:counter|gauge|histogram)(?:<[^>]*>)?\(\s*'([a-z_:][a-z0-9_:]*)',[^;]*?\[([^\]]*)\]/gs)) {
            for (const l of m[2]!.matchAll(/'([^']+)'/g)) if (['job', 'instance'].includes(l[1]!) || l[1]!.startsWith('__')) reserved.push(`${m[1]}{${l[1]}} in ${path.relative(root, p)}`);
          }
        }
      }
    };
    walk(path.join(root, 'src'));
    assert.deepEqual(reserved, []);
    // nor do the rules or the dashboard group an app metric by the scrape job
    const exprs = [...rules.map((r) => r.expr), ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr))];
    assert.deepEqual(exprs.filter((e) => /by \([^)]*\bjob\b/.test(e) || /"job"/.test(e)), []);
  });

  it('deploy/OPERATIONS.md has each alert\'s runbook line, as in the rule', () => {
    const ops = readFileSync(deploy('OPERATIONS.md'), 'utf8');
    for (const r of rules) assert.ok(ops.includes(`- \`${r.alert}\` (${r.labels!.severity}, ${r.labels!.role}): ${r.annotations!.runbook}`), r.alert);
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
    // the gateway's list is no escape hatch: each of its metrics is declared in src/ too
    assert.deepEqual([...fleetMetrics].filter((m) => !exported.has(m)), []);
    // dropped gateway messages have one counter, by reason (the former total without a reason is gone everywhere)
    const read = [...rules.map((r) => r.expr), ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr))].join('\n');
    assert.doesNotMatch(read, /gridpulse_gateway_invalid_total/);
    assert.equal(exported.has('gridpulse_gateway_invalid_total'), false);
    // the dashboard shows the fleet, optimizer and eGRID-import metrics (issue 16)
    for (const m of ['gridpulse_fleet_ack_latency_seconds', 'gridpulse_fleet_rollouts', 'gridpulse_fleet_versions_issued_total', 'gridpulse_fleet_versions_published_total',
      'gridpulse_gateway_messages_rejected_total', 'gridpulse_optimizer_solves_total', 'gridpulse_optimizer_solve_duration_seconds', 'gridpulse_optimizer_replan_devices_total',
      'gridpulse_egrid_imports_total', 'gridpulse_egrid_import_rows_total', 'gridpulse_egrid_import_duration_seconds']) {
      assert.ok(dashboard.panels.some((p) => p.targets.some((t) => metricsIn(t.expr).includes(m))), `a panel reads ${m}`);
    }
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

  it('compose runs PostgreSQL with a streaming replica, Redis, Mosquitto, two copies of web, worker and gateway (each gateway its own MQTT_GATEWAY_ID), and a proxy', () => {
    const compose = parse(readFileSync(deploy('compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, { command?: unknown; deploy?: { replicas?: number }; environment?: Record<string, string>; healthcheck?: unknown }> };
    const s = compose.services;
    for (const name of ['postgres', 'postgres-replica', 'redis', 'mosquitto', 'proxy']) assert.ok(s[name], name);
    assert.match(JSON.stringify(s['postgres-replica']!.command), /pg_basebackup .* -R/);
    for (const role of ['web', 'worker']) {
      assert.equal(s[role]?.deploy?.replicas, 2, role);
      assert.deepEqual(s[role]?.command, [role]);
      assert.match(s[role]!.environment!.DATABASE_REPLICA_URL!, /postgres-replica/);
    }
    // the gateway copies: one service each, so each keeps a stable MQTT_GATEWAY_ID (its broker session) across
    // recreates (the default, the hostname, changes with every container)
    const gateways = Object.entries(s).filter(([, v]) => JSON.stringify(v.command) === '["gateway"]');
    assert.deepEqual(gateways.map(([k]) => k).sort(), ['gateway-1', 'gateway-2']);
    const ids = gateways.map(([, v]) => v.environment?.MQTT_GATEWAY_ID);
    assert.ok(ids.every((id) => typeof id === 'string' && /^[\w-]+$/.test(id)), `stable ids: ${ids.join(', ')}`);
    assert.equal(new Set(ids).size, 2, 'one id per copy');
    for (const [name, v] of gateways) {
      assert.equal(v.deploy?.replicas ?? 1, 1, `${name}: one container per id`);
      assert.match(v.environment!.DATABASE_REPLICA_URL!, /postgres-replica/);
      assert.equal(v.environment!.METRICS_PORT, '9464');
    }
    assert.match(readFileSync(deploy('prometheus/prometheus.yml'), 'utf8'), /names: \[gateway-1, gateway-2\]/);
    assert.equal(s.worker!.environment!.METRICS_PORT, '9464');
  });

  it('web and worker (the roles that read from the replica) wait for it to be healthy, without failing to start when it never is', () => {
    const compose = parse(readFileSync(deploy('compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, { depends_on?: Record<string, { condition: string; required?: boolean }>; healthcheck?: { start_period?: string } }> };
    const s = compose.services;
    for (const role of ['web', 'worker']) {
      assert.deepEqual(s[role]!.depends_on!['postgres-replica'], { condition: 'service_healthy', required: false }, role);
      assert.deepEqual(s[role]!.depends_on!.migrate, { condition: 'service_completed_successfully' }, role);
    }
    assert.ok(s['postgres-replica']!.healthcheck!.start_period, 'the replica has time for its pg_basebackup before it counts as unhealthy');
  });
});

describe('deploy/: the compose broker (Mosquitto with dynamic security)', () => {
  it('compose writes the broker config in an init step (listener, dynsec plugin) and starts the gateway only on a healthy broker', () => {
    const compose = parse(readFileSync(deploy('compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, { command?: unknown; entrypoint?: unknown; volumes?: string[]; depends_on?: Record<string, { condition: string }>; healthcheck?: { test: string[] } }>; volumes: Record<string, unknown> };
    const s = compose.services;
    const init = s['mosquitto-init']!;
    assert.ok(init, 'a mosquitto-init service');
    assert.deepEqual(init.entrypoint, ['sh', '/gridpulse/init.sh']);
    assert.ok(init.volumes!.includes('./mosquitto/mosquitto.conf:/gridpulse/mosquitto.conf:ro'), JSON.stringify(init.volumes));
    assert.ok(init.volumes!.includes('./mosquitto/init.sh:/gridpulse/init.sh:ro'), JSON.stringify(init.volumes));
    assert.ok(init.volumes!.includes('mosquitto-data:/mosquitto/data'));
    assert.deepEqual(s.mosquitto!.command, ['mosquitto', '-c', '/mosquitto/data/mosquitto.conf']);
    assert.ok(s.mosquitto!.volumes!.includes('mosquitto-data:/mosquitto/data'));
    assert.deepEqual(s.mosquitto!.depends_on, { 'mosquitto-init': { condition: 'service_completed_successfully' } });
    assert.match(s.mosquitto!.healthcheck!.test.join(' '), /mosquitto_ctrl .*-p 1883 .*dynsec .*grep -q publishClientSend/);
    for (const g of ['gateway-1', 'gateway-2']) assert.equal(s[g]!.depends_on!.mosquitto!.condition, 'service_healthy', g);
    assert.ok('mosquitto-data' in compose.volumes);
    // the shared config stays listener-free (CI and compose each add their own listener)
    assert.doesNotMatch(readFileSync(deploy('mosquitto/mosquitto.conf'), 'utf8'), /^\s*(listener|plugin)\b/m);
  });

  it('the init script writes a config a real mosquitto starts with: the admin account answers on the listener, twice in a row', async (t) => {
    const plugin = spawnSync('sh', ['-c', "dpkg -L mosquitto 2>/dev/null | grep -m1 mosquitto_dynamic_security.so"], { encoding: 'utf8' }).stdout.trim();
    if (!plugin || spawnSync('mosquitto_ctrl', ['--help']).error) {
      if (process.env.CI) assert.fail('mosquitto with the dynamic-security plugin is not installed (.ci/mosquitto.sh installs it)');
      t.skip('mosquitto not installed');
      return;
    }
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { spawn } = await import('node:child_process');
    const { freePort } = await import('./support/pg-cluster.ts');
    const data = mkdtempSync(path.join(tmpdir(), 'gp-mosq-'));
    const port = await freePort();
    const env = { ...process.env, BASE_CONF: deploy('mosquitto/mosquitto.conf'), DATA: data, PLUGIN: plugin, PORT: String(port), MQTT_ADMIN_USERNAME: 'compose-admin', MQTT_ADMIN_PASSWORD: 'compose-test-pw' };
    // mosquitto_ctrl exits 0 even when refused ("Connection error: Not authorized"): an answer is the ACL listing
    const ctrl = (password: string) => spawnSync('mosquitto_ctrl', ['-h', '127.0.0.1', '-p', String(port), '-u', 'compose-admin', '-P', password, 'dynsec', 'getDefaultACLAccess'], { encoding: 'utf8', timeout: 5_000 });
    const answers = () => /publishClientSend/.test(ctrl('compose-test-pw').stdout ?? '');
    try {
      for (let run = 0; run < 2; run++) {
        execFileSync('sh', [deploy('mosquitto/init.sh')], { env });
        const conf = readFileSync(path.join(data, 'mosquitto.conf'), 'utf8');
        assert.match(conf, new RegExp(`^listener ${port}$`, 'm'));
        assert.match(conf, /^plugin .*mosquitto_dynamic_security\.so$/m);
        const broker = spawn('mosquitto', ['-c', path.join(data, 'mosquitto.conf')], { stdio: 'ignore' });
        try {
          let ok = false;
          for (let i = 0; i < 50 && !(ok = answers()); i++) await new Promise((r) => setTimeout(r, 100));
          assert.ok(ok, `run ${run}: the admin account answers on 127.0.0.1:${port}`);
          const wrong = ctrl('wrong');
          assert.doesNotMatch(wrong.stdout ?? '', /publishClientSend/, 'a wrong password gets no answer');
          assert.match(`${wrong.stdout}${wrong.stderr}`, /not authori[sz]ed/i);
        } finally {
          broker.kill('SIGTERM');
          await new Promise((r) => broker.once('exit', r));
        }
      }
      assert.throws(() => execFileSync('sh', [deploy('mosquitto/init.sh')], { env: { ...env, MQTT_ADMIN_PASSWORD: '' }, stdio: 'pipe' }), 'refuses to run without an admin password');
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });
});
