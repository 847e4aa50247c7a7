// UPnP IGD client for the port mapper: SSDP search, the device description, and the three SOAP actions we
// use (GetExternalIPAddress, AddPortMapping, DeletePortMapping) on WANIPConnection:1/2 or WANPPPConnection:1.
// IGD v1 and v2 alike; a lease the gateway cannot do (725) falls back to a permanent one, a port taken by
// another host (718) is re-asked with AddAnyPortMapping on v2. Every request is bounded by its signal and
// every answer by size.
import { createSocket, type Socket } from 'node:dgram';
import { createRequire } from 'node:module';
import { networkInterfaces } from 'node:os';
import type { XMLParser } from 'fast-xml-parser';
import { GatewayError, MappingError, type MapRequest, type MapResult, type MappingClient, type UnmapRequest } from './portmap-types.js';
import { bindUdp } from '../util/bind.js';

const SSDP_ADDRESS = '239.255.255.250';
const SSDP_PORT = 1900;
const SEARCH_TARGETS = ['urn:schemas-upnp-org:device:InternetGatewayDevice:1', 'urn:schemas-upnp-org:device:InternetGatewayDevice:2'];
/** in order of preference */
const SERVICES = ['urn:schemas-upnp-org:service:WANIPConnection:2', 'urn:schemas-upnp-org:service:WANIPConnection:1', 'urn:schemas-upnp-org:service:WANPPPConnection:1'];
const MAX_BODY = 256 * 1024;

// ---------------------------------------------------------------- parsing (pure)

export function parseSsdpResponse(text: string): { location: string; st: string; usn: string } | null {
  const lines = text.split(/\r?\n/);
  if (!/^HTTP\/1\.[01] 200\b/i.test(lines[0] ?? '')) return null;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  const location = headers.get('location');
  if (!location || !/^https?:\/\//i.test(location)) return null;
  return { location, st: headers.get('st') ?? '', usn: headers.get('usn') ?? '' };
}

const ESCAPES: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' };

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ESCAPES[c]!);
}

// Gateways answer with namespaced SOAP and device descriptions; only local names matter to us. The parser
// loads when the first gateway answers the SSDP search: a host with no UPnP gateway (most servers) never
// pays its ~2 MB of resident memory.
let xmlParser: XMLParser | null = null;
function parser(): XMLParser {
  if (!xmlParser) {
    const { XMLParser: Parser } = createRequire(import.meta.url)('fast-xml-parser') as typeof import('fast-xml-parser');
    xmlParser = new Parser({ removeNSPrefix: true, ignoreAttributes: true, parseTagValue: false, trimValues: true, processEntities: true });
  }
  return xmlParser;
}

type XmlNode = string | XmlNode[] | { [key: string]: XmlNode };

function parseXml(xml: string): XmlNode | undefined {
  try {
    return parser().parse(xml) as XmlNode;
  } catch {
    return undefined;
  }
}

/** Every element with this local name, depth first, in document order. */
function findAll(node: XmlNode | undefined, name: string, out: XmlNode[] = []): XmlNode[] {
  if (node === undefined || typeof node === 'string') return out;
  if (Array.isArray(node)) {
    for (const child of node) findAll(child, name, out);
    return out;
  }
  for (const [key, value] of Object.entries(node)) {
    if (key === name) out.push(...(Array.isArray(value) ? value : [value]));
    else findAll(value, name, out);
  }
  return out;
}

const textOf = (node: XmlNode | undefined): string | undefined => (typeof node === 'string' ? node : node === undefined ? undefined : '');

/** Text of the first element with this local name (any namespace prefix), or undefined. */
export function xmlText(xml: string, name: string): string | undefined {
  return textOf(findAll(parseXml(xml), name)[0]);
}

/** The WAN connection service of a device description, preferring WANIPConnection:2, with its absolute control URL. */
export function parseDescription(xml: string, location: string): { serviceType: string; controlUrl: string } | null {
  const doc = parseXml(xml);
  const base = textOf(findAll(doc, 'URLBase')[0]) || location;
  const found: { serviceType: string; controlUrl: string }[] = [];
  for (const service of findAll(doc, 'service')) {
    const serviceType = textOf(findAll(service, 'serviceType')[0]);
    const control = textOf(findAll(service, 'controlURL')[0]);
    if (!serviceType || !control || !SERVICES.includes(serviceType)) continue;
    let url: URL;
    try {
      url = new URL(control, base);
    } catch {
      continue;
    }
    if (url.protocol !== 'http:') continue;
    found.push({ serviceType, controlUrl: url.toString() });
  }
  found.sort((a, b) => SERVICES.indexOf(a.serviceType) - SERVICES.indexOf(b.serviceType));
  return found[0] ?? null;
}

