// What the real KadNode 2.4.2 produced (../shared/fixtures/kadnode2/, beside the repository): bob keys,
// the names it printed for them, and challenges sent to it with the replies it gave.
import { copyFileSync, chmodSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/test/helpers → the repository → its sibling shared/
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const FIXTURE_DIR = process.env.KADNODE2_FIXTURES ?? join(repoRoot, '..', 'shared', 'fixtures', 'kadnode2');

if (!existsSync(join(FIXTURE_DIR, 'bob-captures.json'))) {
  throw new Error(`KadNode 2.x fixtures not found in ${FIXTURE_DIR} (set KADNODE2_FIXTURES to their folder)`);
}

/** The names `kadnode --bob-load-key FILE --bob-print-keys` printed (fixtures README). */
export const FIXTURE_NAMES = {
  key1: 'ry730cc9eg79sptnwtz4kyqex2vcs6axygfdgzzheth3rjja739g',
  key2: '7frvc89bng08nmrbvvet8kae91hs23hxvrff3j4cgydr97fwydx0',
  key3: '1z9bssp31sq08rveekbzrrkz97e0x0kme70f3rkt0b28dqj1xg5g',
} as const;

export type FixtureKey = keyof typeof FIXTURE_NAMES;

export interface Capture {
  name: string;
  /** the whole 67-byte challenge datagram */
  challengePacket: Buffer;
  /** X and the 32 challenge bytes, cut from it */
  x: Buffer;
  challenge: Buffer;
  /** the whole reply datagram, absent for key3 (not loaded: no reply) */
  replyPacket?: Buffer;
  replyFromPort?: number;
}

interface RawCapture {
  name: string;
  challenge_packet: string;
  reply_packet?: string;
  reply_from_port?: number;
}

export const CAPTURES: Capture[] = (JSON.parse(readFileSync(join(FIXTURE_DIR, 'bob-captures.json'), 'utf8')) as RawCapture[]).map((c) => {
  const challengePacket = Buffer.from(c.challenge_packet, 'hex');
  const capture: Capture = { name: c.name, challengePacket, x: challengePacket.subarray(3, 35), challenge: challengePacket.subarray(35) };
  if (c.reply_packet) capture.replyPacket = Buffer.from(c.reply_packet, 'hex');
  if (c.reply_from_port !== undefined) capture.replyFromPort = c.reply_from_port;
  return capture;
});

/** The captures answered by KadNode 2.x (key1 and key2, two each). */
export const ANSWERED = CAPTURES.filter((c): c is Capture & { replyPacket: Buffer } => c.replyPacket !== undefined);

/** Git keeps no modes: the key arrives world-readable, so it is copied to a mode-600 file in `dir`. */
export function privateKeyCopy(key: FixtureKey, dir: string): string {
  const path = join(dir, `${key}.pem`);
  copyFileSync(join(FIXTURE_DIR, `${key}.pem`), path);
  chmodSync(path, 0o600);
  return path;
}

export function fixturePem(key: FixtureKey): Buffer {
  return readFileSync(join(FIXTURE_DIR, `${key}.pem`));
}
