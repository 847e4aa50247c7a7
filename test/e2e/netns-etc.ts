// /etc/netns/<ns>/ files: `ip netns exec <ns>` bind-mounts each of them over the file of the same name
// in /etc for the command it runs (resolv.conf, nsswitch.conf, ...), so a test can give its own
// namespaces their own resolver configuration without touching the host's /etc files.
import { existsSync, mkdirSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerCleanup } from './netns.js';

const BASE = '/etc/netns';

/** whether this process made /etc/netns, and how many namespace directories it has there now */
let baseCreated = false;
let live = 0;

/**
 * Writes /etc/netns/<ns>/<name> for each entry of files and returns the remover, which deletes the
 * namespace's directory, and /etc/netns too once the last one is gone if this process made it.
 * The remover also runs on process exit and on SIGINT/SIGTERM/SIGHUP. Only for namespaces the
 * caller created.
 */
export function netnsEtc(ns: string, files: Record<string, string>): () => void {
  if (!/^kn-\d+-/.test(ns)) throw new Error(`netnsEtc: '${ns}' is not a test namespace (kn-<pid>-...)`);
  if (!existsSync(BASE)) {
    mkdirSync(BASE);
    baseCreated = true;
  }
  const dir = join(BASE, ns);
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    live--;
    rmSync(dir, { recursive: true, force: true });
    // the parent only once the last of ours is gone, when this process made it and nobody else uses it
    if (baseCreated && live === 0) {
      try {
        if (readdirSync(BASE).length === 0) {
          rmdirSync(BASE);
          baseCreated = false;
        }
      } catch {
        // gone, or another test's files are in it
      }
    }
  };
  const unregister = registerCleanup(remove);
  live++;
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return () => {
    unregister();
    remove();
  };
}
