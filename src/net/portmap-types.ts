// What the port mapper needs from a gateway protocol (UPnP IGD, NAT-PMP), and the two kinds of failure
// it tells apart: the gateway is gone (find one again) or this one mapping was refused (retry it later).

export type Protocol = 'UDP' | 'TCP';
export type Method = 'UPnP' | 'NAT-PMP';

export interface MapRequest {
  protocol: Protocol;
  internalPort: number;
  /** the external port asked for (the gateway may grant another one) */
  externalPort: number;
  /** 0: permanent */
  leaseSeconds: number;
  description: string;
}

export interface MapResult {
  externalPort: number;
  /** as granted; 0: permanent */
  leaseSeconds: number;
  externalAddress?: string;
}

export interface UnmapRequest {
  protocol: Protocol;
  internalPort: number;
  externalPort: number;
}

/** One gateway, found and ready. Every call ends by itself (answer, error or abort). */
export interface MappingClient {
  readonly method: Method;
  /** for listings: "10.0.0.1" or "10.0.0.1:5000" */
  readonly gateway: string;
  readonly externalAddress: string | null;
  map(req: MapRequest, signal: AbortSignal): Promise<MapResult>;
  /** a mapping that does not exist counts as removed */
  unmap(req: UnmapRequest, signal: AbortSignal): Promise<void>;
  close(): void;
}

/** The gateway did not answer, refused the protocol, or answered nonsense: find a gateway again. */
export class GatewayError extends Error {
  override name = 'GatewayError';
}

/** The gateway answered and refused this one mapping (conflict, not authorized, ...). */
export class MappingError extends Error {
  override name = 'MappingError';
  constructor(message: string, readonly code?: number) {
    super(message);
  }
}

/** Finds the gateway and its protocol (portmap-finder.ts by default; tests inject their own). */
export type GatewayFinder = (signal: AbortSignal) => Promise<MappingClient>;
