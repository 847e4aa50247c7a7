// Minimal typings for the untyped DHT packages we use; only what kadnode touches.
declare module 'bittorrent-dht' {
  import { EventEmitter } from 'node:events';
  export interface DhtNodeInfo { id?: Buffer; host: string; port: number; token?: Buffer }
  export interface DhtOptions {
    krpc?: unknown;
    bootstrap?: false | Array<{ host: string; port: number }>;
    maxAge?: number;
    maxPeers?: number;
    maxValues?: number;
    verify?: (sig: Uint8Array, msg: Uint8Array, pk: Uint8Array) => boolean;
  }
  export class Client extends EventEmitter {
    constructor(opts?: DhtOptions);
    nodeId: Buffer;
    nodes: { count(): number; toArray(): DhtNodeInfo[] };
    listening: boolean;
    destroyed: boolean;
    lookup(infoHash: Buffer, cb?: (err: Error | null, n?: number) => void): () => void;
    announce(infoHash: Buffer, port: number, cb?: (err: Error | null, n?: number) => void): void;
    addNode(node: DhtNodeInfo): void;
    address(): { address: string; family: string; port: number };
    destroy(cb?: () => void): void;
  }
  export default Client;
}

declare module 'k-rpc' {
  const KRpc: (opts: Record<string, unknown>) => {
    id: Buffer;
    bootstrap: Array<{ host: string; port: number }>;
    nodes: { count(): number };
    populate(target: Buffer, message: unknown, cb: (err: Error | null, n?: number) => void): void;
  };
  export default KRpc;
}

declare module 'k-rpc-socket' {
  const KRpcSocket: (opts: Record<string, unknown>) => unknown;
  export default KRpcSocket;
}

declare module 'bencode' {
  const bencode: {
    encode(value: unknown): Uint8Array;
    decode(data: Uint8Array, encoding?: string): unknown;
    byteLength(value: unknown): number;
  };
  export default bencode;
}
