import { describe, it, expect } from 'vitest';
import nacl from 'tweetnacl';
import { createHmac } from 'node:crypto';
import {
  channelSignatureInput,
  hmacSha256Hex,
  md5Hex,
  safeEqual,
  sharedSecretFor,
  signChannel,
  signUser,
  userSignatureInput,
  verifyAuthToken,
  webhookSignature,
} from '../../protocol/signing.js';
import { channelEvent, parseChannelData, parseClientFrame, parseUserData, signinSuccess } from '../../protocol/frames.js';
import { vectors } from './vectors.js';

const { key, secret } = vectors.app;

function subscribeOf(frame: object) {
  const result = parseClientFrame(JSON.stringify(frame));
  if (!result.ok || result.frame.kind !== 'subscribe') throw new Error('expected a subscribe frame');
  return result.frame;
}

describe('channel_auth vectors (section 5.2)', () => {
  for (const v of vectors.channel_auth) {
    describe(`${v.socket_id} ${v.channel_name}`, () => {
      it('builds the string to sign and signature', () => {
        expect(channelSignatureInput(v.socket_id, v.channel_name)).toBe(v.string_to_sign);
        expect(hmacSha256Hex(secret, v.string_to_sign)).toBe(v.signature);
        expect(signChannel(key, secret, v.socket_id, v.channel_name)).toBe(v.expected_auth);
      });

      it('verifies the subscribe frame the client sends', () => {
        const frame = subscribeOf(v.subscribe_frame);
        expect(frame.channel).toBe(v.channel_name);
        expect(frame.channelData).toBeUndefined();
        const input = channelSignatureInput(v.socket_id, frame.channel, frame.channelData);
        expect(verifyAuthToken(frame.auth, key, secret, input)).toEqual({ ok: true });
      });

      it('rejects the token for another socket id', () => {
        const input = channelSignatureInput(v.socket_id + '1', v.channel_name);
        expect(verifyAuthToken(v.expected_auth, key, secret, input)).toEqual({ ok: false, message: 'Invalid signature' });
      });
    });
  }
});

describe('presence_auth vectors (section 5.3)', () => {
  for (const v of vectors.presence_auth) {
    if (v.negative) {
      it(`rejects re-serialised channel_data ${v.channel_data}`, () => {
        const frame = subscribeOf({ event: 'pusher:subscribe', data: { auth: v.auth, channel_data: v.channel_data, channel: v.channel_name } });
        const input = channelSignatureInput(v.socket_id, frame.channel, frame.channelData);
        expect(verifyAuthToken(frame.auth, key, secret, input)).toEqual({ ok: false, message: 'Invalid signature' });
      });
      continue;
    }
    describe(`${v.channel_name} ${v.channel_data}`, () => {
      it('builds the string to sign and signature', () => {
        expect(channelSignatureInput(v.socket_id, v.channel_name, v.channel_data)).toBe(v.string_to_sign);
        expect(hmacSha256Hex(secret, v.string_to_sign)).toBe(v.signature);
        expect(signChannel(key, secret, v.socket_id, v.channel_name, v.channel_data)).toBe(v.expected_auth);
      });

      it('verifies the subscribe frame over the exact channel_data string', () => {
        const frame = subscribeOf(v.subscribe_frame);
        expect(frame.channelData).toBe(v.channel_data);
        const input = channelSignatureInput(v.socket_id, frame.channel, frame.channelData);
        expect(verifyAuthToken(frame.auth, key, secret, input)).toEqual({ ok: true });
      });

      it('parses the member and stringifies its user id', () => {
        const expected = JSON.parse(v.channel_data) as { user_id: string | number; user_info?: unknown };
        expect(parseChannelData(v.channel_data)).toEqual({ ok: true, userId: String(expected.user_id), userInfo: expected.user_info });
      });

      it('does not verify with the private (no channel_data) form', () => {
        const input = channelSignatureInput(v.socket_id, v.channel_name);
        expect(verifyAuthToken(v.expected_auth, key, secret, input).ok).toBe(false);
      });
    });
  }

  it('"Mr. Channels" and "Mr. Pusher" have the signatures given in the vectors, not the doc erratum', () => {
    const [pusher, channels] = vectors.presence_auth;
    expect(pusher && !pusher.negative && pusher.signature).toMatch(/^afaed369/);
    expect(channels && !channels.negative && channels.signature).toMatch(/^31935e7d/);
  });
});

describe('user_auth vectors (section 5.4)', () => {
  for (const v of vectors.user_auth) {
    describe(v.user_data, () => {
      it('builds the string to sign and signature', () => {
        expect(userSignatureInput(v.socket_id, v.user_data)).toBe(v.string_to_sign);
        expect(hmacSha256Hex(secret, v.string_to_sign)).toBe(v.signature);
        expect(signUser(key, secret, v.socket_id, v.user_data)).toBe(v.expected_auth);
      });

      it('verifies the signin frame and echoes user_data in signin_success', () => {
        const result = parseClientFrame(JSON.stringify(v.signin_frame));
        if (!result.ok || result.frame.kind !== 'signin') throw new Error('expected a signin frame');
        const { auth, userData } = result.frame;
        expect(userData).toBe(v.user_data);
        expect(verifyAuthToken(auth, key, secret, userSignatureInput(v.socket_id, userData))).toEqual({ ok: true });
        expect(JSON.parse(signinSuccess(userData))).toEqual(v.expected_server_reply);
      });

      it('parses user_data', () => {
        const expected = JSON.parse(v.user_data) as { id: string; user_info?: unknown; watchlist?: string[] };
        expect(parseUserData(v.user_data)).toEqual({
          ok: true,
          id: expected.id,
          userInfo: expected.user_info,
          watchlist: expected.watchlist ?? [],
        });
      });

      it('is not interchangeable with a channel signature', () => {
        const input = channelSignatureInput(v.socket_id, v.user_data);
        expect(verifyAuthToken(v.expected_auth, key, secret, input).ok).toBe(false);
      });
    });
  }
});

