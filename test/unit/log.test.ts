import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger, silentLogger, type LogLevel } from '../../src/log.js';

function capture(verbosity: 'quiet' | 'verbose' | 'debug' = 'debug') {
  const lines: string[] = [];
  const texts: [LogLevel, string][] = [];
  const log = createLogger(verbosity, (line, level, text) => {
    lines.push(line);
    texts.push([level, text]);
  });
  return { log, lines, texts };
}

test('loggers nest: a part of a component logs under both names', () => {
  const { log, lines } = capture();
  log.info('Ready.');
  const dns = log.child('DNS');
  dns.info('Bind to 127.0.0.1:3535');
  dns.child('FWD').warn('Upstream 10.201.0.2:53 gives no answer');
  const pkarr = log.child('PKARR');
  pkarr.child('PUB').info('Published');
  pkarr.child('RELAY').debug('relay put');
  pkarr.error('Item refused');
  assert.deepEqual(lines, [
    '(I) Ready.',
    '(I) DNS: Bind to 127.0.0.1:3535',
    '(W) DNS/FWD: Upstream 10.201.0.2:53 gives no answer',
    '(I) PKARR/PUB: Published',
    '(D) PKARR/RELAY: relay put',
    '(E) PKARR: Item refused',
  ]);
});

test('a child keeps the verbosity and the sink; the text for syslog has no level mark', () => {
  const { log, lines, texts } = capture('quiet');
  const fwd = log.child('DNS').child('FWD');
  fwd.info('hidden when quiet');
  fwd.debug('hidden when quiet');
  fwd.warn('shown');
  assert.deepEqual(lines, ['(W) DNS/FWD: shown']);
  assert.deepEqual(texts, [['warn', 'DNS/FWD: shown']]);
  assert.equal(silentLogger.child('A').child('B'), silentLogger);
});
