import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { ownerGone, thisProcess } from './process-owner.ts';

describe('process owner', () => {
  it('tells a dead process on this host at once, and never calls this process, another host\'s or an unreadable owner gone', async () => {
    const me = thisProcess();
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await once(child, 'spawn');
    const owner = { pid: child.pid!, host: me.host, boot: me.boot };
    assert.equal(ownerGone(owner), false, 'alive');
    child.kill('SIGKILL');
    await once(child, 'exit');
    assert.equal(ownerGone(owner), true, 'killed -9');
    assert.equal(ownerGone(JSON.stringify(owner)), false, 'JSON text is no owner: the Db hands a jsonb owner over decoded');
    assert.equal(ownerGone(me), false, 'this process');
    assert.equal(ownerGone({ ...owner, host: `${me.host}-elsewhere` }), false, 'another host: only its heartbeat tells');
    assert.equal(ownerGone({ ...me, boot: 'an-earlier-boot' }), true, 'the host rebooted since');
    for (const bad of [null, undefined, 'x', '{"pid":"1"}', { pid: 1 }, 42]) assert.equal(ownerGone(bad), false, JSON.stringify(bad));
  });
});