describe('encrypted_channel vectors (section 5.5)', () => {
  for (const v of vectors.encrypted_channel) {
    it(`derives the shared secret for ${v.channel_name}`, () => {
      expect(sharedSecretFor(v.channel_name, v.encryption_master_key_base64)).toBe(v.shared_secret_base64);
    });

    it('uses the plain private signature', () => {
      expect(channelSignatureInput(v.socket_id, v.channel_name)).toBe(v.auth_string_to_sign);
      expect(signChannel(key, secret, v.socket_id, v.channel_name)).toBe(v.expected_auth);
      const frame = subscribeOf(v.subscribe_frame);
      expect(verifyAuthToken(frame.auth, key, secret, channelSignatureInput(v.socket_id, frame.channel))).toEqual({ ok: true });
    });

    it('the example ciphertext opens with the derived secret', () => {
      const sharedKey = Buffer.from(sharedSecretFor(v.channel_name, v.encryption_master_key_base64), 'base64');
      const e = v.example_event;
      const plain = nacl.secretbox.open(
        Buffer.from(e.ciphertext_base64, 'base64'),
        Buffer.from(e.nonce_base64, 'base64'),
        sharedKey,
      );
      expect(plain).not.toBeNull();
      expect(Buffer.from(plain as Uint8Array).toString('utf8')).toBe(e.plaintext_json);
    });

    it('the REST data field is forwarded untouched', () => {
      const field = v.example_event.http_event_data_field;
      const frame = channelEvent('e', v.channel_name, JSON.stringify(field));
      expect(JSON.parse(frame).data).toBe(field);
    });
  }
});

describe('webhook_signature vectors (section 7)', () => {
  for (const v of vectors.webhook_signature) {
    it(v.body.slice(0, 60), () => {
      expect(v.headers['X-Pusher-Key']).toBe(key);
      expect(webhookSignature(secret, v.body)).toBe(v.headers['X-Pusher-Signature']);
    });
  }
});

describe('verifyAuthToken', () => {
  const input = '1234.1234:private-foobar';
  const good = signChannel(key, secret, '1234.1234', 'private-foobar');
  const hex = good.slice(key.length + 1);

  it.each([
    ['missing', undefined, 'Invalid auth format'],
    ['empty (pusher-js public form)', '', 'Invalid auth format'],
    ['no separator', hex, 'Invalid auth format'],
    ['no key', ':' + hex, 'Invalid auth format'],
    ['no signature', key + ':', 'Invalid auth format'],
    ['other key', 'otherkey:' + hex, 'Invalid key in subscription auth data'],
    ['uppercase hex', key + ':' + hex.toUpperCase(), 'Invalid signature'],
    ['truncated', good.slice(0, -1), 'Invalid signature'],
    ['extra char', good + '0', 'Invalid signature'],
    ['trailing space', good + ' ', 'Invalid signature'],
  ])('%s → %s', (_, auth, message) => {
    expect(verifyAuthToken(auth, key, secret, input)).toEqual({ ok: false, message });
  });

  it('accepts the exact token', () => {
    expect(verifyAuthToken(good, key, secret, input)).toEqual({ ok: true });
  });

  it('rejects a token signed with another secret', () => {
    expect(verifyAuthToken(signChannel(key, 'other', '1234.1234', 'private-foobar'), key, secret, input).ok).toBe(false);
  });
});

describe('primitives', () => {
  it('safeEqual compares exact bytes and tolerates length mismatch', () => {
    expect(safeEqual('', '')).toBe(true);
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'ab')).toBe(false);
    expect(safeEqual('ab', 'abc')).toBe(false);
    expect(safeEqual('\u00e9', 'ab')).toBe(false);
    expect(safeEqual('\u00e9', '\u00e9')).toBe(true);
  });

  it('md5Hex hashes strings and bytes identically', () => {
    expect(md5Hex('{}')).toBe('99914b932bd37a50b983c5e7c90ae93b');
    expect(md5Hex(new TextEncoder().encode('{}'))).toBe('99914b932bd37a50b983c5e7c90ae93b');
  });

  it('signatures are lowercase hex', () => {
    expect(hmacSha256Hex(secret, 'x')).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('hmacSha256Hex matches node:crypto createHmac', () => {
  it('for keys shorter, equal to and longer than a block, and messages of every size class', () => {
    const secrets = ['', 'k', 'x'.repeat(63), 'y'.repeat(64), 'z'.repeat(65), 'é-ключ-🔑'.repeat(12)];
    // Same-length runs, and sizes either side of the 1 KiB the message buffer starts with.
    const messages = ['', 'a', 'b', 'POST\n/apps/3/events\nauth_key=k', 'ü€🔑'.repeat(40), 'a'.repeat(400), 'b'.repeat(400)];
    messages.push('€'.repeat(341), '€'.repeat(342), 'm'.repeat(5000), 'short again', 'short again');
    for (const secret of secrets) {
      for (const message of messages) {
        expect(hmacSha256Hex(secret, message)).toBe(createHmac('sha256', secret).update(message).digest('hex'));
      }
    }
  });
});
