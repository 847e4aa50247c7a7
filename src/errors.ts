// The errors whose message is meant for the person running kadnode. Their type is the recovery decision:
//
//   OperatorError          printed as one line (`kadnode: ...`, exit 1), never with a stack; any other
//   │                      error that reaches the command line is a bug and is printed with its stack
//   ├─ UsageError          the operator's input was wrong: the start stops before anything runs, or a
//   │  │                   console/control/web command answers `usage` (not `failed`)
//   │  └─ ConfigError      an option's value or a rule between options; names the option
//   │     └─ ConfigFileError  the same inside a --config file: names the file and the line
//   └─ ProcessError        a process duty failed (--pidfile, --user, --daemon)
//
// Value errors come from the parsers below the options and commands; their message names no option,
// so whoever parses an option or a command argument wraps them into a ConfigError or a UsageError.
// Errors about network input (packets, gateways) stay with their modules: no operator sees them as is.
// This module imports nothing, so any module may use it.

export class OperatorError extends Error {}

export class UsageError extends OperatorError {}

export class ConfigError extends UsageError {}

export class ConfigFileError extends ConfigError {
  constructor(readonly file: string, readonly line: number | undefined, readonly reason: string) {
    super(line === undefined ? `${file}: ${reason}` : `${file}:${line}: ${reason}`);
  }
}

export class ProcessError extends OperatorError {}

// ---------------------------------------------------------------- value errors

/** an ed25519 key or a key pattern (src/identity/keys.ts, patterns.ts) */
export class KeyError extends Error {}

/** a KadNode 2.x P-256 key file (src/identity/bob.ts) */
export class BobKeyError extends Error {}

/** a name that cannot be looked up or announced (src/identity/query.ts) */
export class QueryError extends Error {}

/** a host[:port] of --peer, --dns-server or a peer file line (src/net/peerfile.ts) */
export class AddressError extends Error {}

/** a --pkarr-zone file (src/pkarr/zone.ts) */
export class ZoneError extends Error {}
