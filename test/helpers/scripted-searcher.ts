// A scripted DHT for resolver tests: each search waits until the test emits addresses and finishes it.
import type { OnPeer, Searcher } from '../../src/dht/node.js';

export interface ScriptedSearch {
  id: string;
  emit: OnPeer;
  /** ends the walk; `answered` nodes replied (0: the DHT could not be reached) */
  finish: (answered?: number) => void;
  signal: AbortSignal;
}

export class ScriptedSearcher implements Searcher {
  calls: ScriptedSearch[] = [];
  search(id: Buffer, onPeer: OnPeer, signal: AbortSignal): Promise<number> {
    return new Promise((resolve) => {
      this.calls.push({ id: id.toString('hex'), emit: onPeer, finish: (answered = 8) => resolve(answered), signal });
      signal.addEventListener('abort', () => resolve(0));
    });
  }
}
