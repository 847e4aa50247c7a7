// What an idle daemon has loaded: the code of features that are off, and of work it has not met yet
// (key signatures, P-256 names, --help, /metrics), stays on disk. Each of these packages costs 1.5 to 8 MB
// of resident memory for the life of the process (npm run bench -- cost measures the whole).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { emptyPeerFile, pickPorts, sleep, startDaemon, tempDir } from './harness.js';

/** A module given to node with --import: records every module resolved (ESM hooks) or required (CJS). */
function recorderSource(out: string): string {
  const file = JSON.stringify(out);
  const hooks = `data:text/javascript,${encodeURIComponent(
    `import fs from 'node:fs'; export async function resolve(s, c, next) { const r = await next(s, c); fs.appendFileSync(${file}, r.url + '\\n'); return r; }`,
  )}`;
  return [
    `import fs from 'node:fs';`,
    `import Module, { register } from 'node:module';`,
    `register(${JSON.stringify(hooks)});`,
    `const load = Module._load;`,
    `Module._load = function (request, parent, isMain) { const m = load.call(this, request, parent, isMain); try { fs.appendFileSync(${file}, Module._resolveFilename(request, parent) + '\\n'); } catch {} return m; };`,
  ].join('\n');
}

/** package names (`@scope/name` or `name`) and node's own modules (`node:http`) among the recorded paths and URLs */
function packagesIn(path: string): Set<string> {
  const names = new Set<string>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(line);
    if (m) names.add(m[1]!);
    else if (/^node:[a-z_/]+$/.test(line)) names.add(line);
  }
  return names;
}

const NOT_AT_REST = ['yargs', 'yargs-parser', 'dns-packet', 'z32', 'cliui', 'string-width', '@noble/curves', 'sodium-native', 'prom-client', 'uplot', 'fast-xml-parser', 'node:http', 'node:child_process', 'node:readline'];

test('an idle daemon with its default surfaces loads no package it has not needed; the first /metrics loads node:http and prom-client', async (t) => {
  const dir = tempDir('kadnode-idle');
  t.after(dir.remove);
  const loaded = join(dir.path, 'loaded.txt');
  writeFileSync(loaded, '');
  const recorder = join(dir.path, 'recorder.mjs');
  writeFileSync(recorder, recorderSource(loaded));
  const [dht, dns, web, nss, cmd] = (await pickPorts(5)).map(String) as [string, string, string, string, string];
  const daemon = await startDaemon({
    args: ['--port', dht, '--dns-port', dns, '--web-port', web, '--nss-port', nss, '--cmd-port', cmd, '--peerfile', emptyPeerFile(dir.path)],
    env: { NODE_OPTIONS: `--import ${recorder}` },
  });
  try {
    await sleep(1000);
    const atRest = packagesIn(loaded);
    for (const needed of ['bittorrent-dht', 'k-rpc', 'node:dgram']) assert.ok(atRest.has(needed), `the recorder sees what runs: ${needed} (got ${[...atRest].join(' ')})`);
    for (const name of NOT_AT_REST) assert.ok(!atRest.has(name), `${name} is not loaded at rest`);
    const maps = readFileSync(`/proc/${daemon.pid}/maps`, 'utf8');
    assert.ok(!/sodium/.test(maps), 'no native sodium addon mapped');

    const res = await fetch(`http://127.0.0.1:${web}/metrics`);
    assert.equal(res.status, 200);
    await res.text();
    const asked = packagesIn(loaded);
    assert.ok(asked.has('node:http') && asked.has('prom-client'), 'node:http loads with the first web connection, prom-client with the first /metrics request');
  } finally {
    await daemon.stop();
  }
});
