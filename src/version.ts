import { readFileSync } from 'node:fs';

// dist/src/version.js → the package root two levels up.
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export const VERSION: string = pkg.version;
export const FEATURES = ['dht', 'ipv6', 'auth', 'lpd', 'dns', 'nss', 'cmd', 'web', 'upnp', 'natpmp'] as const;
export const VERSION_LINE = `kadnode v${VERSION} ( ${FEATURES.join(' ')} )`;
export const PACKAGE_ROOT = new URL('../../', import.meta.url);
