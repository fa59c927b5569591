/**
 * Herald's calls to the app (auth endpoint, user endpoint): a fixed URL from the config, never a
 * host from the client; a timeout; redirects not followed (Laravel answers a guest with one); TLS
 * verified (fetch's default); the answer read up to a size bound.
 */
export type AppReply = { ok: true; status: number; body: string } | { ok: false; status: number; message: string };

/** Larger answers are not an auth or user reply. */
const MAX_REPLY_BYTES = 64 * 1024;

export async function callApp(
  url: string,
  init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string },
  timeoutMs: number,
  cancel?: AbortSignal,
): Promise<AppReply> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = cancel ? AbortSignal.any([timeout, cancel]) : timeout;
  let response: Response;
  try {
    response = await fetch(url, { ...init, redirect: 'manual', signal });
  } catch (err) {
    if (timeout.aborted) return { ok: false, status: 504, message: `${url} did not answer within ${timeoutMs} ms` };
    return { ok: false, status: 502, message: `${url} unreachable: ${(err as Error).message}` };
  }
  try {
    const body = await readBounded(response);
    if (body === undefined) return { ok: false, status: 502, message: `${url} answered more than ${MAX_REPLY_BYTES} bytes` };
    if (response.status < 200 || response.status > 299) return { ok: false, status: response.status, message: `${url} answered ${response.status}` };
    return { ok: true, status: response.status, body };
  } catch (err) {
    return { ok: false, status: timeout.aborted ? 504 : 502, message: `${url} reply failed: ${(err as Error).message}` };
  }
}

async function readBounded(response: Response): Promise<string | undefined> {
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.byteLength;
    if (size > MAX_REPLY_BYTES) {
      await response.body.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
