import { hmacSha256Hex, md5Hex, safeEqual } from './hmac.js';
import { encodeQueryComponent, parseSignedQuery } from './query.js';
const AUTH_VERSION = '1.0';
/** `METHOD\npath\nk=v&…`: keys lowercased and sorted, auth_signature excluded, values unescaped. */
export function restStringToSign(method, path, params) {
    return stringToSign(method, path, canonicalQuery(params));
}
function stringToSign(method, path, canonicalQuery) {
    return method.toUpperCase() + '\n' + path + '\n' + canonicalQuery;
}
function canonicalQuery(params) {
    const lowered = Object.create(null);
    for (const key in params) {
        const lower = key.toLowerCase();
        if (lower !== 'auth_signature')
            lowered[lower] = params[key];
    }
    // Default sort compares UTF-16 code units, i.e. by key alone: `a` before `a-b`.
    let query = '';
    for (const key of Object.keys(lowered).sort())
        query += (query === '' ? '' : '&') + key + '=' + lowered[key];
    return query;
}
/**
 * Section 6.8. The caller strips any deployment prefix from `path`; we try the path
 * as received first, then its percent-decoded form, since clients differ in which
 * one they sign.
 */
export function verifyRestRequest(req, app, nowSeconds, windowSeconds) {
    const checked = checkSignedQuery(req.rawQuery, app, nowSeconds, windowSeconds);
    return checked.ok ? verifySignedRequest(checked.query, req, app.secret) : checked;
}
/**
 * The checks of section 6.8 that need no body: an unambiguous query (400 otherwise), the key,
 * version and timestamp, and a signature to check later (401 otherwise). Run before the body
 * arrives, so a caller that cannot succeed is answered without buffering its body.
 */
export function checkSignedQuery(rawQuery, app, nowSeconds, windowSeconds) {
    const query = parseSignedQuery(rawQuery);
    if (!query.ok)
        return { ok: false, status: 400, error: query.error };
    const { params } = query;
    const key = params.auth_key;
    if (key === undefined)
        return deny('Missing auth_key');
    if (key !== app.key)
        return deny(`Unknown auth_key: ${key}`);
    if (params.auth_version !== AUTH_VERSION)
        return deny(`Unsupported auth_version (expected ${AUTH_VERSION})`);
    const timestamp = params.auth_timestamp;
    if (timestamp === undefined || !/^\d+$/.test(timestamp))
        return deny('Missing or invalid auth_timestamp');
    const now = Math.floor(nowSeconds);
    if (Math.abs(now - Number(timestamp)) > windowSeconds) {
        return deny(`Timestamp expired: Given timestamp (${timestamp}) not within ${windowSeconds}s of server time (${now})`);
    }
    if (params.auth_signature === undefined)
        return deny('Missing auth_signature');
    return { ok: true, query };
}
/** The rest of section 6.8, once the body is in: body_md5, then the signature. */
export function verifySignedRequest(query, req, secret) {
    const { params } = query;
    // MD5 the raw bytes: re-serialising the JSON first would change them (escaped slashes etc.).
    const bodyMd5 = params.body_md5;
    if (bodyMd5 === undefined) {
        if (req.body.length > 0)
            return deny('Missing body_md5');
    }
    else if (bodyMd5 !== md5Hex(req.body)) {
        return deny('body_md5 does not match the request body');
    }
    const signature = params.auth_signature;
    const canonical = query.canonical ?? canonicalQuery(params);
    if (signs(signature, secret, stringToSign(req.method, req.path, canonical)))
        return { ok: true, params };
    const decoded = decodePath(req.path);
    if (decoded !== null && signs(signature, secret, stringToSign(req.method, decoded, canonical)))
        return { ok: true, params };
    return deny('Invalid signature');
}
function signs(signature, secret, text) {
    return safeEqual(signature, hmacSha256Hex(secret, text));
}
function deny(error) {
    return { ok: false, status: 401, error };
}
function decodePath(path) {
    if (!path.includes('%'))
        return null;
    try {
        return decodeURIComponent(path);
    }
    catch {
        return null;
    }
}
/** Client side of section 6.8, as the official SDKs build it; used by tests and benchmarks. */
export function signRestQuery(method, path, key, secret, body, timestampSeconds, extraParams = {}) {
    const params = {
        ...extraParams,
        auth_key: key,
        auth_timestamp: String(timestampSeconds),
        auth_version: AUTH_VERSION,
    };
    if (body.length > 0)
        params.body_md5 = md5Hex(body);
    const signature = hmacSha256Hex(secret, restStringToSign(method, path, params));
    const query = Object.entries(params)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => encodeQueryComponent(k) + '=' + encodeQueryComponent(v))
        .join('&');
    return query + '&auth_signature=' + signature;
}
