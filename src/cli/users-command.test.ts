import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../platform/config.ts';
import { siteUrl } from './users-command.ts';

describe('the CLI\'s sign-in links', () => {
  it('name PUBLIC_URL, else the configured HOST and PORT (a wildcard host as 127.0.0.1), never a fixed port', () => {
    assert.equal(siteUrl(loadConfig({ PORT: '3100' })), 'http://127.0.0.1:3100');
    assert.equal(siteUrl(loadConfig({ PORT: '8080', HOST: '0.0.0.0' })), 'http://127.0.0.1:8080');
    assert.equal(siteUrl(loadConfig({ PORT: '8080', HOST: '::1' })), 'http://[::1]:8080');
    assert.equal(siteUrl(loadConfig({ PORT: '8080', PUBLIC_URL: 'https://grid.example.org/' })), 'https://grid.example.org');
  });
});
