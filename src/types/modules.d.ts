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
    removeNode(id: Buffer): void;
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

declare module 'k-bucket' {
  // src/dht/library-types.ts types what the adapter uses of it (RoutingTable)
  const KBucket: new (options: { localNodeId: Uint8Array; numberOfNodesPerKBucket?: number; numberOfNodesToPing?: number }) => unknown;
  export default KBucket;
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

declare module 'z32' {
  const z32: { encode(data: Uint8Array): string; decode(text: string): Uint8Array };
  export default z32;
}

declare module 'sodium-native' {
  const sodium: {
    crypto_sign_BYTES: number;
    crypto_sign_PUBLICKEYBYTES: number;
    crypto_sign_SECRETKEYBYTES: number;
    crypto_sign_keypair(pk: Buffer, sk: Buffer): void;
    crypto_sign_seed_keypair(pk: Buffer, sk: Buffer, seed: Buffer): void;
    crypto_sign(signed: Buffer, message: Buffer, sk: Buffer): void;
    crypto_sign_open(message: Buffer, signed: Buffer, pk: Buffer): boolean;
    crypto_sign_detached(sig: Buffer, message: Buffer, sk: Buffer): void;
    crypto_sign_verify_detached(sig: Buffer, message: Buffer, pk: Buffer): boolean;
    randombytes_buf(buf: Buffer): void;
  };
  export default sodium;
}

declare module 'crc-32/crc32c.js' {
  const crc32c: { buf(data: Uint8Array | number[], seed?: number): number };
  export default crc32c;
}
