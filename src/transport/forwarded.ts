import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** Loopback and the private ranges a Docker/compose network or a LAN proxy uses. */
export const DEFAULT_TRUSTED_PROXIES = ['127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'];

const MAPPED_IPV4 = /^(?:0{1,4}:){0,4}:?(?:0{1,4}:)?ffff:/i;

/** The peers whose `X-Forwarded-Proto` / `Forwarded` headers are believed. */
export class TrustedProxies {
  private readonly list = new BlockList();

  /** Each entry an address or a CIDR range, IPv4 or IPv6; throws on anything else. */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [address = '', bits] = entry.trim().split('/');
      const type = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
      const prefix = bits === undefined ? (type === 'ipv4' ? 32 : 128) : Number(bits);
      if (type === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > (type === 'ipv4' ? 32 : 128) || bits === '') {
        throw new Error(`trusted proxy ${JSON.stringify(entry)} is not an IP address or CIDR range`);
      }
      this.list.addSubnet(address, prefix, type);
    }
  }

  /** `address` as the socket reports it; an IPv4-mapped IPv6 address counts as its IPv4 address. */
  has(address: string): boolean {
    if (isIPv4(address)) return this.list.check(address, 'ipv4');
    if (!isIPv6(address)) return false;
    const mapped = mappedIPv4(address);
    return mapped === undefined ? this.list.check(address, 'ipv6') : this.list.check(mapped, 'ipv4');
  }
}

function mappedIPv4(address: string): string | undefined {
  const match = MAPPED_IPV4.exec(address);
  if (!match) return undefined;
  const rest = address.slice(match[0].length);
  if (isIPv4(rest)) return rest;
  // Hex form, as some stacks print it: ffff:7f00:1.
  const groups = rest.split(':');
  if (groups.length !== 2) return undefined;
  const high = parseInt(groups[0]!, 16);
  const low = parseInt(groups[1]!, 16);
  if (!(high >= 0 && high <= 0xffff && low >= 0 && low <= 0xffff)) return undefined;
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}

/**
 * Whether a trusted proxy says the client reached it over TLS. Each header names the client-facing
 * hop first; a request carrying both must have both say https, so a client cannot add the one
 * header its proxy does not overwrite.
 */
export function forwardedHttps(xForwardedProto: string, forwarded: string): boolean {
  const fromX = xForwardedProto === '' ? undefined : firstHop(xForwardedProto);
  const fromForwarded = forwarded === '' ? undefined : forwardedProto(forwarded);
  if (fromX === undefined && fromForwarded === undefined) return false;
  return (fromX === undefined || isTls(fromX)) && (fromForwarded === undefined || isTls(fromForwarded));
}

const isTls = (proto: string) => proto === 'https' || proto === 'wss';

const firstHop = (list: string) => list.split(',')[0]!.trim().toLowerCase();

/** RFC 7239: `Forwarded: for=…;proto=https, for=…` → the first element's proto, '' when it has none. */
function forwardedProto(header: string): string {
  for (const pair of header.split(',')[0]!.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1 || pair.slice(0, eq).trim().toLowerCase() !== 'proto') continue;
    return pair.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
  }
  return '';
}
