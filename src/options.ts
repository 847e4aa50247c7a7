// Every daemon option in one table, read by the command-line parser and the --config file parser
// alike, so both accept exactly the same options.
import { DEFAULTS } from './config.js';

export interface OptionSpec {
  name: string;
  /** takes a value (else a flag) */
  value: boolean;
  repeatable?: boolean;
  /** not allowed inside a --config file */
  commandLineOnly?: boolean;
  describe: string;
}

export const OPTIONS: readonly OptionSpec[] = [
  { name: 'value-id', value: true, repeatable: true, describe: 'Announce <name>[:<port>] (repeatable); port defaults to the DHT port' },
  { name: 'auth-gen-keys', value: false, commandLineOnly: true, describe: 'Print a new ed25519 key pair (hex, and the public key in z-base32) and exit' },
  { name: 'auth-add-skey', value: true, repeatable: true, describe: 'Secret key for announcing [<pattern>:]<128 hex> or [<pattern>:]@<file> (repeatable)' },
  { name: 'auth-add-pkey', value: true, repeatable: true, describe: 'Public key for verifying lookups [<pattern>:]<64 hex> (repeatable)' },
  { name: 'auth-refuse-1x', value: false, describe: 'Answer key names only with addresses proven by the address-bound exchange, not by the KadNode 1.x one (which can be relayed)' },
  { name: 'bob-load-key', value: true, repeatable: true, describe: 'Announce the KadNode 2.x key name of a P-256 secret key <file> (PEM, mode 600) and answer its challenges (repeatable)' },
  { name: 'bob-create-key', value: true, commandLineOnly: true, describe: 'Write a new P-256 secret key for --bob-load-key to <file>, print its name and exit' },
  { name: 'pkarr-key', value: true, describe: 'Secret key <128 hex> or @<file> whose zone is published on the DHT (PKARR); needs --pkarr-zone' },
  { name: 'pkarr-zone', value: true, describe: 'Zone file to publish under --pkarr-key: lines NAME TTL TYPE DATA (A, AAAA, TXT, CNAME, SRV, HTTPS, SVCB)' },
  { name: 'peer', value: true, repeatable: true, describe: 'Bootstrap peer <addr>[:<port>] (repeatable)' },
  { name: 'peerfile', value: true, describe: 'File with bootstrap peers, one per line (default: the bundled peers.txt unless --peer is given)' },
  { name: 'port', value: true, describe: `DHT UDP port (default ${DEFAULTS.port})` },
  { name: 'dht-addr', value: true, describe: `Address the DHT socket binds to (default ${DEFAULTS.dhtAddress})` },
  { name: 'query-tld', value: true, describe: `Top-level domain of DHT names (default ${DEFAULTS.queryTld})` },
  { name: 'dns-port', value: true, describe: `DNS port, UDP and TCP; 0 disables (default ${DEFAULTS.dnsPort})` },
  { name: 'dns-addr', value: true, repeatable: true, describe: 'Address the DNS server binds to (repeatable; default 127.0.0.1 and ::1)' },
  { name: 'cmd-port', value: true, describe: `Control port for kadnode-ctl, TCP on loopback; 0 disables (default ${DEFAULTS.cmdPort})` },
  { name: 'cmd-disable-stdin', value: false, describe: 'Do not read console commands from standard input' },
  { name: 'web-port', value: true, describe: `Web interface port, HTTP on loopback; 0 disables (default ${DEFAULTS.webPort})` },
  { name: 'web-addr', value: true, repeatable: true, describe: 'Address the web interface binds to (repeatable; default 127.0.0.1 and ::1)' },
  { name: 'web-host', value: true, repeatable: true, describe: 'Name the web interface answers to besides its address and localhost (repeatable); other Host headers get 421' },
  { name: 'nss-port', value: true, describe: `Port for the NSS module libnss_kadnode, UDP on loopback; 0 disables (default ${DEFAULTS.nssPort})` },
  { name: 'mode', value: true, describe: 'IP family of the DHT: ipv4, ipv6 or dual (default ipv4)' },
  { name: 'lpd-addr', value: true, describe: 'Multicast address for local peer discovery (default 239.192.152.143, or ff15::efc0:988f for IPv6)' },
  { name: 'lpd-disable', value: false, describe: 'Disable local peer discovery' },
  { name: 'peerfile-save-interval', value: true, describe: 'Seconds between peer file exports (default 86400)' },
  { name: 'peerfile-min-uptime', value: true, describe: 'Seconds of runtime before the peer file is written (default 300)' },
  { name: 'fwd-disable', value: false, describe: 'Disable port forwarding via UPnP and NAT-PMP' },
  { name: 'dns-server', value: true, describe: 'Upstream DNS server <addr>[:<port>] for names outside the TLD (proxy mode)' },
  { name: 'config', value: true, commandLineOnly: true, describe: 'Read options from a file: one option and its value per line, # comments' },
  { name: 'daemon', value: false, describe: 'Run in the background and log to syslog' },
  { name: 'pidfile', value: true, describe: 'Write the process id to this file when ready; removed on exit' },
  { name: 'user', value: true, describe: 'Drop root privileges to this user after binding the sockets' },
  { name: 'verbosity', value: true, describe: 'quiet, verbose or debug (default verbose)' },
];

export const OPTION_BY_NAME: ReadonlyMap<string, OptionSpec> = new Map(OPTIONS.map((o) => [o.name, o]));

/** Option values as the parsers hand them over: strings, lists of strings, or flags. */
export type RawOptions = Partial<Record<string, string | string[] | boolean>>;
