// `node --import <this file>`: writes every module URL the process resolves (ESM import and import()),
// one a line, to the file named by KADNODE_IMPORT_LOG. Loaded on the main thread it registers itself as
// the module hooks, which node runs on a thread of their own.
import { appendFileSync } from 'node:fs';
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

type Resolved = { url: string };
type NextResolve = (specifier: string, context: unknown) => Promise<Resolved>;

export async function resolve(specifier: string, context: unknown, next: NextResolve): Promise<Resolved> {
  const resolved = await next(specifier, context);
  const log = process.env.KADNODE_IMPORT_LOG;
  if (log) appendFileSync(log, `${resolved.url}\n`);
  return resolved;
}

if (isMainThread) register(import.meta.url);
