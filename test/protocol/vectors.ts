import { readFileSync } from 'node:fs';

interface Frame {
  event: string;
  data: Record<string, string>;
}

export interface ChannelAuthVector {
  socket_id: string;
  channel_name: string;
  string_to_sign: string;
  signature: string;
  expected_auth: string;
  subscribe_frame: Frame;
}

export type PresenceAuthVector =
  | (ChannelAuthVector & { negative?: false; channel_data: string })
  | { negative: true; socket_id: string; channel_name: string; channel_data: string; auth: string };

export interface UserAuthVector {
  socket_id: string;
  user_data: string;
  string_to_sign: string;
  signature: string;
  expected_auth: string;
  signin_frame: Frame;
  expected_server_reply: Frame;
}

export interface EncryptedChannelVector {
  encryption_master_key_base64: string;
  channel_name: string;
  socket_id: string;
  shared_secret_base64: string;
  auth_string_to_sign: string;
  expected_auth: string;
  subscribe_frame: Frame;
  example_event: {
    plaintext_json: string;
    nonce_base64: string;
    ciphertext_base64: string;
    http_event_data_field: string;
  };
}

export interface RestSignatureVector {
  method: string;
  path: string;
  query_params: Record<string, string>;
  body: string | null;
  auth_timestamp: number;
  body_md5: string | null;
  string_to_sign: string;
  auth_signature: string;
  library_query_string: string;
  full_url?: string;
}

export interface RestVerificationCase {
  description: string;
  method: string;
  path: string;
  body?: string;
  raw_query: string;
  server_now: number;
  expected: string;
}

export interface Vectors {
  app: { app_id: string; key: string; secret: string };
  channel_auth: ChannelAuthVector[];
  presence_auth: PresenceAuthVector[];
  user_auth: UserAuthVector[];
  encrypted_channel: EncryptedChannelVector[];
  rest_signature: RestSignatureVector[];
  body_md5: { body: string; body_md5: string | null }[];
  webhook_signature: { body: string; headers: Record<string, string> }[];
  rest_verification_cases: RestVerificationCase[];
}

export const vectors: Vectors = JSON.parse(readFileSync(new URL('../data/vectors.json', import.meta.url), 'utf8'));
