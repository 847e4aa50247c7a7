// Client-chosen text (query names, commands) in a log line or a reply: one printable line, so no
// client can forge a log line or write control characters to the operator's terminal.

/** For logs, nothing lost: every byte outside 0x21..0x7e (spaces, newlines, escapes, non-ASCII) as \xNN. */
export function printable(text: string): string {
  return text.replace(/[^\x21-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** For a reply to an operator's command: spaces kept, anything else unprintable as '?', at most `max` characters. */
export function printableShort(text: string, max = 64): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, max);
}

/** An error's message on one line (a library's multi-line message must not break the log's line shape). */
export function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ');
}
