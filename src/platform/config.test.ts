import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from './config.ts';

describe('configuration', () => {
  it('runs on embedded defaults with nothing set, and is frozen', () => {
    const c = loadConfig({});
    assert.equal(c.PORT, 3000);
    assert.equal(c.HOST, '127.0.0.1');
    assert.equal(c.DATABASE_URL, undefined);
    assert.equal(c.REDIS_URL, undefined);
    assert.equal(c.METRICS_TOKEN, undefined);
    assert.equal(c.FORECAST_CRON, '40 * * * *');
    assert.ok(Object.isFrozen(c));
  });

  it('names the bad variable in one line', () => {
    const bad: Array<[Record<string, string>, RegExp]> = [
      [{ PORT: 'eighty' }, /^invalid configuration: PORT: /],
      [{ DATABASE_URL: 'mysql://x' }, /^invalid configuration: DATABASE_URL: must be a postgres:\/\/ URL$/],
      [{ REDIS_URL: 'localhost:6379' }, /^invalid configuration: REDIS_URL: /],
      [{ INGEST_CRON: 'hourly' }, /^invalid configuration: INGEST_CRON: /],
      [{ METRICS_TOKEN: 'short' }, /^invalid configuration: METRICS_TOKEN: at least 16 characters, no spaces$/],
      [{ METRICS_TOKEN: ' '.repeat(20) }, /^invalid configuration: METRICS_TOKEN: /],
      [{ LOG_LEVEL: 'loud' }, /^invalid configuration: LOG_LEVEL: /],
      [{ METRICS_PORT: '0' }, /^invalid configuration: METRICS_PORT: /],
    ];
    for (const [env, message] of bad) assert.throws(() => loadConfig(env), (err: Error) => err instanceof ConfigError && message.test(err.message));
  });

  it('reads set values; an empty variable counts as unset', () => {
    const c = loadConfig({ PORT: '8080', METRICS_PORT: '9464', METRICS_TOKEN: 'a-long-enough-secret', DATABASE_URL: '', RAW_RETENTION_DAYS: '7' });
    assert.equal(c.PORT, 8080);
    assert.equal(c.METRICS_PORT, 9464);
    assert.equal(c.METRICS_TOKEN, 'a-long-enough-secret');
    assert.equal(c.DATABASE_URL, undefined);
    assert.equal(c.RAW_RETENTION_DAYS, 7);
  });
});