export function soapEnvelope(serviceType: string, action: string, args: [string, string | number][]): string {
  const inner = args.map(([k, v]) => `<${k}>${escapeXml(String(v))}</${k}>`).join('');
  return (
    '<?xml version="1.0"?>\r\n' +
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">' +
    `<s:Body><u:${action} xmlns:u="${serviceType}">${inner}</u:${action}></s:Body></s:Envelope>\r\n`
  );
}

// ---------------------------------------------------------------- transport

async function readBody(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (declared > max) {
    await res.body?.cancel();
    throw new GatewayError(`UPnP: answer of ${declared} bytes is too large`);
  }
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw new GatewayError(`UPnP: answer larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message;
}

async function httpGet(url: string, signal: AbortSignal): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { signal, redirect: 'error' });
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    throw new GatewayError(`UPnP: cannot fetch ${url}: ${describeFetchError(err)}`);
  }
  const body = await readBody(res, MAX_BODY);
  if (!res.ok) throw new GatewayError(`UPnP: ${url}: HTTP ${res.status}`);
  return body;
}

/** The local IPv4 address the kernel would use towards host (no packet is sent). */
export function localAddressTowards(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', (err) => {
      s.close();
      reject(new GatewayError(`no route to ${host}: ${err.message}`));
    });
    s.connect(port, host, () => {
      const { address } = s.address();
      s.close();
      resolve(address);
    });
  });
}

// ---------------------------------------------------------------- client

export class UpnpClient implements MappingClient {
  readonly method = 'UPnP' as const;
  readonly gateway: string;
  externalAddress: string | null = null;
  /** the gateway answered 725 OnlyPermanentLeasesSupported once */
  permanentOnly = false;
  private readonly version: number;

  constructor(
    readonly serviceType: string,
    readonly controlUrl: string,
    /** our address as the gateway sees it: the internal client of every mapping */
    readonly internalClient: string,
  ) {
    const url = new URL(controlUrl);
    this.gateway = url.host;
    this.version = Number(/:(\d+)$/.exec(serviceType)?.[1] ?? 1);
  }

  /** Reads the description at location and makes a client for its WAN connection service. */
  static async fromLocation(location: string, signal: AbortSignal): Promise<UpnpClient> {
    const xml = await httpGet(location, signal);
    const service = parseDescription(xml, location);
    if (!service) throw new GatewayError(`UPnP: ${location} has no WANIPConnection/WANPPPConnection service`);
    const url = new URL(service.controlUrl);
    const internal = await localAddressTowards(url.hostname, Number(url.port || 80));
    const client = new UpnpClient(service.serviceType, service.controlUrl, internal);
    try {
      const ext = xmlText(await client.soap('GetExternalIPAddress', [], signal), 'NewExternalIPAddress');
      client.externalAddress = ext || null;
    } catch (err) {
      // a gateway that keeps its external address to itself can still map ports
      if (!(err instanceof MappingError)) throw err;
    }
    return client;
  }

  async map(req: MapRequest, signal: AbortSignal): Promise<MapResult> {
    const args = (externalPort: number, lease: number): [string, string | number][] => [
      ['NewRemoteHost', ''],
      ['NewExternalPort', externalPort],
      ['NewProtocol', req.protocol],
      ['NewInternalPort', req.internalPort],
      ['NewInternalClient', this.internalClient],
      ['NewEnabled', 1],
      ['NewPortMappingDescription', req.description],
      ['NewLeaseDuration', lease],
    ];
    let lease = this.permanentOnly ? 0 : req.leaseSeconds;
    const result = (externalPort: number): MapResult => ({ externalPort, leaseSeconds: lease, externalAddress: this.externalAddress ?? undefined });
    try {
      await this.soap('AddPortMapping', args(req.externalPort, lease), signal);
      return result(req.externalPort);
    } catch (err) {
      if (!(err instanceof MappingError)) throw err;
      if (err.code === 725 && lease !== 0) {
        this.permanentOnly = true;
        lease = 0;
        await this.soap('AddPortMapping', args(req.externalPort, 0), signal);
        return result(req.externalPort);
      }
      if (err.code === 718 && this.version >= 2) {
        const xml = await this.soap('AddAnyPortMapping', args(req.externalPort, lease), signal);
        const reserved = Number(xmlText(xml, 'NewReservedPort'));
        if (!Number.isInteger(reserved) || reserved < 1 || reserved > 65535) throw new GatewayError('UPnP: AddAnyPortMapping returned no port');
        return result(reserved);
      }
      throw err;
    }
  }

  async unmap(req: UnmapRequest, signal: AbortSignal): Promise<void> {
    try {
      await this.soap('DeletePortMapping', [['NewRemoteHost', ''], ['NewExternalPort', req.externalPort], ['NewProtocol', req.protocol]], signal);
    } catch (err) {
      // 714 NoSuchEntryInArray: already gone (expired, or the gateway restarted)
      if (err instanceof MappingError && err.code === 714) return;
      throw err;
    }
  }

  close(): void {
    // HTTP requests are one-shot; nothing stays open
  }

  /** One SOAP action; resolves the response body, throws MappingError for a UPnP fault. */
  async soap(action: string, args: [string, string | number][], signal: AbortSignal): Promise<string> {
    let res: Response;
    try {
      res = await fetch(this.controlUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'text/xml; charset="utf-8"', SOAPAction: `"${this.serviceType}#${action}"` },
        body: soapEnvelope(this.serviceType, action, args),
        signal,
        redirect: 'error',
      });
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw new GatewayError(`UPnP: ${action}: ${describeFetchError(err)}`);
    }
    const body = await readBody(res, MAX_BODY);
    if (res.ok) return body;
    const code = xmlText(body, 'errorCode');
    if (code !== undefined && /^\d+$/.test(code)) {
      throw new MappingError(`UPnP: ${action}: ${code} ${xmlText(body, 'errorDescription') ?? ''}`.trim(), Number(code));
    }
    throw new GatewayError(`UPnP: ${action}: HTTP ${res.status}`);
  }
}

// ---------------------------------------------------------------- discovery

function multicastInterfaces(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) {
      if (i.family === 'IPv4' && !i.internal && !i.address.startsWith('169.254.')) out.push(i.address);
    }
  }
  return out;
}

export interface UpnpDiscoveryOptions {
  /** how long to listen for SSDP answers */
  waitMs?: number;
  /** M-SEARCH rounds, one a second (UDP may lose one) */
  rounds?: number;
}

/** A UDP socket bound to address (port 0), sending multicast out of that address's interface. */
async function searchSocket(address: string | null): Promise<Socket> {
  const socket = await bindUdp(createSocket({ type: 'udp4' }), { port: 0, address: address ?? '0.0.0.0', onError: () => undefined });
  try {
    if (address) socket.setMulticastInterface(address);
  } catch (err) {
    socket.close();
    throw err;
  }
  return socket;
}

/**
 * SSDP search for an Internet Gateway Device from every IPv4 interface (one socket each: a socket sends
 * multicast out of one interface); the first that answers with a usable description wins. Throws
 * GatewayError saying why when none did within waitMs.
 */
export async function findUpnpGateway(signal: AbortSignal, options: UpnpDiscoveryOptions = {}): Promise<UpnpClient> {
  const waitMs = options.waitMs ?? 2500;
  const rounds = options.rounds ?? 2;
  signal.throwIfAborted();
  const interfaces = multicastInterfaces();
  const sockets: Socket[] = [];
  const timers: NodeJS.Timeout[] = [];
  const seen = new Set<string>();
  let lastError: Error | null = null;
  try {
    for (const address of interfaces.length ? interfaces : [null]) {
      try {
        sockets.push(await searchSocket(address));
      } catch (err) {
        lastError = new GatewayError(`UPnP: cannot search from ${address ?? 'any address'}: ${(err as Error).message}`);
      }
    }
    if (sockets.length === 0) throw lastError!;
    lastError = null;
    const found = await new Promise<UpnpClient | null>((resolve) => {
      let done = false;
      let inFlight = 0;
      let listening = true;
      const finish = (client: UpnpClient | null) => {
        if (done) {
          client?.close();
          return;
        }
        done = true;
        signal.removeEventListener('abort', onAbort);
        resolve(client);
      };
      const onAbort = () => finish(null);
      signal.addEventListener('abort', onAbort, { once: true });
      const maybeEnd = () => {
        if (!listening && inFlight === 0) finish(null);
      };
      const onMessage = (msg: Buffer) => {
        const answer = parseSsdpResponse(msg.toString('latin1'));
        if (!answer || done || seen.has(answer.location)) return;
        if (!/InternetGatewayDevice|WANIPConnection|WANPPPConnection/.test(answer.st + answer.usn)) return;
        seen.add(answer.location);
        inFlight++;
        UpnpClient.fromLocation(answer.location, signal).then(
          (client) => finish(client),
          (err: Error) => {
            lastError = err;
            inFlight--;
            maybeEnd();
          },
        );
      };
      for (const socket of sockets) socket.on('message', onMessage);
      const search = () => {
        for (const socket of sockets) {
          for (const st of SEARCH_TARGETS) {
            const packet = Buffer.from(`M-SEARCH * HTTP/1.1\r\nHOST: ${SSDP_ADDRESS}:${SSDP_PORT}\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: ${st}\r\n\r\n`);
            socket.send(packet, SSDP_PORT, SSDP_ADDRESS, () => undefined);
          }
        }
      };
      for (let round = 0; round < rounds; round++) timers.push(setTimeout(search, round * 1000));
      timers.push(
        setTimeout(() => {
          listening = false;
          maybeEnd();
        }, waitMs),
      );
    });
    signal.throwIfAborted();
    if (found) return found;
    if (lastError) throw lastError;
    throw new GatewayError(`UPnP: no gateway answered the SSDP search within ${waitMs} ms`);
  } finally {
    for (const t of timers) clearTimeout(t);
    for (const socket of sockets) socket.close();
  }
}
