import { createHash } from 'node:crypto';
import { hmacSha256Hex, safeEqual } from './hmac.js';
export { hmacSha256Hex, md5Hex, safeEqual } from './hmac.js';
export * from './query.js';
export * from './rest-auth.js';
export function channelSignatureInput(socketId, channel, channelData) {
    return channelData === undefined ? socketId + ':' + channel : socketId + ':' + channel + ':' + channelData;
}
export function userSignatureInput(socketId, userData) {
    return socketId + '::user::' + userData;
}
export function signChannel(key, secret, socketId, channel, channelData) {
    return key + ':' + hmacSha256Hex(secret, channelSignatureInput(socketId, channel, channelData));
}
export function signUser(key, secret, socketId, userData) {
    return key + ':' + hmacSha256Hex(secret, userSignatureInput(socketId, userData));
}
const AUTH_OK = Object.freeze({ ok: true });
const fail = (message) => Object.freeze({ ok: false, message });
const BAD_FORMAT = fail('Invalid auth format');
const BAD_KEY = fail('Invalid key in subscription auth data');
const BAD_SIGNATURE = fail('Invalid signature');
/**
 * `stringToSign` must be built from the strings exactly as received: channel_data
 * and user_data whitespace and key order are part of the signed bytes (section 5).
 */
export function verifyAuthToken(auth, key, secret, stringToSign) {
    if (auth === undefined)
        return BAD_FORMAT;
    // The hex part never contains ':', so splitting at the last one tolerates odd keys.
    const sep = auth.lastIndexOf(':');
    if (sep <= 0 || sep === auth.length - 1)
        return BAD_FORMAT;
    if (auth.slice(0, sep) !== key)
        return BAD_KEY;
    return safeEqual(auth.slice(sep + 1), hmacSha256Hex(secret, stringToSign)) ? AUTH_OK : BAD_SIGNATURE;
}
/** `X-Pusher-Signature` over the exact body bytes sent (section 7). */
export function webhookSignature(secret, body) {
    return hmacSha256Hex(secret, body);
}
/** Per-channel key for `private-encrypted-` channels (section 5.5); only auth endpoints need it. */
export function sharedSecretFor(channel, masterKeyBase64) {
    return createHash('sha256')
        .update(Buffer.from(channel, 'utf8'))
        .update(Buffer.from(masterKeyBase64, 'base64'))
        .digest('base64');
}
