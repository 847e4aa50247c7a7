// /etc/netns/<ns>/ files: `ip netns exec <ns>` bind-mounts each of them over the file of the same name
// in /etc for the command it runs (resolv.conf, nsswitch.conf, ...), so a test can give its own
// namespaces their own resolver configuration without touching the host's /etc files.
import { existsSync, mkdirSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerCleanup } from './netns.js';

const BASE = '/etc/netns';

/**
 * Writes /etc/netns/<ns>/<name> for each entry of files and returns the remover, which deletes the
 * namespace's directory, and /etc/netns too when this call created it and it is empty. The remover
 * also runs on process exit and on SIGINT/SIGTERM/SIGHUP. Only for namespaces the caller created.
 */
export function netnsEtc(ns: string, files: Record<string, string>): () => void {
  if (!/^kn-\d+-/.test(ns)) throw new Error(`netnsEtc: '${ns}' is not a test namespace (kn-<pid>-...)`);
  const createdBase = !existsSync(BASE);
  const dir = join(BASE, ns);
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    rmSync(dir, { recursive: true, force: true });
    if (createdBase) {
      try {
        if (readdirSync(BASE).length === 0) rmdirSync(BASE);
      } catch {
        // gone, or another test's files are in it
      }
    }
  };
  const unregister = registerCleanup(remove);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return () => {
    unregister();
    remove();
  };
}
