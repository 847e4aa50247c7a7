// The round-trip-time model of the mainline benchmark: every pair of endpoints has one RTT, drawn once
// from a log-normal distribution and stable for the run (a hash of the two addresses, not a stream of
// random numbers, so both directions and every later datagram of the pair agree without a table).
// Log-normal because measured internet RTTs are right-skewed with a long tail; its two parameters are
// fixed by the two published figures of the live Mainline DHT (Jimenez, Osmani & Knutsson, IEEE P2P
// 2011): median 175 ms, p98 about 1.1 s. So mu = ln(175) and sigma = ln(1100/175) / z(0.98) = 0.895.
// Each datagram of the pair waits half the RTT (the one-way delay) in the simulator.

export const RTT_MEDIAN_MS = 175;
export const RTT_P98_MS = 1100;
/** z of the 98th percentile of the standard normal distribution */
const Z98 = 2.0537489;
export const RTT_SIGMA = Math.log(RTT_P98_MS / RTT_MEDIAN_MS) / Z98;
/** bounds of a drawn RTT: a LAN-like floor, and a ceiling far in the tail (p99.99 is about 4.2 s) */
const MIN_RTT_MS = 5;
const MAX_RTT_MS = 8000;

/** Inverse of the standard normal CDF (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** One 32-bit key per endpoint (IPv4 address and port). */
export function endpointKey(ip: string, port: number): number {
  const [a, b, c, d] = ip.split('.').map(Number) as [number, number, number, number];
  return mix32((((a << 24) | (b << 16) | (c << 8) | d) >>> 0) ^ Math.imul(port, 0x9e3779b1));
}

/** The RTT quantile of a pair: uniform in (0, 1), the same whichever end asks. */
function pairUniform(a: number, b: number, seed: number): number {
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  const h = mix32(mix32(lo ^ seed) ^ Math.imul(hi, 0x85ebca6b));
  return (h + 0.5) / 4294967296;
}

/** RTT in ms of the pair of endpoints (keys from endpointKey), log-normal(ln 175, 0.895). */
export function pairRttMs(a: number, b: number, seed: number): number {
  const z = normalQuantile(pairUniform(a, b, seed));
  return Math.min(MAX_RTT_MS, Math.max(MIN_RTT_MS, Math.exp(Math.log(RTT_MEDIAN_MS) + RTT_SIGMA * z)));
}

/** The model's own quantile (for the report): the RTT below which a share p of pairs lie. */
export function modelQuantileMs(p: number): number {
  return Math.exp(Math.log(RTT_MEDIAN_MS) + RTT_SIGMA * normalQuantile(p));
}
