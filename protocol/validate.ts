import type { z } from 'zod';

export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

/**
 * Validates `input` and turns the first zod issue into a one-line message for a
 * `pusher:error` frame. Schemas carry short custom errors ("must be a string") so
 * the message reads "Invalid <label>: <field> must be a string".
 */
export function check<T>(schema: z.ZodType<T>, input: unknown, label: string): Checked<T> {
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join('.') + ' ' : '';
  return { ok: false, message: `Invalid ${label}: ${field}${issue?.message ?? 'malformed'}` };
}

/** Payloads such as channel_data arrive as JSON text inside a JSON string. */
export function checkJson<T>(schema: z.ZodType<T>, raw: string, label: string): Checked<T> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { ok: false, message: `Invalid ${label}: not valid JSON` };
  }
  return check(schema, parsed, label);
}
