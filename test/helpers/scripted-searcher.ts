// A scripted DHT for resolver tests: each search waits until the test emits addresses and finishes it.
import type { OnPeer, Searcher } from '../../src/dht/node.js';
import type { PeerAddress } from '../../src/types.js';

export interface ScriptedSearch {
  id: string;
  emit: OnPeer;
  /** reports `peer` from `n` nodes next to the id: enough of the closest for a plain name (plain-candidates.ts) */
  agree: (peer: PeerAddress, n?: number) => void;
  /** ends the walk; `answered` nodes replied (0: the DHT could not be reached) */
  finish: (answered?: number) => void;
  signal: AbortSignal;
}

export class ScriptedSearcher implements Searcher {
  calls: ScriptedSearch[] = [];
  search(id: Buffer, onPeer: OnPeer, signal: AbortSignal): Promise<number> {
    return new Promise((resolve) => {
      const agree = (peer: PeerAddress, n = 4) => {
        for (let i = 1; i <= n; i++) onPeer(peer, `10.250.0.${i}`, Buffer.from(id.map((b, j) => (j === 19 ? b ^ i : b))));
      };
      this.calls.push({ id: id.toString('hex'), emit: onPeer, agree, finish: (answered = 8) => resolve(answered), signal });
      signal.addEventListener('abort', () => resolve(0));
    });
  }
}
