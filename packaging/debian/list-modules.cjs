// Prints "  <name> <version>: <license>" for every module under a node_modules directory (nested
// ones included), sorted; used by build.sh for /usr/share/doc/kadnode/copyright.
const { readdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

const lines = new Set();
function walk(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.name.startsWith('@')) {
      walk(path);
      continue;
    }
    try {
      const p = JSON.parse(readFileSync(join(path, 'package.json'), 'utf8'));
      const license = typeof p.license === 'string' ? p.license : JSON.stringify(p.license ?? p.licenses ?? 'see its directory');
      lines.add(`  ${p.name} ${p.version}: ${license}`);
    } catch {
      // not a module
    }
    walk(join(path, 'node_modules'));
  }
}
walk(process.argv[2]);
console.log([...lines].sort().join('\n'));
